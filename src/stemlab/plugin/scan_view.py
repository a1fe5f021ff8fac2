"""The scan-space view of the explorer: a second napari canvas linked to the probe position.

The main viewer shows the diffraction pattern (reciprocal space, the 4D layer with the scan
axes as sliders); this view shows scan-space images (virtual detectors, centre of mass) and
a cross at the probe position. Click or drag here, or press the arrow keys, to move the
probe; moving the main viewer's sliders moves the cross.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from napari.components import ViewerModel
from napari.qt import QtViewer
from qtpy.QtWidgets import QSplitter, QVBoxLayout, QWidget
from qtpy.QtCore import Qt

PROBE_LAYER = "probe"


class ScanView(QWidget):
    """An embedded napari canvas for scan-space layers plus the probe marker."""

    def __init__(self, on_probe: Callable[[tuple[int, int]], None], parent=None):
        super().__init__(parent)
        self.model = ViewerModel(title="scan")
        self.qt_viewer = QtViewer(self.model)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.qt_viewer)
        splitter.addWidget(self.qt_viewer.layers)
        splitter.setSizes([320, 90])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.setMinimumHeight(320)
        self._on_probe = on_probe
        self.nav_shape: tuple[int, int] = (1, 1)
        self.nav_scale = (1.0, 1.0)
        self.nav_offset = (0.0, 0.0)
        self.nav_units = ("pixel", "pixel")
        self.nav_labels = ("scan_y", "scan_x")
        self.probe = (0, 0)
        self.model.scene.camera.mouse_pan = False  # a drag moves the probe; the wheel still zooms
        self.model.mouse_drag_callbacks.append(self._drag_probe)
        for key, step in {"Up": (-1, 0), "Down": (1, 0), "Left": (0, -1), "Right": (0, 1)}.items():
            self.model.bind_key(key, self._stepper(step), overwrite=True)

    # -- geometry ----------------------------------------------------------------------
    def set_scan(self, axes):
        """Set the scan grid from the two scan :class:`~stemlab.Axis` (size, step, origin, unit, name)."""
        from .layers import napari_units

        self.nav_shape = tuple(a.size for a in axes)
        self.nav_scale = tuple(a.scale for a in axes)
        self.nav_offset = tuple(a.offset for a in axes)
        self.nav_units = napari_units(a.units for a in axes)
        self.nav_labels = tuple(a.name for a in axes)
        for layer in self.model.layers:
            if layer.name != PROBE_LAYER:
                stride = layer.metadata.get("stride", 1)
                layer.scale = tuple(s * stride for s in self.nav_scale)
                layer.translate = self.nav_offset
                layer.units = self.nav_units
                layer.axis_labels = self.nav_labels
        self._draw_probe()

    def index_of(self, world) -> tuple[int, int]:
        """Scan index (row, col) nearest to a world position, clipped to the scan."""
        pos = np.asarray(world[-2:], float)
        idx = np.rint((pos - self.nav_offset) / self.nav_scale).astype(int)
        idx = np.clip(idx, 0, np.asarray(self.nav_shape) - 1)
        return int(idx[0]), int(idx[1])

    # -- layers ------------------------------------------------------------------------
    def show_image(self, name: str, image: np.ndarray, stride: int = 1, colormap="gray", value_units=""):
        """Add or replace the scan-space image ``name`` (a strided preview has ``stride`` > 1)."""
        scale = tuple(s * stride for s in self.nav_scale)
        if name in self.model.layers:
            layer = self.model.layers[name]
            layer.data = image
            layer.scale = scale
            layer.metadata.update(stride=stride, units=value_units)
            if stride == 1:
                layer.reset_contrast_limits()
        else:
            layer = self.model.add_image(image, name=name, scale=scale, translate=self.nav_offset,
                                         units=self.nav_units, axis_labels=self.nav_labels, colormap=colormap,
                                         metadata={"stride": stride, "units": value_units})
            self._keep_probe_on_top()
            if len(self.model.layers) <= 2:  # the first image: fit it to the canvas
                self.model.reset_view()
        return layer

    def show_layer(self, data, kwargs: dict, layer_type: str):
        """Add or replace a scan-space layer made elsewhere (e.g. orientation maps), calibrated by ``kwargs``."""
        name = kwargs["name"]
        self.remove(name)
        layer = {"image": self.model.add_image, "labels": self.model.add_labels}[layer_type](data, **kwargs)
        self._keep_probe_on_top()
        return layer

    def remove(self, name: str):
        if name in self.model.layers:
            self.model.layers.remove(name)

    def _keep_probe_on_top(self):
        if PROBE_LAYER in self.model.layers:
            layers = self.model.layers
            layers.move(layers.index(PROBE_LAYER), len(layers))

    # -- probe -------------------------------------------------------------------------
    def move_probe(self, index: tuple[int, int]):
        """Draw the cross at scan index (row, col); does not notify (the caller drives)."""
        self.probe = (int(index[0]), int(index[1]))
        self._draw_probe()

    def _draw_probe(self):
        point = np.array([[self.probe[0], self.probe[1]]], float)
        if PROBE_LAYER in self.model.layers:
            layer = self.model.layers[PROBE_LAYER]
            layer.data = point
            layer.scale = self.nav_scale
            layer.translate = self.nav_offset
            layer.units = self.nav_units
        else:
            self.model.add_points(point, name=PROBE_LAYER, symbol="cross", face_color="red",
                                  border_color="red", size=max(2, max(self.nav_shape) / 25),
                                  scale=self.nav_scale, translate=self.nav_offset, units=self.nav_units)
        self._keep_probe_on_top()

    def _set_probe(self, index):
        self.move_probe(index)
        self._on_probe(self.probe)

    def _drag_probe(self, _viewer, event):
        self._set_probe(self.index_of(event.position))
        yield
        while event.type == "mouse_move":
            self._set_probe(self.index_of(event.position))
            yield

    def _stepper(self, step):
        def move(_viewer):
            row = min(max(self.probe[0] + step[0], 0), self.nav_shape[0] - 1)
            col = min(max(self.probe[1] + step[1], 0), self.nav_shape[1] - 1)
            self._set_probe((row, col))
        return move

    def close_view(self):
        """Release the embedded canvas now: napari counts every live QtViewer as a leak."""
        if self.qt_viewer is None:
            return
        self.model.layers.clear()
        self.qt_viewer.close()
        self.qt_viewer.setParent(None)
        self.qt_viewer.deleteLater()
        self.qt_viewer = None
