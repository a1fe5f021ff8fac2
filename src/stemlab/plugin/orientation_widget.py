"""Orientation mapping widget: phases, calibration, library, preview on the current pattern, Run.

Results become layers on the scan's axes: phase (Labels, phase names as features), IPF x/y/z
(RGB), correlation, orientation reliability and phase reliability. Clicking a result layer
moves the 4D layer to that scan position and overlays the matched template's spots with
their hkl on the pattern; the top candidates with scores are listed in the widget.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                            QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from ..errors import StemlabError
from .explorer import explorer_for
from .forms import spin_box
from .layers import image_layer_data, labels_layer_data, layer_to_dataset, napari_units
from .layer_picker import LayerPicker, image_layer
from .tasks import TaskPanel

SPOTS_LAYER = "template spots"


class OrientationWidget(QWidget):
    """Dock widget: index phase and orientation of a 4D-STEM layer (see module docstring)."""

    def __init__(self, napari_viewer):
        super().__init__()
        from ..crystal.phase import shipped_cifs

        self.viewer = napari_viewer
        self.result = None
        self._width_measured = False  # whether the last run measured its relrod width
        self._matcher = None
        self._matcher_key = None
        self.layer_combo = LayerPicker(self.viewer, image_layer(3))
        self.phase_list = QListWidget()
        for name, path in shipped_cifs().items():
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.phase_list.addItem(item)
        add_cif = QPushButton("Add CIF...")
        add_cif.clicked.connect(self._add_cif_dialog)
        self.voltage_edit = QLineEdit("200")
        self.calibration_edit = QLineEdit(placeholderText="1/angstrom per px (default: the layer's)")
        self.resolution = spin_box(0.2, 5.0, 1.0, decimals=2, step=0.1)
        self.precession = spin_box(0.0, 3.0, 0.0, decimals=2, step=0.1)
        self.relrod = spin_box(0.0, 0.1, 0.02, decimals=3, step=0.002, special="auto",
                               tooltip="Relrod width of the library templates (1/A), about 1/thickness. 'auto' "
                                       "(below 0.001) measures it on a sample of the patterns when you press Run; "
                                       "the preview then uses the last measured width, else 0.02.")
        self.gamma = spin_box(0.1, 1.0, 0.5, decimals=2, step=0.05)
        self.centre_combo = QComboBox()
        self.centre_combo.addItems(["auto", "fixed"])
        self.background_combo = QComboBox()
        self.background_combo.addItems(["none", "tophat"])
        self.preview_button = QPushButton("Preview current pattern")
        self.preview_button.clicked.connect(self.preview)
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.candidates_text = QPlainTextEdit()
        self.candidates_text.setReadOnly(True)
        self.candidates_text.setMaximumHeight(130)
        self.tasks = TaskPanel()

        form = QFormLayout()
        form.addRow("4D-STEM layer", self.layer_combo)
        form.addRow("Phases", self.phase_list)
        form.addRow("", add_cif)
        form.addRow("Voltage (kV)", self.voltage_edit)
        form.addRow("Calibration", self.calibration_edit)
        form.addRow("Library resolution (deg)", self.resolution)
        form.addRow("Precession (deg)", self.precession)
        form.addRow("Relrod width (1/A)", self.relrod)
        form.addRow("Gamma", self.gamma)
        form.addRow("Centre", self.centre_combo)
        form.addRow("Background", self.background_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.run_button)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Top candidates"))
        layout.addWidget(self.candidates_text)
        layout.addWidget(self.tasks)

    # -- inputs --------------------------------------------------------------------------------
    def add_cif(self, path):
        """Add (and tick) a CIF file to the phase list."""
        from pathlib import Path

        item = QListWidgetItem(Path(path).stem)
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.phase_list.addItem(item)

    def _add_cif_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Phase CIF file", "", "CIF (*.cif)")
        if path:
            self.add_cif(path)

    def set_phases(self, names):
        """Tick exactly the phases named (shipped names or added CIF stems)."""
        for i in range(self.phase_list.count()):
            item = self.phase_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    def phases(self) -> list[str]:
        out = [self.phase_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.phase_list.count())
               if self.phase_list.item(i).checkState() == Qt.CheckState.Checked]
        if not out:
            raise StemlabError("Tick at least one phase (or add a CIF file).")
        return out

    def source_layer(self):
        name = self.layer_combo.currentText()
        if not name or name not in self.viewer.layers:
            raise StemlabError("Open a 4D-STEM dataset first (File > Open, or File > Open Sample > STEM lab).")
        return self.viewer.layers[name]

    def options(self) -> dict:
        opts = {"voltage": self.voltage_edit.text().strip() or None, "resolution": self.resolution.value(),
                "precession": self.precession.value(), "gamma": self.gamma.value(),
                "s_width": self.relrod.value() if self.relrod.value() >= 0.001 else "auto",
                "centre": self.centre_combo.currentText(), "background": self.background_combo.currentText()}
        cal = self.calibration_edit.text().strip()
        if cal:
            opts["calibration"] = float(cal) if _is_number(cal) else cal
        return opts

    # -- preview -------------------------------------------------------------------------------
    def _matcher_for(self, ds, opts):
        from ..calibration import parse_reciprocal, parse_voltage
        from ..orientation import build_library
        from ..orientation.matching import Matcher, MatchSettings
        from ..units import convert

        cal = opts.get("calibration")
        if cal is None:
            ax = ds.sig_axes[-1]
            if not ax.units.startswith("1/"):
                raise StemlabError("The layer has no reciprocal calibration: enter the reciprocal pixel size.")
            cal = convert(ax.scale, ax.units, "1/angstrom")
        elif not isinstance(cal, float):
            v, u = parse_reciprocal(cal)
            cal = convert(v, u, "1/angstrom")
        voltage = parse_voltage(opts["voltage"]) if opts.get("voltage") else 200.0
        s_width = opts["s_width"]
        if s_width == "auto":  # the width the last run measured, else the default
            s_width = self.result.library.params["s_width"] if self.result is not None else 0.02
        key = (tuple(self.phases()), cal, voltage, opts["resolution"], opts["precession"], s_width, opts["gamma"],
               opts["centre"], opts["background"], ds.sig_shape)
        if key != self._matcher_key:
            g_edge = float(np.hypot(*ds.sig_shape)) / 2 * cal
            lib = build_library(self.phases(), voltage_kv=voltage, resolution_deg=opts["resolution"],
                                precession_deg=opts["precession"], s_width=s_width, g_max=min(g_edge, 4.0))
            centre = [(-a.offset / a.scale if a.units.startswith("1/") and a.offset < 0 else a.size // 2)
                      for a in ds.sig_axes]
            st = MatchSettings(calibration=cal, gamma=opts["gamma"], centre=opts["centre"],
                               background=opts["background"])
            self._matcher = Matcher(lib, st, ds.sig_shape, "cpu", centre)
            self._matcher_key = key
        return self._matcher

    def current_index(self, ds) -> tuple[int, ...]:
        n = len(ds.nav_axes)
        step = self.viewer.dims.current_step
        return tuple(int(min(max(s, 0), a.size - 1)) for s, a in zip(step[:n], ds.nav_axes))

    def preview(self, index=None):
        """Match the pattern at the current (or given) scan position; overlay spots and list candidates."""
        try:
            ds = layer_to_dataset(self.source_layer())
            matcher = self._matcher_for(ds, self.options())
            index = self.current_index(ds) if index is None else tuple(index)
            pattern = np.asarray(ds.data[index])
            cands = matcher.candidates(pattern, n=5)
        except StemlabError as error:
            from napari.utils.notifications import show_error

            show_error(str(error))
            return None
        lines = [f"{i + 1}. {c['phase_name']:<10} score {c['score']:.3f}  in-plane {c['angle']:6.1f} deg"
                 f"{'  (mirror)' if c['mirror'] else ''}  beam ~ {np.round(c['direction'], 2)}"
                 for i, c in enumerate(cands)]
        self.candidates_text.setPlainText(f"position {index}\n" + "\n".join(lines))
        best = cands[0]
        spots = matcher.orientation_spots(best["phase"], best["rotation"], best["centre"])
        self._show_spots(ds, spots)
        return cands

    def _show_spots(self, ds, spots):
        sig = ds.sig_axes
        pts = np.c_[spots["rows"] * sig[0].scale + sig[0].offset, spots["cols"] * sig[1].scale + sig[1].offset]
        labels = ["".join(str(v) for v in h) for h in spots["hkl"]]
        if SPOTS_LAYER in self.viewer.layers:
            self.viewer.layers.remove(SPOTS_LAYER)
        self.viewer.add_points(pts, name=SPOTS_LAYER, size=4 * sig[0].scale, face_color="transparent",
                               units=napari_units(a.units for a in sig),
                               border_color="yellow", features={"hkl": labels},
                               text={"string": "{hkl}", "size": 8, "color": "yellow", "translation": [-3 * sig[0].scale, 0]})

    # -- run -----------------------------------------------------------------------------------
    def run(self):
        from ..orientation import index_orientations

        try:
            layer = self.source_layer()
            ds = layer_to_dataset(layer)
            opts = self.options()
            phases = self.phases()
        except StemlabError as error:
            from napari.utils.notifications import show_error

            show_error(str(error))
            return None
        self._source_name = layer.name
        self._width_measured = opts["s_width"] == "auto"
        return self.tasks.run(index_orientations, self._show_result, "Orientation mapping", data=ds,
                              phases=phases, **opts)

    def _show_result(self, result):
        self.result = result
        maps = result.datasets()
        names = result.phase_names
        self.candidates_text.setPlainText(f"indexed with relrod width {result.library.params['s_width']:.4f} 1/A"
                                          f"{' (measured)' if self._width_measured else ''}")
        scan = explorer_for(self.viewer, self.viewer.layers[self._source_name]).scan_view
        for key, ds in maps.items():
            name = f"{self._source_name} {ds.name}"
            if key == "phase":
                data, kwargs, _ = labels_layer_data(ds, name=name)
                kwargs["features"] = {"phase": ["none"] + names}
                layer = scan.show_layer(data, kwargs, "labels")
            elif key.startswith("ipf"):
                data, kwargs, _ = image_layer_data(ds, name=name, rgb=True)
                for k in ("scale", "translate", "units", "axis_labels"):
                    kwargs[k] = tuple(kwargs[k])[:-1]
                kwargs.pop("contrast_limits", None)
                layer = scan.show_layer(data, kwargs, "image")
            else:
                data, kwargs, _ = image_layer_data(ds, name=name, colormap="viridis")
                kwargs.pop("contrast_limits", None)
                layer = scan.show_layer(data, kwargs, "image")
            layer.mouse_drag_callbacks.append(self._clicked)

    def _clicked(self, layer, event):
        idx = tuple(int(round(v)) for v in layer.world_to_data(event.position)[: layer.ndim])
        if layer.rgb:
            idx = idx[: layer.ndim - 1] if len(idx) >= layer.ndim else idx
        shape = self.result.nav_shape if self.result is not None else ()
        if len(idx) < len(shape) or any(not 0 <= i < n for i, n in zip(idx, shape)):
            return
        idx = idx[: len(shape)]
        step = list(self.viewer.dims.current_step)
        for axis, value in enumerate(idx):
            if axis < len(step):
                step[axis] = value
        self.viewer.dims.current_step = tuple(step)
        self.preview(idx)


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
