"""'Symmetry segmentation' dock widget: segments an image or video layer from local symmetry.

Thin: layer -> Dataset, :func:`stemlab.symmetry.segment` in a worker (TaskPanel), results ->
a Labels layer (input's scale/units, features per segment), PC image layers, and plots of each
segment's mean fingerprint and (videos) phase fraction vs time.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                            QPushButton, QVBoxLayout, QWidget)

from .forms import device_combo, spin_box
from .layers import image_layer_data, labels_layer_data, layer_to_dataset
from .layer_picker import LayerPicker, image_layer
from .tasks import TaskPanel


class SegmentWidget(QWidget):
    """Symmetry-descriptor segmentation of the chosen image/video layer."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.result = None
        self.layer_box = LayerPicker(self.viewer, image_layer(2, 3))
        self.patch = spin_box(0.0, 1e6, 0.0, decimals=4, special="auto")
        self.window = spin_box(0.0, 1e6, 0.0, decimals=4, special="auto")
        self.unit_label = QLabel("")
        self.translations = QCheckBox("translations")
        self.rotations = QCheckBox("rotations 2/3/4/6-fold")
        self.mirrors = QCheckBox("mirrors")
        for box in (self.translations, self.rotations, self.mirrors):
            box.setChecked(True)
        self.n_translations = spin_box(1, 1000, 100)
        self.n_mirrors = spin_box(1, 720, 180)
        self.stride = spin_box(0, 64, 0, special="auto")
        self.segments = spin_box(0, 20, 0, special="auto")
        self.fit_frames = QLineEdit("0")
        self.fit_frames.setToolTip("video frames the model is fitted on, e.g. '0' or '0, 10, 20'")
        self.device = device_combo()
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.tasks = TaskPanel(self)
        self.info = QLabel("")
        self.info.setWordWrap(True)

        form = QFormLayout()
        form.addRow("layer", self.layer_box)
        units = QHBoxLayout()
        units.addWidget(self.patch)
        units.addWidget(self.unit_label)
        form.addRow("patch size", units)
        form.addRow("search window", self.window)
        fam = QHBoxLayout()
        for box in (self.translations, self.rotations, self.mirrors):
            fam.addWidget(box)
        form.addRow("operations", fam)
        form.addRow("number of translations", self.n_translations)
        form.addRow("number of mirror angles", self.n_mirrors)
        form.addRow("stride (px)", self.stride)
        form.addRow("segments", self.segments)
        form.addRow("fit on frames", self.fit_frames)
        form.addRow("device", self.device)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.tasks)
        layout.addWidget(self.info)
        self.canvas, self.figure = _figure()
        if self.canvas is not None:
            layout.addWidget(self.canvas, 1)
        self.layer_box.currentIndexChanged.connect(self._show_units)
        self._show_units()

    # -- layer choice ------------------------------------------------------------------------
    def _show_units(self, *_):
        layer = self._layer()
        unit = ""
        if layer is not None:
            unit = str(layer.units[-1]) if hasattr(layer, "units") else ""
        self.unit_label.setText(unit if unit and unit != "pixel" else "px")

    def _layer(self):
        return self.layer_box.layer()

    # -- running -----------------------------------------------------------------------------
    def parameters(self) -> dict:
        """Keyword arguments for :func:`stemlab.symmetry.segment` from the controls."""
        families = tuple(name for name, box in (("translations", self.translations), ("rotations", self.rotations),
                                                ("mirrors", self.mirrors)) if box.isChecked())
        kwargs = {"families": families, "n_translations": self.n_translations.value(),
                  "n_mirrors": self.n_mirrors.value(), "device": self.device.currentText()}
        if self.patch.value() > 0:
            kwargs["patch"] = self.patch.value()
        if self.window.value() > 0:
            kwargs["window"] = self.window.value()
        if self.stride.value() > 0:
            kwargs["stride"] = self.stride.value()
        kwargs["segments"] = self.segments.value() or "auto"
        text = self.fit_frames.text().strip()
        if text:
            kwargs["fit_frames"] = [int(v) for v in text.replace(",", " ").split()]
        return kwargs

    def run(self):
        from napari.utils.notifications import show_error

        from ..errors import StemlabError
        from ..symmetry import segment

        layer = self._layer()
        if layer is None:
            show_error("Symmetry segmentation: open an image or video layer first.")
            return
        try:
            ds = layer_to_dataset(layer)
            kwargs = self.parameters()
            if ds.ndim == 2:
                kwargs.pop("fit_frames", None)
        except (StemlabError, ValueError) as error:
            show_error(f"Symmetry segmentation: {error}")
            return
        self.tasks.run(segment, self._done, "symmetry segmentation", data=ds, **kwargs)

    def _done(self, result):
        self.result = result
        K = result.n_segments
        labels = result.labels
        fractions = result.fractions.mean(0)
        features = {"index": np.arange(K + 1), "fraction": np.concatenate([[0.0], fractions])}
        data, kwargs, _ = labels_layer_data(labels, features=features)
        self.viewer.add_labels(data, **kwargs)
        for comp in result.components[:3]:
            data, kwargs, _ = image_layer_data(comp, colormap="twilight_shifted", blending="additive", visible=False)
            kwargs.pop("contrast_limits", None)
            self.viewer.add_image(data, **kwargs)
        p = result.parameters
        unit = p["units"] or "px"
        self.info.setText(f"{K} segments; patch {p['patch']:.4g} {unit}, window {p['window']:.4g} {unit}, "
                          f"stride {p['stride']} px, {p['n_operations']} operations")
        self.plot(result)

    def plot(self, result):
        """Fingerprint of each segment (mean descriptor per operation) and, for videos, fractions."""
        if self.figure is None:
            return
        fig = self.figure
        fig.clear()
        video = result.fractions.shape[0] > 1
        ax = fig.add_subplot(211 if video else 111)
        x = np.arange(result.fingerprints.shape[1])
        for k, fp in enumerate(result.fingerprints, start=1):
            ax.plot(x, fp, lw=1, label=f"segment {k}")
        fam = result.operation_families
        top = ax.get_ylim()[1]
        for name in ("translations", "rotations", "mirrors"):  # each family labelled at its middle: the
            idx = np.flatnonzero(fam == name)                  # rotation block is only a few operations wide
            if len(idx):
                if idx[0] > 0:
                    ax.axvline(idx[0] - 0.5, color="0.6", lw=0.5)
                ax.text(idx.mean(), top, name, fontsize=7, va="top", ha="center")
        ax.set_xlabel("operation (translations | rotations | mirrors)")
        ax.set_ylabel("mean correlation")
        ax.legend(fontsize=7)
        if video:
            ax2 = fig.add_subplot(212)
            t_axis = result.labels.axes[0]
            t = t_axis.offset + t_axis.scale * np.arange(result.fractions.shape[0])
            for k in range(result.fractions.shape[1]):
                ax2.plot(t, result.fractions[:, k], label=f"segment {k + 1}")
            ax2.set_xlabel(f"{t_axis.name} ({t_axis.units or 'frame'})")
            ax2.set_ylabel("area fraction")
        fig.tight_layout()
        self.canvas.draw_idle()


def _figure():
    try:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover
        return None, None
    figure = Figure(figsize=(4, 3))
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(220)
    return canvas, figure
