"""Refresh docs/images/strain_widget.png: the Strain mapping widget after a clicked Run (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/strain_screenshot.py

Opens the widget from napari's plugin menu entry on a simulated strained-precipitate scan, shows the
disks of one pattern, draws the reference rectangle, clicks Run with the mouse and saves the window.
"""

from __future__ import annotations

from pathlib import Path

import napari
import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

IMAGES = Path(__file__).parent / "images"


def settle(widget=None):
    if widget is not None:
        widget.tasks.wait(600000)
    for _ in range(30):
        QApplication.processEvents()


def main():
    from stemlab.plugin.layers import image_layer_data
    from stemlab.simulate.strain import strained_scan

    ds, _ = strained_scan((24, 24), 128, dose=1e5, seed=1, disk_radius=4.0, g_px=16.0)
    viewer = napari.Viewer(show=True, title="napari-stemlab: strain mapping")
    viewer.window._qt_window.resize(1500, 950)
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Strain mapping")
    widget.device.value = "cpu"
    QTest.mouseClick(widget.show_disks.native, Qt.LeftButton)
    settle()
    QTest.mouseClick(widget.draw_reference.native, Qt.LeftButton)
    viewer.layers["strain reference"].add_rectangles(np.array([[-0.4, -0.4], [2.4, 23.4]]))
    viewer.layers["strain reference"].mode = "pan_zoom"
    QTest.mouseClick(widget.run_button.native, Qt.LeftButton)
    settle(widget)
    for layer in viewer.layers:
        layer.visible = layer.name in ("strain exx (%)", "strain reference")
    viewer.layers.selection.active = viewer.layers["strain exx (%)"]
    viewer.reset_view()
    settle()
    viewer.screenshot(str(IMAGES / "strain_widget.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main()
