"""4D-STEM explorer: scan view + diffraction pattern, linked, with virtual detectors.

The main viewer shows the 4D layer's diffraction pattern at the probe position (its scan
axes are the sliders). The dock shows the scan: the navigation image (virtual bright field
by default) and every virtual image, with a cross at the probe. Detectors are Shapes
layers on the pattern; dragging one previews its image live, releasing computes it exactly
in a worker. One button computes all detectors, the centre of mass / DPC / integrated
phase and the mean and max pattern in one pass over the data; the DPC rotation is the
dataset's scan rotation (shown and settable in the calibration box), the curl-free one
('auto', shown after the run and kept in the DPC layers' metadata) or a given angle.
"""

import weakref
from dataclasses import asdict
from typing import Annotated

import numpy as np
from magicgui.widgets import FunctionGui
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..dataset import Axis, Dataset
from ..errors import ParameterError, StemlabError
from . import detector_shapes as shapes
from .form import follow_layers, parameter_form, show_scale_bar, viewer_of
from .layers import META_KEY, as_result, image_layer_data, layer_to_dataset, napari_units
from .scan_view import ScanView
from .tasks import TaskPanel, connect, notify_error

PREVIEW_BUDGET = 32e6  # bytes touched per live-preview update: well under 100 ms on 2 cores (benchmarks)
PREVIEW_SOURCE_BUDGET = 256e6  # bytes of a lazy dataset kept in memory for previews
_EXPLORERS = weakref.WeakValueDictionary()  # id(the real viewer, never its proxy) -> its explorer


def explorer_for(viewer, layer) -> "ExplorerWidget":
    """The viewer's 4D-STEM explorer showing ``layer`` (docked now if none is open): other
    widgets put their scan-space maps in its scan view, beside the virtual images. One explorer
    per viewer, whichever proxy of it the caller holds."""
    viewer, layer = viewer_of(viewer), viewer_of(layer)
    explorer = _EXPLORERS.get(id(viewer))
    if explorer is None:
        explorer = ExplorerWidget(viewer)
        viewer.window.add_dock_widget(explorer, name="4D-STEM explorer", area="right")
    if explorer.source is not layer:
        explorer.form.scan.value = layer
    return explorer


def explorer_parameters(scan) -> dict:
    """The explorer's input: the 4D-STEM layer (a scan or a line scan)."""
    return {"scan": scan}


def calibration_parameters(
    scan_step: Annotated[str, {"label": "scan step", "tooltip": "e.g. 2 nm"}] = "",
    reciprocal_pixel: Annotated[str, {"label": "reciprocal pixel", "tooltip": "e.g. 0.0127 1/angstrom per px"}]
    = "",
    camera_length: Annotated[str, {"label": "camera length", "tooltip": "e.g. 0.2 m"}] = "",
    detector_pixel: Annotated[str, {"label": "detector pixel", "tooltip": "e.g. 55 um"}] = "",
    voltage: Annotated[str, {"tooltip": "e.g. 200 kV"}] = "",
    scan_rotation: Annotated[float, {"label": "scan rotation (deg)", "min": -180.0, "max": 180.0, "step": 0.1,
                                     "tooltip": "How the scan grid sits on the detector (the file's by default)"}]
    = 0.0,
    scan_flip: Annotated[bool, {"label": "scan flip (detector mirrored)",
                                "tooltip": "The detector image is mirrored relative to the scan"}] = False,
) -> dict:
    """The typed calibration as keyword arguments of :func:`stemlab.calibration.apply_calibration`:
    the typed texts, and the scan rotation (degrees) and flip, which always apply."""
    options = {"scan_step": scan_step, "calibration": reciprocal_pixel, "camera_length": camera_length,
               "detector_pixel": detector_pixel, "voltage": voltage}
    options = {k: v.strip() for k, v in options.items() if v.strip()}
    return {**options, "scan_rotation": scan_rotation, "scan_flip": scan_flip}


DPC_ROTATIONS = ("scan rotation", "auto (minimise CoM curl)", "given angle")


def dpc_parameters(
    dpc_rotation: Annotated[str, {"label": "DPC rotation", "choices": DPC_ROTATIONS,
                                  "tooltip": "Turns the detector-frame CoM into the scan frame before DPC and "
                                             "iDPC: the dataset's scan rotation, the curl-free one, or an angle"}]
    = "scan rotation",
    angle: Annotated[float, {"label": "angle (deg)", "min": -180.0, "max": 180.0, "step": 0.1}] = 0.0,
    flip: Annotated[bool, {"label": "flipped (with the angle)"}] = False,
) -> dict:
    """The DPC geometry as keyword arguments of :func:`stemlab.diffraction.explore`."""
    if dpc_rotation == DPC_ROTATIONS[0]:
        return {"dpc_rotation": None, "dpc_flip": None}
    if dpc_rotation == DPC_ROTATIONS[1]:
        return {"dpc_rotation": "auto", "dpc_flip": "auto"}
    return {"dpc_rotation": angle, "dpc_flip": flip}


def is_4dstem_layer(layer) -> bool:
    """A napari image layer holding a 4D-STEM scan or line scan (stemlab's, or any 4D image)."""
    from napari.layers import Image

    if not isinstance(layer, Image) or layer.rgb:
        return False
    info = layer.metadata.get(META_KEY, {}) if isinstance(layer.metadata, dict) else {}
    return info.get("kind") == "4dstem" and layer.data.ndim in (3, 4) or (not info and layer.data.ndim == 4)


class ExplorerWidget(QWidget):
    """Dock widget exploring one 4D-STEM layer; see the module docstring."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = viewer_of(napari_viewer)
        show_scale_bar(self.viewer)
        _EXPLORERS[id(self.viewer)] = self
        self.source = None  # the napari 4D layer
        self.dataset: Dataset | None = None
        self.preview_data = None  # in-memory array the live preview reads
        self.preview_stride = 1
        self.detector_layers = []
        self._centres = None  # BeamCentres from "Find centre"

        self.form = parameter_form(explorer_parameters, self.viewer, {"scan": is_4dstem_layer})
        self._unfollow = follow_layers(self.form, self.viewer)
        self.form.scan.changed.connect(self._source_changed)
        self.scan_view = ScanView(on_probe=self._probe_from_scan)
        self.probe_label = QLabel("probe: -")

        buttons = QHBoxLayout()
        self.add_buttons = {}
        for kind in ("disk", "annulus", "rectangle"):
            button = connect(QPushButton(f"+ {kind}"), f"Add a {kind} detector",
                             lambda k=kind: self.add_detector(k))
            button.setToolTip(f"Add a {kind} virtual detector on the pattern")
            buttons.addWidget(button)
            self.add_buttons[kind] = button
        actions = QHBoxLayout()
        self.compute_button = connect(QPushButton("Compute all"), "Compute all", self.compute_all)
        self.compute_button.setToolTip("Exact images of every detector, centre of mass, DPC, "
                                       "integrated phase, mean and max pattern: one pass over the data")
        self.centre_button = connect(QPushButton("Find centre"), "Find centre", self.find_centre)
        self.centre_button.setToolTip("Find the direct beam at every position and fit the descan")
        actions.addWidget(self.compute_button)
        actions.addWidget(self.centre_button)
        self.tasks = TaskPanel(self.viewer, locks=[self.compute_button, self.centre_button])
        self.dpc_form = FunctionGui(dpc_parameters, call_button=False)
        self.dpc_label = QLabel("DPC rotation: -")  # the geometry the last Compute all used

        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addWidget(self.scan_view, 1)
        layout.addWidget(self.probe_label)
        layout.addLayout(buttons)
        layout.addLayout(actions)
        layout.addWidget(self.dpc_form.native)
        layout.addWidget(self.dpc_label)
        layout.addWidget(self._calibration_box())
        layout.addWidget(self.tasks)

        self.viewer.dims.events.current_step.connect(self._probe_from_dims)
        self._source_changed()

    # -- UI pieces ---------------------------------------------------------------------
    def _calibration_box(self) -> QWidget:
        from superqt import QCollapsible

        box = QCollapsible("Calibration (for files that lack it)")
        inner = QWidget()
        column = QVBoxLayout(inner)
        self.calibration_form = FunctionGui(calibration_parameters, call_button=False)
        for name in ("scan_step", "reciprocal_pixel", "camera_length", "detector_pixel", "voltage"):
            self.calibration_form[name].native.setPlaceholderText(self.calibration_form[name].tooltip)
        column.addWidget(self.calibration_form.native)
        self.apply_button = connect(QPushButton("Apply calibration"), "Apply calibration", self.apply_calibration)
        column.addWidget(self.apply_button)
        box.addWidget(inner)
        return box

    def closeEvent(self, event):
        self._disconnect_viewer()
        self.scan_view.close_view()
        super().closeEvent(event)

    def _disconnect_viewer(self):
        self._unfollow()
        self.tasks.close_panel()
        self.viewer.dims.events.current_step.disconnect(self._probe_from_dims)

    # -- choosing the dataset ----------------------------------------------------------
    def _source_changed(self, *_):
        layer = self.form.scan.value
        if layer is not self.source:
            try:
                self._set_source(layer)
            except Exception as error:  # a layer the explorer cannot show: say why, keep the widget usable
                notify_error(f"4D-STEM explorer: showing '{layer.name}'", error)
                self.source, self.dataset = None, None

    def _set_source(self, layer):
        for det in list(self.detector_layers):
            if det in self.viewer.layers:
                self.viewer.layers.remove(det)
        self.detector_layers = []
        self.scan_view.model.layers.clear()
        self.source = layer
        self.dataset = None
        self.preview_data = None
        self._centres = None
        if layer is None:
            self.probe_label.setText("probe: -")
            return
        ds = layer_to_dataset(layer)
        if ds.data.ndim == 3:  # a line scan: treat as one scan row
            ds = ds.with_data(ds.data[None], axes=(Axis("scan_row", 1, navigate=True),) + ds.axes)
        self.dataset = ds
        self.calibration_form.scan_rotation.value = ds.scan_rotation_deg  # the file header's geometry
        self.calibration_form.scan_flip.value = ds.scan_flip
        self.scan_view.set_scan(ds.nav_axes[-2:])
        if not ds.is_lazy:
            self.preview_data, self.preview_stride = ds.data, 1
        self.add_detector("disk", name="BF", centre=self.pattern_centre())
        self.scan_view.model.reset_view()
        self._probe_from_dims()
        if ds.is_lazy:  # keep a strided in-memory copy for live previews, read in the background
            from ..diffraction.preview import preview_source

            self.tasks.run(preview_source, self._preview_ready, "preview data", inputs=[layer], data=ds.data,
                           budget_bytes=PREVIEW_SOURCE_BUDGET)

    def _preview_ready(self, result):
        self.preview_data, self.preview_stride = result
        for layer in self.detector_layers:
            self.preview(layer)
        self._compute_detectors(self.detector_layers)

    def pattern_centre(self) -> tuple[float, float]:
        """Direct-beam position in pattern pixels: the found centre, k = 0, or the middle."""
        ds = self.dataset
        found = self.source.metadata.get("stemlab_centre") if self.source is not None else None
        if found is not None:
            return tuple(found)
        centre = []
        for axis in ds.sig_axes[-2:]:
            k0 = -axis.offset / axis.scale
            centre.append(k0 if axis.units and 0 <= k0 < axis.size else (axis.size - 1) / 2)
        return float(centre[0]), float(centre[1])

    # -- detectors ---------------------------------------------------------------------
    def add_detector(self, kind: str, name: str | None = None, centre=None):
        """Add a virtual detector on the pattern; its image appears in the scan view."""
        if self.dataset is None:
            raise StemlabError("Open or choose a 4D-STEM layer first.")
        centre = centre or self.pattern_centre()
        detector = shapes.default_detector(kind, centre, self.dataset.sig_shape[-2:])
        name = name or self._unique_name({"disk": "BF", "annulus": "ADF", "rectangle": "DF"}[kind])
        data, types = shapes.shapes_data(detector)
        colour = shapes.COLOURS[len(self.detector_layers) % len(shapes.COLOURS)]
        sig = self.dataset.sig_axes[-2:]
        layer = self.viewer.add_shapes(
            data, shape_type=types, name=name, edge_color=colour, face_color="transparent",
            edge_width=max(0.5, min(self.dataset.sig_shape[-2:]) / 150), opacity=0.9,
            scale=[a.scale for a in sig], translate=[a.offset for a in sig],
            units=napari_units(a.units for a in sig),
            metadata={shapes.DETECTOR_KEY: kind})
        layer.events.data.connect(lambda event, lyr=layer: self._detector_edited(lyr, event))
        self.detector_layers.append(layer)
        self.viewer.layers.selection.active = layer
        layer.mode = "select"
        self.preview(layer)
        if self.preview_data is not None:  # else the preview reader computes it when done
            self._compute_detectors([layer])
        return layer

    def _unique_name(self, base):
        names = {layer.name for layer in self.viewer.layers}
        if base not in names:
            return base
        i = 2
        while f"{base} {i}" in names:
            i += 1
        return f"{base} {i}"

    def detector_of(self, layer):
        return shapes.detector_from_shapes(layer.metadata[shapes.DETECTOR_KEY], list(layer.data))

    def _detector_edited(self, layer, event):
        action = str(getattr(event, "action", "changed"))
        if layer not in self.detector_layers:
            return
        if "changing" in action:
            self.preview(layer)
        elif action.endswith("ed"):
            self._redraw_if_moved_apart(layer)
            self._compute_detectors([layer])

    def _redraw_if_moved_apart(self, layer):
        """An annulus whose two circles were dragged apart is redrawn about its outer centre."""
        detector = self.detector_of(layer)
        if detector is None or layer.metadata[shapes.DETECTOR_KEY] != "annulus":
            return
        drawn, _ = shapes.shapes_data(detector)
        if not all(np.allclose(a, b) for a, b in zip(drawn, layer.data)):
            layer.data = drawn

    def preview(self, layer):
        """Live preview of a detector image from the in-memory data (strided if large)."""
        from ..diffraction.preview import preview_virtual_image

        detector = self.detector_of(layer)
        if detector is None or self.preview_data is None:
            return
        image, stride = preview_virtual_image(self.preview_data, detector, budget_bytes=PREVIEW_BUDGET)
        self.scan_view.show_image(_image_name(layer), _as_2d(image), stride=stride * self.preview_stride)

    # -- exact computations in workers -------------------------------------------------
    def _compute_detectors(self, layers):
        from ..diffraction.virtual import virtual_images

        detectors = {_image_name(lyr): self.detector_of(lyr) for lyr in layers}
        detectors = {k: v for k, v in detectors.items() if v is not None}
        if not detectors:
            return
        data = self.dataset.data
        self.tasks.run(
            virtual_images, lambda result: self._show_images(result, list(detectors)),
            "virtual images", inputs=[self.source], data=data, detectors=detectors, nav_ndim=data.ndim - 2,
            com=False, patterns=False)

    def _show_images(self, result, names):
        for name in names:
            self.scan_view.show_image(name, _as_2d(result[name]))

    def compute_all(self):
        """All detectors, CoM / DPC / iDPC, mean and max pattern: one worker, one pass."""
        from ..diffraction.analysis import explore

        if self.dataset is None:
            raise ParameterError("open or choose a 4D-STEM layer first.")
        detectors = {_image_name(lyr): self.detector_of(lyr) for lyr in self.detector_layers}
        detectors = {k: v for k, v in detectors.items() if v is not None}
        self.tasks.run(explore, self._show_all, "Compute all", inputs=[self.source], ds=self.dataset,
                       detectors=detectors, centre=self._centres, **self.dpc_form())

    def _show_all(self, result):
        for name, ds in result.datasets().items():
            if ds.kind == "diffraction":  # mean / max pattern: reciprocal space, main viewer
                data, kwargs, _ = as_result(image_layer_data(ds), "4D-STEM explorer")
                kwargs["metadata"]["stemlab_derived_from"] = self.source.name  # recalibrated with it
                if ds.name in self.viewer.layers:
                    self.viewer.layers[ds.name].data = data
                else:
                    self.viewer.add_image(data, **kwargs, visible=False)
            else:
                colormap = "twilight_shifted" if "angle" in name else "gray"  # a cyclic map for angles only
                layer = self.scan_view.show_image(name, _as_2d(np.asarray(ds.data)), colormap=colormap,
                                                  value_units=ds.metadata.get("units", ""))
                geometry = {k: ds.metadata[k] for k in ("dpc_rotation_deg", "dpc_flip") if k in ds.metadata}
                layer.metadata.update(geometry)
                if geometry:
                    self.dpc_label.setText(f"DPC rotation {geometry['dpc_rotation_deg']:.1f} deg, "
                                           + ("flipped" if geometry.get("dpc_flip") else "not flipped"))

    def find_centre(self):
        """Direct-beam centre at every position + descan plane; detectors move to the centre."""
        from ..diffraction.centre import find_direct_beam

        if self.dataset is None:
            raise ParameterError("open or choose a 4D-STEM layer first.")
        self.tasks.run(find_direct_beam, self._centre_found, "Find centre", inputs=[self.source],
                       data=self.dataset.data, nav_ndim=self.dataset.data.ndim - 2)

    def _centre_found(self, centres):
        from napari.utils.notifications import show_info

        from ..diffraction.detectors import moved_to

        self._centres = centres
        centre = centres.median
        self.source.metadata["stemlab_centre"] = centre
        for layer in self.detector_layers:
            detector = self.detector_of(layer)
            if detector is not None:
                layer.data = shapes.shapes_data(moved_to(detector, *centre))[0]
        rms = float(np.sqrt(np.nanmean(centres.residuals ** 2)))
        show_info(f"Direct beam at row {centre[0]:.2f}, col {centre[1]:.2f} px; descan "
                  f"{np.abs(centres.gradient).max():.3f} px per scan step; fit rms {rms:.2f} px.")
        self._compute_detectors(self.detector_layers)

    # -- calibration -------------------------------------------------------------------
    def apply_calibration(self):
        """Apply the typed calibration to the 4D layer and every layer derived from it."""
        from ..calibration import apply_calibration

        if self.dataset is None:
            raise ParameterError("open or choose a 4D-STEM layer first.")
        ds = apply_calibration(self.dataset, **self.calibration_form())
        self.dataset = ds
        layer = self.source
        offset = layer.data.ndim - ds.ndim
        layer.scale = ds.scale[offset:] if offset < 0 else ds.scale
        layer.translate = ds.translate[offset:] if offset < 0 else ds.translate
        layer.units = napari_units(ds.units[-layer.data.ndim:])
        layer.metadata[META_KEY]["axes"] = [asdict(a) for a in ds.axes][-layer.data.ndim:]
        layer.metadata[META_KEY].update(ds.scan_geometry)
        sig = ds.sig_axes[-2:]
        for det in self.detector_layers:
            det.scale = [a.scale for a in sig]
            det.translate = [a.offset for a in sig]
            det.units = napari_units(a.units for a in sig)
        self.scan_view.set_scan(ds.nav_axes[-2:])
        for other in self.viewer.layers:
            if other.metadata.get("stemlab_derived_from") == layer.name:
                other.scale, other.translate = [a.scale for a in sig], [a.offset for a in sig]
                other.units = napari_units(a.units for a in sig)
        self.viewer.reset_view()

    # -- probe linking -----------------------------------------------------------------
    def probe_index(self) -> tuple[int, int]:
        """The probe position (row, col) in scan pixels, from the main viewer's sliders."""
        if self.source is None:
            return (0, 0)
        world = np.asarray(self.viewer.dims.point, float)
        data_pos = self.source.world_to_data(world[-self.source.ndim:])
        nav = np.asarray(data_pos[: self.source.ndim - 2], float)
        nav = np.rint(nav).astype(int)
        index = (0, int(nav[0])) if nav.size == 1 else (int(nav[-2]), int(nav[-1]))
        return index

    def set_probe(self, index: tuple[int, int]):
        """Move the probe to scan index (row, col): the main viewer shows that pattern."""
        if self.source is None:
            return
        ndim_world = self.viewer.dims.ndim
        nav_ndim = self.source.ndim - 2
        data_point = np.zeros(self.source.ndim)
        data_point[:nav_ndim] = index[-nav_ndim:]
        world = self.source.data_to_world(data_point)
        first = ndim_world - self.source.ndim
        for axis in range(nav_ndim):
            self.viewer.dims.set_point(first + axis, float(world[axis]))

    def _probe_from_scan(self, index):
        self.set_probe(index)
        self._update_probe_label()

    def _probe_from_dims(self, event=None):
        if self.source is None:
            return
        self.scan_view.move_probe(self.probe_index())
        self._update_probe_label()

    def _update_probe_label(self):
        row, col = self.scan_view.probe
        nav = self.dataset.nav_axes[-2:]
        units = nav[-1].units or "px"
        y = nav[0].offset + row * nav[0].scale
        x = nav[-1].offset + col * nav[-1].scale
        self.probe_label.setText(f"probe: row {row}, col {col}  (y {y:.4g}, x {x:.4g} {units})")


def _image_name(layer) -> str:
    return f"{layer.name} image"


def _as_2d(image) -> np.ndarray:
    image = np.asarray(image)
    return image.reshape((1, -1)) if image.ndim == 1 else image
