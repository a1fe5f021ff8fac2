"""Refresh the screenshots in docs/images from the real viewer (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py

Drives the widgets exactly as a user would, on the bundled sample data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

IMAGES = Path(__file__).parent / "images"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def settle(viewer, panel=None):
    """Let workers finish and Qt redraw."""
    if panel is not None:
        panel.tasks.wait(120000)
    for _ in range(20):
        QApplication.processEvents()


def explorer_shots():
    from stemlab.plugin.explorer import ExplorerWidget

    viewer = napari.Viewer(show=True, title="napari-stemlab: 4D-STEM explorer")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-stemlab", "4dstem")
    widget = ExplorerWidget(viewer)
    viewer.window.add_dock_widget(widget, name="4D-STEM explorer", area="right")
    settle(viewer, widget)
    widget.add_detector("annulus")
    settle(viewer, widget)
    widget.compute_all()
    settle(viewer, widget)
    widget.set_probe((12, 30))
    scan = widget.scan_view.model
    for layer in scan.layers:
        layer.visible = layer.name in ("ADF image", "probe")
    settle(viewer, widget)
    viewer.reset_view()
    viewer.screenshot(str(IMAGES / "explorer.png"), canvas_only=False)
    for layer in scan.layers:
        layer.visible = layer.name in ("iDPC phase", "probe")
    settle(viewer, widget)
    viewer.screenshot(str(IMAGES / "explorer_idpc.png"), canvas_only=False)
    viewer.close()


def phasefield_shots(steps=400):
    from stemlab.plugin.layers import image_layer_data
    from stemlab.plugin.phasefield_widget import PhaseFieldWidget
    from stemlab.simulate.video import phase_transformation_video

    viewer = napari.Viewer(show=True, title="napari-stemlab: phase-field fit")
    viewer.window._qt_window.resize(1600, 1000)
    data, kwargs, _ = image_layer_data(phase_transformation_video(dose=30.0), name="HAADF video (dose 30)")
    viewer.add_image(data, **kwargs)
    widget = PhaseFieldWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Phase-field fit", area="right")
    widget.steps.setValue(steps)
    widget.run()
    settle(viewer, widget)
    viewer.dims.set_point(0, 10.0)
    viewer.canvas.overlays.scale_bar.visible = True
    shots = (("phasefield.png", lambda name: "denoised" in name or "interface" in name, False),
             ("phasefield_input.png", lambda name: name == "HAADF video (dose 30)", True),
             ("phasefield_order_parameter.png", lambda name: "order parameter" in name, True))
    for filename, shown, canvas_only in shots:
        for layer in viewer.layers:
            layer.visible = shown(layer.name)
        settle(viewer)
        viewer.reset_view()
        viewer.screenshot(str(IMAGES / filename), canvas_only=canvas_only)
    viewer.close()


def analysis_shot(widget_class, dock_name, filename, layer_data, visible):
    """Open ``layer_data`` (a LayerDataTuple), run a widget on it, keep ``visible`` layers, screenshot."""
    viewer = napari.Viewer(show=True, title=f"napari-stemlab: {dock_name}")
    viewer.window._qt_window.resize(1500, 950)
    data, kwargs, _ = layer_data
    viewer.add_image(data, **kwargs)
    widget = widget_class(viewer)
    viewer.window.add_dock_widget(widget, name=dock_name, area="right")
    widget.run()
    settle(viewer, widget)
    for layer in viewer.layers:
        layer.visible = visible(layer.name)
    viewer.canvas.overlays.scale_bar.visible = True
    settle(viewer)
    viewer.reset_view()
    viewer.screenshot(str(IMAGES / filename), canvas_only=False)
    viewer.close()


def image_analysis_shots():
    from stemlab.plugin.classify_widget import ClassifyWidget
    from stemlab.plugin.layers import image_layer_data
    from stemlab.plugin.orientation_widget import OrientationWidget
    from stemlab.plugin.segment_widget import SegmentWidget
    from stemlab.samples import sample_4dstem, sample_haadf

    haadf = image_layer_data(sample_haadf())
    analysis_shot(SegmentWidget, "Symmetry segmentation", "segmentation_widget.png", haadf,
                  lambda name: True)
    analysis_shot(ClassifyWidget, "Crystal classification", "classification_widget.png", haadf,
                  lambda name: "uncertainty" in name or name == haadf[1]["name"])
    corner = sample_4dstem().subset(scan_y=slice(0, 16), scan_x=slice(0, 16))
    orientation_shot(image_layer_data(corner, name="sample scan (16 x 16 corner)"))


def orientation_shot(layer_data):
    """Orientation maps land in the explorer's scan view; the pattern shows the matched spots."""
    from stemlab.plugin.orientation_widget import OrientationWidget

    viewer = napari.Viewer(show=True, title="napari-stemlab: orientation mapping")
    viewer.window._qt_window.resize(1700, 1000)
    data, kwargs, _ = layer_data
    layer = viewer.add_image(data, **kwargs)
    widget = OrientationWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Orientation mapping", area="right")
    widget.set_phases(["Al", "alpha-Fe"])
    widget.run()
    settle(viewer, widget)
    from stemlab.plugin.explorer import explorer_for

    explorer = explorer_for(viewer, layer)
    settle(viewer, explorer)
    for scan_layer in explorer.scan_view.model.layers:
        scan_layer.visible = scan_layer.name.endswith("IPF z") or scan_layer.name == "probe"
    explorer.set_probe((4, 10))
    widget.preview((4, 10))
    settle(viewer)
    viewer.screenshot(str(IMAGES / "orientation_widget.png"), canvas_only=False)
    explorer.close()
    viewer.close()


def reader_shots():
    path = SHARED / "images" / "gatan_adf_se_mos2.dm3"
    if not path.exists():
        print(f"skipping reader screenshot: {path} not found", file=sys.stderr)
        return
    viewer = napari.Viewer(show=True, title="napari-stemlab: reader")
    viewer.window._qt_window.resize(1200, 850)
    viewer.open(str(path), plugin="napari-stemlab")
    viewer.canvas.overlays.scale_bar.visible = True
    settle(viewer)
    viewer.screenshot(str(IMAGES / "reader_mos2.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    explorer_shots()
    reader_shots()
    phasefield_shots()
    image_analysis_shots()
    print(f"screenshots written to {IMAGES}")
