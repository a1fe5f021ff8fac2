"""Crystal classification widget: structure + zone axis per window, with uncertainty, rotation, lattice constant.

The form (:func:`classification_parameters`, magicgui) picks a 2D image layer (or the current
frame of a stack); :func:`stemlab.classifier.inference.classify` runs in a worker and adds six
layers on the window grid, calibrated in the input's units and placed on it: predicted class
(Labels, class names as features, with a legend), class probability, uncertainty (mutual
information, bits), unknown/interface mask, ambiguous mask (spacing twins: the summary names
the two readings), in-plane lattice rotation (degrees) and lattice constant (angstrom); only the
class map is shown, the others are listed hidden. The *phases* box takes what the user knows
(shipped names or CIF paths, and/or family:a entries) and resolves spacing twins.
"""

from typing import Annotated, Literal

import numpy as np
from qtpy.QtWidgets import QLabel

from ..classifier.inference import DEFAULT_PASSES, DEFAULT_THRESHOLD, DEFAULT_WINDOW
from ..dataset import Dataset
from ..errors import ParameterError
from .form import DEVICE_TOOLTIP, AnalysisWidget, image_layer
from .layers import add_results, image_layer_data, labels_layer_data, layer_to_dataset
from .legend import Legend

TITLE = "Crystal classification"


def _classifiable(layer) -> bool:
    """Grey-level images and stacks that are not themselves classification results."""
    return image_layer(2)(layer) and not (isinstance(layer.metadata, dict) and "classification" in layer.metadata)


def classification_parameters(
    image,
    window: Annotated[float, {"min": 6.0, "max": 24.0, "step": 0.5, "label": "window (Å)",
                              "tooltip": "Window side in angstrom (the classifier was trained on ~10-14 Å)"}]
    = DEFAULT_WINDOW,
    stride: Annotated[float, {"min": 0.0, "max": 10000.0, "step": 1.0, "label": "stride (px)",
                              "tooltip": "Step between windows in image pixels (0: a quarter window)"}] = 0.0,
    passes: Annotated[int, {"min": 1, "max": 500, "tooltip": "Stochastic passes per window (Monte-Carlo "
                                                             "dropout, shared out among the ensemble's networks)"}]
    = DEFAULT_PASSES,
    threshold: Annotated[float, {"min": 0.0, "max": 4.0, "step": 0.02, "label": "uncertainty threshold (bits)",
                                 "tooltip": "Windows whose mutual information exceeds this are 'unknown / "
                                            "interface' (so are windows whose lattice constant is > 5 % outside "
                                            "their class's range)"}] = DEFAULT_THRESHOLD,
    lattice: Annotated[bool, {"label": "rotation and lattice constant"}] = True,
    phases: Annotated[str, {"label": "phases (optional)",
                            "tooltip": "What the specimen contains, comma separated: shipped phase names or CIF "
                                       "paths (alpha-Fe, Cu, Al, Ni, Ag, Au, austenite, Ti, Mg) and/or family:a "
                                       "entries (bcc:2.87, fcc:3.61, hcp:2.95:4.68). Restricts the classes and "
                                       "lattice constants and resolves spacing twins; empty: twins are shown as "
                                       "'ambiguous'"}] = "",
    device: Annotated[Literal["auto", "cpu", "cuda"], {"tooltip": DEVICE_TOOLTIP}] = "auto",
) -> dict:
    """The form's values as keyword arguments of :func:`stemlab.classifier.inference.classify` (plus ``layer``)."""
    if image is None:
        raise ParameterError("no image layer to classify: open an atomic-resolution HAADF image first.")
    entries = [e.strip() for e in phases.split(",") if e.strip()]
    cifs = [e for e in entries if ":" not in e or e.lower().endswith(".cif")]
    cells = [e for e in entries if e not in cifs]
    if entries and not lattice:
        raise ParameterError("phases need the lattice-constant measurement: tick 'rotation and lattice constant'.")
    return {"layer": image, "window": window, "stride": stride or None, "passes": passes,
            "threshold": threshold, "lattice": cells or lattice, "phases": cifs or None, "device": device}


class ClassifyWidget(AnalysisWidget):
    """Dock widget for Bayesian-CNN crystal classification of a HAADF image layer."""

    title = TITLE
    specials = {"stride": "quarter window"}

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, classification_parameters, {"image": _classifiable})
        self.result_layers = []
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.legend = Legend()
        self.finish_layout(self.legend, self.summary)

    # -- layers ------------------------------------------------------------------------
    def input_dataset(self, layer) -> Dataset:
        """``layer`` as a 2D calibrated Dataset (the current frame of a stack)."""
        ds = layer_to_dataset(layer)
        while ds.ndim > 2:
            step = int(self.viewer.dims.current_step[ds.ndim - 3]) if ds.ndim - 3 < self.viewer.dims.ndim else 0
            index = min(max(step, 0), ds.shape[0] - 1)
            ds = Dataset(np.asarray(ds.data[index]), ds.axes[1:], kind="image", name=f"{ds.name} [{index}]",
                         metadata=ds.metadata, source=ds.source)
        return ds

    # -- run -----------------------------------------------------------------------------
    def start(self, kwargs):
        from ..classifier.descriptor import window_pixels
        from ..classifier.inference import classify, image_pixel_size
        from ..classifier.priors import resolve_priors

        layer = kwargs.pop("layer")
        ds = self.input_dataset(layer)
        image_pixel_size(ds)  # fail here, before any worker, when the calibration is missing
        window_pixels(kwargs["window"])
        resolve_priors(kwargs["phases"], None if isinstance(kwargs["lattice"], bool) else kwargs["lattice"])
        self._source = ds
        return self.tasks.run(classify, self._done, TITLE, inputs=[layer], data=ds, **kwargs)

    def _done(self, result):
        ds = self._source
        self.result = result
        base = ds.name or "image"
        maps = result.datasets(ds)
        info = maps["labels"].metadata["classification"]
        names = list(info["class_names"])
        features = {"index": np.arange(len(names) + 1), "class": ["none"] + names}
        uncertainty = maps["uncertainty"].data
        layers = [
            labels_layer_data(maps["labels"], name=f"{base} class", features=features, opacity=0.5),
            image_layer_data(maps["probability"], name=f"{base} probability", colormap="viridis",
                             contrast_limits=(0.0, 1.0)),
            image_layer_data(maps["uncertainty"], name=f"{base} uncertainty (bits)",
                             colormap="magma", contrast_limits=(0.0, max(0.5, float(np.nanmax(uncertainty))))),
            labels_layer_data(maps["unknown"], name=f"{base} unknown", opacity=0.6),
            labels_layer_data(maps["ambiguous"], name=f"{base} ambiguous", opacity=0.6),
            image_layer_data(maps["rotation"], name=f"{base} rotation (deg)", colormap="twilight",
                             contrast_limits=(0.0, info["rotation_period_deg"])),
            image_layer_data(maps["lattice_constant"], name=f"{base} lattice constant (Å)",
                             colormap="viridis", contrast_limits=_limits(maps["lattice_constant"].data)),
        ]
        self.result_layers = add_results(self.viewer, layers, TITLE)
        value = info["label_values"]  # class name -> its value in the labels map
        present = set(np.unique(np.asarray(maps["labels"].data)).tolist())
        self.legend.show_labels(self.result_layers[0], {value[n]: n for n in names if value[n] in present},
                                title=f"{base} class")
        self.summary.setText(result.summary())

def _limits(values) -> tuple[float, float]:
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(finite, [2, 98])
    return (float(lo), float(hi if hi > lo else lo + 1e-3))
