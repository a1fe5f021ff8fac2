"""Orientation mapping widget: phases, calibration, library, preview on the current pattern, Run.

The form (:func:`orientation_parameters`, magicgui) plus a list of phases (shipped CIFs and
added files) -> :func:`stemlab.orientation.index_orientations` in a worker. The
maps become layers in the 4D-STEM explorer's scan view (one explorer per 4D layer, docked if
none is open): phase (Labels, phase names as features, with a legend), IPF x/y/z (RGB, with
the IPF colour key of each phase's point group), correlation, orientation reliability and
phase reliability; IPF z is shown, the others are listed hidden. Clicking a result layer
moves the 4D layer to that scan position and overlays the matched template's spots with
their hkl on the pattern; the top candidates with scores are listed in the widget.
"""

from typing import Annotated, Literal

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QPixmap
from qtpy.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPlainTextEdit,
                            QPushButton, QWidget)

from ..errors import ParameterError, StemlabError
from .explorer import explorer_for, is_4dstem_layer
from .form import AnalysisWidget
from .layers import add_results, image_layer_data, labels_layer_data, layer_to_dataset, napari_units
from .legend import Legend
from .tasks import connect, guarded

TITLE = "Orientation mapping"
SPOTS_LAYER = "template spots"
SHOWN_MAP = "ipf_z"  # the map shown after a run (the others are listed, hidden)


def orientation_parameters(
    scan,
    voltage: Annotated[str, {"label": "voltage (kV)", "tooltip": "Beam energy, e.g. 200 or '300 kV'"}] = "200",
    calibration: Annotated[str, {"label": "calibration (1/Å per px)",
                                 "tooltip": "Reciprocal pixel size, e.g. 0.0127 or '0.127 1/nm' (empty: the "
                                            "layer's)"}] = "",
    resolution: Annotated[float, {"min": 0.2, "max": 5.0, "step": 0.1, "label": "library resolution (deg)"}] = 1.0,
    precession: Annotated[float, {"min": 0.0, "max": 3.0, "step": 0.1, "label": "precession (deg)"}] = 0.0,
    relrod: Annotated[float, {"min": 0.0, "max": 0.1, "step": 0.002, "label": "relrod width (1/Å)",
                              "tooltip": "Relrod width of the library templates (1/A), about 1/thickness. 'auto' "
                                         "(below 0.001) measures it on a sample of the patterns when you press "
                                         "Run; the preview then uses the last measured width, else 0.02."}] = 0.02,
    gamma: Annotated[float, {"min": 0.1, "max": 1.0, "step": 0.05,
                             "tooltip": "Intensity exponent of the matching (spots weighted by I**gamma)"}] = 0.5,
    centre: Literal["auto", "fixed"] = "auto",
    background: Literal["none", "tophat"] = "none",
) -> dict:
    """The form's values as keyword arguments of ``index_orientations`` (plus ``layer``)."""
    if scan is None:
        raise ParameterError("open a 4D-STEM dataset first (File > Open, or File > Open Sample > STEM lab).")
    opts = {"layer": scan, "voltage": voltage.strip() or None, "resolution": resolution, "precession": precession,
            "gamma": gamma, "s_width": relrod if relrod >= 0.001 else "auto", "centre": centre,
            "background": background}
    cal = calibration.strip()
    if cal:
        opts["calibration"] = float(cal) if _is_number(cal) else cal
    return opts


class OrientationWidget(AnalysisWidget):
    """Dock widget: index phase and orientation of a 4D-STEM layer (see module docstring)."""

    title = TITLE
    specials = {"relrod": "auto"}

    def __init__(self, napari_viewer):
        from ..crystal.phase import shipped_cifs

        super().__init__(napari_viewer, orientation_parameters, {"scan": is_4dstem_layer})
        self.form.relrod.native.setDecimals(3)
        self._width_measured = False  # whether the last run measured its relrod width
        self._matcher = None
        self._matcher_key = None
        self.phase_list = QListWidget()
        self.phase_list.setMaximumHeight(110)
        for name, path in shipped_cifs().items():
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.phase_list.addItem(item)
        self.layout_.insertWidget(0, QLabel("Phases (tick the candidates)"))
        self.layout_.insertWidget(1, self.phase_list)
        add_cif = connect(QPushButton("Add CIF..."), "Add CIF", self._add_cif_dialog)
        self.layout_.insertWidget(2, add_cif)
        self.preview_button = connect(QPushButton("Preview current pattern"), "Preview", self.preview)
        self.tasks.locks.append(self.preview_button)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.preview_button)
        row.addWidget(self.run_button)
        self.candidates_text = QPlainTextEdit()
        self.candidates_text.setReadOnly(True)
        self.candidates_text.setMaximumHeight(130)
        self.legend = Legend()
        self.ipf_key = QLabel()
        self.ipf_key.hide()
        self.finish_layout(QLabel("Top candidates"), self.candidates_text, self.legend, self.ipf_key,
                           buttons=buttons)

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
                raise StemlabError("the layer has no reciprocal calibration: type the reciprocal pixel size in "
                                   "'calibration (1/Å per px)', e.g. 0.0127.")
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
        opts = self.parameters()
        ds = layer_to_dataset(opts.pop("layer"))
        matcher = self._matcher_for(ds, opts)
        index = self.current_index(ds) if index is None else tuple(index)
        pattern = np.asarray(ds.data[index])
        cands = matcher.candidates(pattern, n=5)
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
    def start(self, kwargs):
        from ..orientation import index_orientations

        layer = kwargs.pop("layer")
        phases = self.phases()
        self._source = layer
        self._width_measured = kwargs["s_width"] == "auto"
        return self.tasks.run(index_orientations, self._show_result, TITLE, inputs=[layer],
                              data=layer_to_dataset(layer), phases=phases, **kwargs)

    def _show_result(self, result):
        self.result = result
        maps = result.datasets()
        names = result.phase_names
        self.candidates_text.setPlainText(f"indexed with relrod width {result.library.params['s_width']:.4f} 1/A"
                                          f"{' (measured)' if self._width_measured else ''}")
        source = self._source
        layers = []
        for key, ds in maps.items():
            name = f"{source.name} {ds.name}"
            if key == "phase":
                data, kwargs, _ = labels_layer_data(ds, name=name)
                kwargs["features"] = {"phase": ["none"] + names}
                layers.append((data, kwargs, "labels"))
            elif key.startswith("ipf"):
                data, kwargs, _ = image_layer_data(ds, name=name, rgb=True)
                for k in ("scale", "translate", "units", "axis_labels"):
                    kwargs[k] = tuple(kwargs[k])[:-1]
                kwargs.pop("contrast_limits", None)
                layers.append((data, kwargs, "image"))
            else:
                data, kwargs, _ = image_layer_data(ds, name=name, colormap="viridis")
                kwargs.pop("contrast_limits", None)
                layers.append((data, kwargs, "image"))
        scan = explorer_for(self.viewer, source).scan_view
        added = add_results(scan.model, layers, TITLE, shown=list(maps).index(SHOWN_MAP))
        scan._keep_probe_on_top()
        for layer in added:
            layer.mouse_drag_callbacks.append(self._clicked)
        phase_layer = added[list(maps).index("phase")]
        self.legend.show_labels(phase_layer, {i + 1: n for i, n in enumerate(names)}, title=phase_layer.name)
        self._show_ipf_key(result)

    def _show_ipf_key(self, result):
        """The IPF colour key (beam direction z) of each phase's point group, beside the legend."""
        self.ipf_key.setPixmap(ipf_key_pixmap([ph.orix_phase().point_group for ph in result.library.phases]))
        self.ipf_key.show()

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
        guarded("Preview", lambda: self.preview(idx))()


def ipf_key_pixmap(point_groups, height: int = 200) -> QPixmap:
    """The TSL IPF colour keys (orix) of ``point_groups`` side by side (one per distinct group)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from orix.plot import IPFColorKeyTSL

    groups = list({pg.name: pg for pg in point_groups}.values())
    figure = Figure(figsize=(2.2 * len(groups), 1.9), dpi=height / 1.9)
    figure.text(0.01, 0.97, "IPF z colour key", fontsize=9, va="top")
    for i, pg in enumerate(groups):
        key = IPFColorKeyTSL(pg).plot(return_figure=True)
        buffer = io.BytesIO()
        key.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        buffer.seek(0)
        import matplotlib.image as mpimg

        ax = figure.add_axes([i / len(groups), 0.0, 1 / len(groups), 0.9])
        ax.imshow(mpimg.imread(buffer))
        ax.set_axis_off()
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
