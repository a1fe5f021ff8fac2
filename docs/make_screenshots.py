"""Refresh the widget screenshots in docs/images from the real viewer (run under Xvfb).

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/make_screenshots.py [name ...]

Does what a user does: opens a sample (File > Open Sample > STEM lab), docks each widget from
the Plugins menu (``add_plugin_dock_widget``, so it is built exactly as napari builds it),
sets the form, clicks the buttons with the mouse and waits for the run, then saves the whole
window. Names: explorer, reader, phasefield, segmentation, classification, orientation
(default: all).
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
from qtpy.QtCore import QCoreApplication, QElapsedTimer, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QPushButton

IMAGES = Path(__file__).parent / "images"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PLUGIN = "napari-stemlab"


def settle(ms: int = 400):
    """Let Qt redraw (and queued slots run) for ``ms`` milliseconds."""
    timer = QElapsedTimer()
    timer.start()
    while timer.elapsed() < ms:
        QCoreApplication.processEvents()


def wait(widget, timeout_ms: int = 1800000):
    """Process events until the widget's worker (and every docked explorer's) has ended."""
    from stemlab.plugin.tasks import TaskPanel

    window = widget.window()
    timer = QElapsedTimer()
    timer.start()
    while timer.elapsed() < timeout_ms:
        panels = window.findChildren(TaskPanel)
        if not any(p.busy or p._running for p in panels):
            break
        QCoreApplication.processEvents()
    settle()


def click(widget, text: str, run: bool = True):
    """A mouse click on the button labelled ``text`` of ``widget``; waits for the run it starts."""
    button = next(b for b in widget.findChildren(QPushButton) if b.text() == text)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    if run:
        wait(widget)


def viewer_with(title: str, size=(1600, 1000)):
    viewer = napari.Viewer(show=True, title=f"napari-stemlab: {title}")
    viewer.window._qt_window.resize(*size)
    return viewer


def dock(viewer, name: str):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    settle()
    return widget


def shoot(viewer, filename: str, canvas_only: bool = False):
    settle(600)
    viewer.screenshot(str(IMAGES / filename), canvas_only=canvas_only)
    print(f"wrote {IMAGES / filename}")


def explorer_shots():
    viewer = viewer_with("4D-STEM explorer", (1500, 950))
    viewer.open_sample(PLUGIN, "4dstem")
    explorer = dock(viewer, "4D-STEM explorer")
    wait(explorer)
    click(explorer, "+ annulus")
    click(explorer, "Compute all")
    explorer.set_probe((12, 30))
    scan = explorer.scan_view.model
    for layer in scan.layers:
        layer.visible = layer.name in ("ADF image", "probe")
    viewer.reset_view()
    shoot(viewer, "explorer.png")
    for layer in scan.layers:
        layer.visible = layer.name in ("iDPC phase", "probe")
    shoot(viewer, "explorer_idpc.png")
    explorer.close()
    viewer.close()


def phasefield_shots(steps=200):
    viewer = viewer_with("phase-field fit")
    video = viewer.open_sample(PLUGIN, "video")[0]
    widget = dock(viewer, "Phase-field fit")
    widget.set(steps=steps)
    click(widget, "Run")
    viewer.dims.set_point(0, 10.0)
    shoot(viewer, "phasefield.png")
    shots = (("phasefield_input.png", lambda layer: layer is video),
             ("phasefield_order_parameter.png", lambda layer: "order parameter" in layer.name))
    for filename, shown in shots:
        for layer in viewer.layers:
            layer.visible = shown(layer)
        viewer.reset_view()
        shoot(viewer, filename, canvas_only=True)
    viewer.close()


def segmentation_shot():
    viewer = viewer_with("symmetry segmentation")
    viewer.open_sample(PLUGIN, "haadf")
    widget = dock(viewer, "Symmetry segmentation")
    click(widget, "Run")
    viewer.reset_view()
    shoot(viewer, "segmentation_widget.png")
    viewer.close()


def classification_shot():
    viewer = viewer_with("crystal classification")
    viewer.open_sample(PLUGIN, "haadf")
    widget = dock(viewer, "Crystal classification")
    click(widget, "Run")
    viewer.reset_view()
    shoot(viewer, "classification_widget.png")
    viewer.close()


def orientation_shot():
    """Orientation maps land in the explorer's scan view; the pattern shows the matched spots."""
    from stemlab.plugin.layers import image_layer_data
    from stemlab.samples import sample_4dstem

    viewer = viewer_with("orientation mapping", (1900, 1150))
    corner = sample_4dstem().subset(scan_y=slice(0, 16), scan_x=slice(0, 16))
    data, kwargs, _ = image_layer_data(corner, name="sample scan (16 x 16 corner)")
    viewer.add_image(data, **kwargs)
    explorer = dock(viewer, "4D-STEM explorer")
    wait(explorer)
    dock_widget, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Orientation mapping")
    # beside the layer list, so the explorer's scan view keeps the right-hand column's height
    viewer.window._qt_window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock_widget)
    settle()
    widget.set_phases(["Al", "alpha-Fe"])
    click(widget, "Run")
    explorer.set_probe((4, 10))
    click(widget, "Preview current pattern")
    viewer.reset_view()
    shoot(viewer, "orientation_widget.png")
    explorer.close()
    viewer.close()


def reader_shot():
    path = SHARED / "images" / "gatan_adf_se_mos2.dm3"
    if not path.exists():
        print(f"skipping reader screenshot: {path} not found", file=sys.stderr)
        return
    viewer = viewer_with("reader", (1200, 850))
    viewer.open(str(path), plugin=PLUGIN)
    viewer.canvas.overlays.scale_bar.visible = True
    shoot(viewer, "reader_mos2.png")
    viewer.close()


SHOTS = {"explorer": explorer_shots, "reader": reader_shot, "phasefield": phasefield_shots,
         "segmentation": segmentation_shot, "classification": classification_shot, "orientation": orientation_shot}

if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    for name in sys.argv[1:] or list(SHOTS):
        SHOTS[name]()
    print(f"screenshots written to {IMAGES}")
