"""Crystal classification widget: structure + zone axis per window, with uncertainty, rotation, lattice constant.

Picks a 2D image layer (or the current frame of a stack), runs
:func:`stemlab.classifier.inference.classify` in a worker and adds six layers on the window
grid, calibrated in the input's units and placed on it: predicted class (Labels, class names
as features), class probability, uncertainty (mutual information, bits), unknown/interface
mask, in-plane lattice rotation (degrees) and lattice constant (angstrom).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..dataset import Dataset
from ..errors import StemlabError
from .forms import device_combo, spin_box
from .layers import image_layer_data, labels_layer_data, layer_to_dataset
from .layer_picker import LayerPicker, image_layer
from .tasks import TaskPanel


def _classifiable(layer) -> bool:
    """Grey-level images and stacks that are not themselves classification results."""
    return image_layer(2)(layer) and not (isinstance(layer.metadata, dict) and "classification" in layer.metadata)


class ClassifyWidget(QWidget):
    """Dock widget for Bayesian-CNN crystal classification of a HAADF image layer."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.result = None
        self.result_layers = []
        self.layer_combo = LayerPicker(self.viewer, _classifiable)
        self.window = spin_box(6.0, 24.0, 12.0, decimals=2, suffix=" Å",
                               tooltip="Window side in angstrom (the classifier was trained on ~10-14 Å)")
        self.stride = spin_box(0.0, 10000.0, 0.0, decimals=2, suffix=" px", special="quarter window",
                               tooltip="Step between windows in image pixels (0: a quarter window)")
        self.passes = spin_box(1, 500, 30, tooltip="Stochastic passes per window (Monte-Carlo dropout, shared "
                                                   "out among the ensemble's networks)")
        self.threshold = spin_box(0.0, 4.0, 0.1, decimals=3, step=0.02, suffix=" bits",
                                  tooltip="Windows whose mutual information exceeds this are 'unknown / "
                                          "interface' (so are windows whose lattice constant is > 5 % outside "
                                          "their class's range)")
        self.lattice = QCheckBox("rotation and lattice constant")
        self.lattice.setChecked(True)
        self.device = device_combo()
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.tasks = TaskPanel()

        form = QFormLayout()
        form.addRow("image", self.layer_combo)
        form.addRow("window", self.window)
        form.addRow("stride", self.stride)
        form.addRow("passes", self.passes)
        form.addRow("uncertainty threshold", self.threshold)
        form.addRow("device", self.device)
        form.addRow(self.lattice)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.tasks)
        layout.addWidget(self.summary)
        layout.addStretch(1)


    # -- layers ------------------------------------------------------------------------
    def input_dataset(self) -> Dataset:
        """The chosen layer as a 2D calibrated Dataset (the current frame of a stack)."""
        name = self.layer_combo.currentText()
        if not name:
            raise StemlabError("No image layer to classify: open an atomic-resolution HAADF image first.")
        ds = layer_to_dataset(self.viewer.layers[name])
        while ds.ndim > 2:
            step = int(self.viewer.dims.current_step[ds.ndim - 3]) if ds.ndim - 3 < self.viewer.dims.ndim else 0
            index = min(max(step, 0), ds.shape[0] - 1)
            ds = Dataset(np.asarray(ds.data[index]), ds.axes[1:], kind="image", name=f"{ds.name} [{index}]",
                         metadata=ds.metadata, source=ds.source)
        return ds

    # -- run -----------------------------------------------------------------------------
    def run(self):
        from napari.utils.notifications import show_error

        from ..classifier.descriptor import window_pixels
        from ..classifier.inference import classify, image_pixel_size

        try:
            ds = self.input_dataset()
            image_pixel_size(ds)  # fail here, before any worker, when the calibration is missing
            window_pixels(self.window.value())
        except StemlabError as error:
            show_error(str(error))
            return
        self._source = ds
        stride = self.stride.value() or None
        self.tasks.run(classify, self._done, "Crystal classification", data=ds, window=self.window.value(),
                       stride=stride, passes=self.passes.value(), threshold=self.threshold.value(),
                       lattice=self.lattice.isChecked(), device=self.device.currentText())

    def _done(self, result):
        ds = self._source
        self.result = result
        base = ds.name or "image"
        names = list(result.class_names)
        features = {"index": np.arange(len(names) + 1), "class": ["none"] + names}
        layers = [
            labels_layer_data(result.dataset("labels", ds), name=f"{base} class", features=features, opacity=0.5),
            image_layer_data(result.dataset("probability", ds), name=f"{base} probability", colormap="viridis",
                             contrast_limits=(0.0, 1.0), visible=False),
            image_layer_data(result.dataset("uncertainty", ds), name=f"{base} uncertainty (bits)",
                             colormap="magma", contrast_limits=(0.0, max(0.5, float(np.nanmax(result.uncertainty)))),
                             visible=False),
            labels_layer_data(result.dataset("unknown", ds), name=f"{base} unknown", opacity=0.6),
            image_layer_data(result.dataset("rotation", ds), name=f"{base} rotation (deg)", colormap="twilight",
                             contrast_limits=(0.0, result.rotation_period()), visible=False),
            image_layer_data(result.dataset("lattice_constant", ds), name=f"{base} lattice constant (Å)",
                             colormap="viridis", contrast_limits=_limits(result.lattice_constant), visible=False),
        ]
        self.result_layers = []
        for data, kwargs, kind in layers:
            kwargs.pop("contrast_limits", None) if kind == "labels" else None
            add = self.viewer.add_labels if kind == "labels" else self.viewer.add_image
            self.result_layers.append(add(data, **kwargs))
        self.summary.setText(result.summary())


def _limits(values) -> tuple[float, float]:
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(finite, [2, 98])
    return (float(lo), float(hi if hi > lo else lo + 1e-3))
