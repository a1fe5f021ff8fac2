"""Strain mapping widget (magicgui): probe template, Bragg disks, Bragg-vector map, basis, reference, Run.

The user picks the 4D-STEM layer and the probe template (mean direct beam, a vacuum region of the
scan, or a synthetic disk of the measured radius), sees the disks found in the pattern shown, or
the Bragg-vector map of the scan (of the reference region) with its peaks, as a Points layer, picks
two of them as the basis (or keeps the automatic basis, labelled g1, g2 on the map), draws the reference
region as a rectangle on the "strain reference" Shapes layer (scan coordinates) and clicks Run.
:func:`stemlab.strainmap.strain` runs in a worker (progress, Cancel); the maps come back as layers on
the scan's calibration, strain in % with a diverging colour map centred on 0.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSlider, FloatSpinBox, Label, LineEdit, PushButton

from ..errors import ParameterError
from .layers import image_layer_data, layer_to_dataset
from .tasks import TaskPanel

PROBES = {"mean direct beam": "mean", "vacuum region": "vacuum", "synthetic disk": "synthetic"}
REFERENCE = "strain reference"
VACUUM = "strain vacuum"
DISKS = "Bragg disks"
BVM = "Bragg-vector map"
BVM_PEAKS = "Bragg-vector map peaks"


def is_4dstem_layer(layer) -> bool:
    """An image layer with at least two scan and two detector dimensions."""
    return getattr(layer, "_type_string", "") == "image" and not layer.rgb and layer.data.ndim == 4


class StrainWidget(Container):
    """Dock widget: strain and rotation maps of a 4D-STEM layer."""

    def __init__(self, napari_viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.result = None
        self.bvm = None  # the last BraggVectors shown
        self.layer = ComboBox(label="4D-STEM layer", choices=self._layer_names)
        self.probe = ComboBox(label="Probe template", choices=list(PROBES), value="mean direct beam",
                              tooltip="mean direct beam of the scan, the mean of the rectangle drawn on "
                                      f"'{VACUUM}', or a synthetic disk of the radius below")
        self.radius = FloatSpinBox(label="Disk radius (px)", value=0.0, min=0.0, max=500.0, step=0.5,
                                   tooltip="0: measured on the mean pattern")
        self.power = FloatSlider(label="Correlation power", value=1.0, min=0.0, max=1.0, step=0.05,
                                 tooltip="1: cross-correlation, 0: phase correlation")
        self.show_disks = PushButton(text="Show disks on the current pattern")
        self.show_bvm = PushButton(text="Bragg-vector map",
                                   tooltip="the Bragg-vector map of the scan (of the reference rectangle if drawn) "
                                           f"and its peaks on '{BVM_PEAKS}', automatic basis marked g1, g2")
        self.basis = LineEdit(label="Basis (h,k h,k)", value="",
                              tooltip="empty: automatic; e.g. '1,0 0,1' on the automatic basis")
        self.use_selected = CheckBox(label=f"Basis = the 2 points selected on '{DISKS}' or '{BVM_PEAKS}'",
                                     value=False)
        self.draw_reference = PushButton(text="Draw reference rectangle")
        self.draw_vacuum = PushButton(text="Draw vacuum rectangle")
        self.ellipse = ComboBox(label="Ellipse correction", choices=["none", "bragg"], value="none",
                                tooltip="bragg: from the reference lattice (shells of equal |g| must be "
                                        "symmetry equivalent)")
        self.frame = ComboBox(label="Frame", choices=["detector", "scan"], value="detector")
        self.direction = FloatSpinBox(label="x direction (deg)", value=0.0, min=-360.0, max=360.0,
                                      tooltip="with frame 'scan': x follows this direction of the scan image")
        self.device = ComboBox(label="Device", choices=["auto", "cpu", "cuda"], value="auto")
        self.run_button = PushButton(text="Run")
        self.status = Label(value="")
        self.extend([self.layer, self.probe, self.radius, self.power, self.show_disks, self.show_bvm, self.basis,
                     self.use_selected, self.draw_reference, self.draw_vacuum, self.ellipse, self.frame,
                     self.direction, self.device, self.run_button, self.status])
        self.tasks = TaskPanel()
        self.native.layout().addWidget(self.tasks)
        self.show_disks.changed.connect(self.preview_disks)
        self.show_bvm.changed.connect(self.bragg_vector_map)
        self.draw_reference.changed.connect(lambda: self._rectangle_layer(REFERENCE, "yellow"))
        self.draw_vacuum.changed.connect(lambda: self._rectangle_layer(VACUUM, "cyan"))
        self.run_button.changed.connect(self.run)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(lambda *_: self.layer.reset_choices())

    # -- inputs -------------------------------------------------------------------------------
    def _layer_names(self, *_):
        return [layer.name for layer in self.viewer.layers if is_4dstem_layer(layer)]

    def dataset(self):
        name = self.layer.value
        if not name or name not in self.viewer.layers:
            raise ParameterError("Strain mapping: open a 4D-STEM scan (scan y, scan x, ky, kx) as a layer first.")
        return layer_to_dataset(self.viewer.layers[name])

    def _rectangle_layer(self, name, colour):
        """The Shapes layer (scan coordinates) for the reference or vacuum rectangle, in rectangle mode."""
        ds = self.dataset()
        if name not in self.viewer.layers:
            nav = ds.nav_axes
            self.viewer.add_shapes(name=name, scale=[a.scale for a in nav], translate=[a.offset for a in nav],
                                   edge_color=colour, face_color="transparent", edge_width=0.5)
        layer = self.viewer.layers[name]
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        return layer

    def _region(self, name, nav_shape):
        """(y0, y1, x0, x1) scan indices of the last rectangle on layer ``name``, or None."""
        if name not in self.viewer.layers or not len(self.viewer.layers[name].data):
            return None
        layer = self.viewer.layers[name]
        corners = np.asarray(layer.data[-1])[:, -2:]
        lo = np.clip(np.floor(corners.min(axis=0) + 0.5).astype(int), 0, nav_shape)
        hi = np.clip(np.floor(corners.max(axis=0) + 0.5).astype(int) + 1, 0, nav_shape)
        if np.any(hi <= lo):
            raise ParameterError(f"The rectangle on '{name}' lies outside the scan: draw it over the scan.")
        return (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]))

    def settings(self, picked_basis: bool = True) -> dict:
        """Keyword arguments for :func:`stemlab.strainmap.strain` from the boxes (names the box at fault);
        ``picked_basis=False``: without reading the selected points (the Bragg-vector map needs none)."""
        from ..strainmap.lattice import parse_indices

        ds = self.dataset()
        probe = PROBES[self.probe.value]
        vacuum = self._region(VACUUM, ds.nav_shape)
        if probe == "vacuum" and vacuum is None:
            raise ParameterError(f"Probe template 'vacuum region': draw a rectangle on '{VACUUM}' "
                                 "(button 'Draw vacuum rectangle') over scan positions without sample.")
        text = self.basis.value.strip()
        try:
            basis = parse_indices(text.split()) if text else None
        except ParameterError as error:
            raise ParameterError(f"Basis box {text!r}: {error} Or leave it empty for the automatic basis.") from None
        kwargs = {"probe": probe, "disk_radius": self.radius.value or None, "vacuum": vacuum,
                  "correlation_power": float(self.power.value), "basis": basis,
                  "reference": self._region(REFERENCE, ds.nav_shape),
                  "ellipse": None if self.ellipse.value == "none" else self.ellipse.value,
                  "frame": self.frame.value, "direction_deg": float(self.direction.value) if
                  self.frame.value == "scan" else 0.0, "device": self.device.value}
        if self.use_selected.value and picked_basis:
            kwargs["basis_vectors"] = self._selected_basis()
            kwargs["basis"] = None
        return ds, kwargs

    def _selected_basis(self):
        """Columns g1, g2 (x, y px) from the two points selected on the active (else either) picking layer."""
        active = self.viewer.layers.selection.active
        names = ([active.name] if active is not None and active.name in (DISKS, BVM_PEAKS) else []) + [DISKS, BVM_PEAKS]
        layer = next((self.viewer.layers[n] for n in names if n in self.viewer.layers
                      and len(self.viewer.layers[n].selected_data) == 2), None)
        if layer is None:
            raise ParameterError(f"Basis from selected points: select exactly two points on '{DISKS}' or "
                                 f"'{BVM_PEAKS}' (button 'Show disks on the current pattern' or 'Bragg-vector map' "
                                 "first, then shift-click two reflections).")
        picked = np.asarray(layer.data)[sorted(layer.selected_data)]  # (row, col) detector pixels
        rows_cols = picked - np.asarray(layer.metadata["direct_beam"])
        return rows_cols[:, ::-1].T  # columns g1, g2 as (x, y)

    # -- disks on the current pattern -----------------------------------------------------------
    def preview_disks(self, *_):
        """Detect disks in the pattern at the current scan position; show them as the 'Bragg disks' layer."""
        from napari.utils.notifications import show_error

        from ..strainmap import disks as dk
        from ..strainmap import pipeline

        try:
            ds, kwargs = self.settings()
            step = self.viewer.dims.current_step
            layer = self.viewer.layers[self.layer.value]
            world = [self.viewer.dims.point[i] for i in range(2)] if len(step) >= 4 else [0, 0]
            index = tuple(int(np.clip(round((w - t) / s), 0, n - 1)) for w, t, s, n in
                          zip(world, layer.translate[:2], layer.scale[:2], ds.nav_shape))
            pattern = np.asarray(ds.data[index], dtype=np.float32)
            sample = ds.data[::max(1, ds.nav_shape[0] // 8), ::max(1, ds.nav_shape[1] // 8)]  # <= ~100 patterns
            mean = np.asarray(sample, dtype=np.float64).mean(axis=(0, 1))
            probe, radius = pipeline.make_probe(ds, kwargs["probe"], mean, kwargs["disk_radius"], kwargs["vacuum"])
            detector = dk.DiskDetector(dk.template_spectrum(probe, ds.sig_shape), ds.sig_shape,
                                       correlation_power=kwargs["correlation_power"], min_spacing=max(3.0, radius),
                                       edge=radius, device=kwargs["device"])
            found = detector(pattern[None])["disks"][0]
        except Exception as error:  # noqa: BLE001 - shown to the user, nothing changed
            show_error(str(error))
            return None
        found = found[np.isfinite(found[:, 0])]
        beam = dk.disk_centre_radius(dk.probe_from_pattern(mean, radius)[0])
        sig = ds.sig_axes
        if DISKS in self.viewer.layers:
            self.viewer.layers.remove(DISKS)
        self.viewer.add_points(found[:, [1, 0]], name=DISKS, size=2 * radius, face_color="transparent",
                               border_color="red", border_width=0.1, ndim=2,
                               scale=[sig[0].scale, sig[1].scale], translate=[sig[0].offset, sig[1].offset],
                               metadata={"direct_beam": [beam[1], beam[0]]})
        self.status.value = f"{len(found)} disks at scan position {index}, radius {radius:.1f} px"
        return found

    # -- Bragg-vector map ----------------------------------------------------------------------
    def bragg_vector_map(self, *_):
        """Compute the Bragg-vector map in a worker (:func:`stemlab.strainmap.bragg_vectors`) with the
        template settings; show it and its peaks, the automatic basis labelled g1, g2."""
        from napari.utils.notifications import show_error

        from ..strainmap import bragg_vectors

        try:
            ds, kwargs = self.settings(picked_basis=False)
        except ParameterError as error:
            show_error(str(error))
            return None
        keep = ("probe", "disk_radius", "vacuum", "correlation_power", "reference", "device")
        self.status.value = "Bragg-vector map..."
        return self.tasks.run(bragg_vectors, self._show_bvm, "Bragg-vector map", dataset=ds,
                              **{k: kwargs[k] for k in keep})

    def _show_bvm(self, vectors):
        self.bvm = vectors
        bvm = vectors.datasets()["bvm"]
        data, kwargs, _ = image_layer_data(bvm, name=BVM, colormap="magma")
        positive = data[data > 0]
        kwargs["gamma"] = 0.3  # weak reflections show next to the direct beam
        kwargs["contrast_limits"] = (0.0, float(positive.max()) if positive.size else 1.0)
        zero = np.asarray(bvm.metadata["zero_vector_px"], float)  # (row, col) of the zero vector
        peaks = vectors.peaks[:, [1, 0]] + zero  # (row, col) image pixels
        labels = [""] * len(peaks)
        for i, name in enumerate(("g1", "g2")):
            g = vectors.basis[::-1, i]
            labels[int(np.argmin(np.hypot(*(vectors.peaks[:, [1, 0]] - g).T)))] = name
        for name in (BVM, BVM_PEAKS):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        self.viewer.add_image(data, **kwargs)
        self.viewer.add_points(peaks, name=BVM_PEAKS, size=max(2.0, vectors.radius), face_color="transparent",
                               border_color="cyan", border_width=0.1, ndim=2, features={"label": labels},
                               text={"string": "{label}", "color": "yellow", "anchor": "upper_left"},
                               scale=kwargs["scale"], translate=kwargs["translate"],
                               metadata={"direct_beam": zero.tolist()})
        self.status.value = vectors.summary()

    # -- run ------------------------------------------------------------------------------------
    def run(self, *_):
        """Run :func:`stemlab.strainmap.strain` in a worker with the boxes' settings."""
        from napari.utils.notifications import show_error

        from ..strainmap import strain

        try:
            ds, kwargs = self.settings()
        except ParameterError as error:
            show_error(str(error))
            return None
        self.status.value = "running..."
        return self.tasks.run(strain, self._done, "Strain mapping", dataset=ds, **kwargs)

    def _done(self, result):
        self.result = result
        sets = result.datasets()
        limit = max(0.1, float(np.nanpercentile(np.abs(np.stack([sets[k].data for k in ("exx", "eyy", "exy")])),
                                                99.5)) if np.isfinite(sets["exx"].data).any() else 1.0)
        theta = sets["theta"].data
        t_lim = max(0.1, float(np.nanpercentile(np.abs(theta), 99.5))) if np.isfinite(theta).any() else 1.0
        layers = [image_layer_data(sets[k], name=f"{sets[k].name} (%)", colormap="PiYG",
                                   contrast_limits=(-limit, limit)) for k in ("exx", "eyy", "exy")]
        layers.append(image_layer_data(sets["theta"], name="rotation theta (deg)", colormap="PiYG",
                                       contrast_limits=(-t_lim, t_lim)))
        layers.append(image_layer_data(sets["error"], name="fit error (px)", colormap="magma", visible=False))
        layers.append(image_layer_data(sets["n_disks"], name="disks used", colormap="viridis", visible=False))
        for data, kwargs, _ in layers:
            if kwargs["name"] in self.viewer.layers:
                self.viewer.layers.remove(kwargs["name"])
            self.viewer.add_image(np.nan_to_num(data, nan=0.0) if data.dtype.kind == "f" else data, **kwargs)
        if "not fitted" in self.viewer.layers:
            self.viewer.layers.remove("not fitted")
        mask = sets["mask"]
        self.viewer.add_labels(mask.data.astype(np.uint8), name="not fitted", scale=mask.scale,
                               translate=mask.translate, opacity=0.5, visible=bool(mask.data.any()))
        self.status.value = result.summary().splitlines()[0]
