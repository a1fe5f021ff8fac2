"""'Symmetry segmentation' dock widget: segments an image or video layer from local symmetry.

Thin: the form (:func:`segmentation_parameters`, magicgui) -> :func:`stemlab.symmetry.segment`
in a worker (TaskPanel) -> a Labels layer (input's scale/units, features per segment) with a
legend, PC image layers (hidden), and plots of each segment's mean fingerprint and (videos)
phase fraction vs time, drawn in the labels' colours.
"""

from typing import Annotated, Literal

import numpy as np
from qtpy.QtWidgets import QLabel

from ..errors import ParameterError
from .form import DEVICE_TOOLTIP, AnalysisWidget, image_layer
from .layers import add_results, image_layer_data, labels_layer_data, layer_to_dataset
from .legend import Legend, label_colours

TITLE = "Symmetry segmentation"


def segmentation_parameters(
    image,
    patch: Annotated[float, {"min": 0.0, "max": 1e6, "step": 0.01, "label": "patch size",
                             "tooltip": "Gaussian patch, 4 sigma across, in the image's units (auto: 2 "
                                        "lattice spacings)"}] = 0.0,
    window: Annotated[float, {"min": 0.0, "max": 1e6, "step": 0.01, "label": "search window",
                              "tooltip": "Diameter of the shifts searched, in the image's units (auto: 3 "
                                         "lattice spacings)"}] = 0.0,
    translations: bool = True,
    rotations: Annotated[bool, {"label": "rotations 2/3/4/6-fold"}] = True,
    mirrors: bool = True,
    n_translations: Annotated[int, {"min": 1, "max": 1000, "label": "number of translations"}] = 100,
    n_mirrors: Annotated[int, {"min": 1, "max": 720, "label": "number of mirror angles"}] = 180,
    # whole numbers in float boxes: only Qt's own spin boxes show 'auto' at their minimum
    stride: Annotated[float, {"min": 0, "max": 64, "step": 1, "label": "stride (px)",
                              "tooltip": "Descriptor grid step (auto: a quarter lattice spacing)"}] = 0,
    segments: Annotated[float, {"min": 0, "max": 20, "step": 1, "tooltip": "Number of segments (auto: chosen "
                                                                           "by silhouette)"}] = 0,
    fit_frames: Annotated[str, {"label": "fit on frames",
                                "tooltip": "video frames the model is fitted on, e.g. '0' or '0, 10, 20'"}] = "0",
    device: Annotated[Literal["auto", "cpu", "cuda"], {"tooltip": DEVICE_TOOLTIP}] = "auto",
) -> dict:
    """The form's values as keyword arguments of :func:`stemlab.symmetry.segment` (plus ``layer``)."""
    if image is None:
        raise ParameterError("open an image or video layer first (File > Open, or File > Open Sample > "
                             "STEM lab > HAADF image).")
    families = tuple(name for name, on in (("translations", translations), ("rotations", rotations),
                                           ("mirrors", mirrors)) if on)
    if not families:
        raise ParameterError("tick at least one of 'translations', 'rotations', 'mirrors'.")
    kwargs = {"layer": image, "families": families, "n_translations": n_translations, "n_mirrors": n_mirrors,
              "device": device, "segments": int(segments) or "auto"}
    for name, value in (("patch", patch), ("window", window), ("stride", int(stride))):
        if value > 0:
            kwargs[name] = value
    if image.data.ndim == 3 and fit_frames.strip():
        try:
            kwargs["fit_frames"] = [int(v) for v in fit_frames.replace(",", " ").split()]
        except ValueError:
            raise ParameterError(f"'fit on frames' {fit_frames!r}: give frame numbers, e.g. '0' or "
                                 f"'0, 10, 20'.") from None
    return kwargs


class SegmentWidget(AnalysisWidget):
    """Symmetry-descriptor segmentation of the chosen image/video layer."""

    title = TITLE
    specials = {"patch": "auto", "window": "auto", "stride": "auto", "segments": "auto"}

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, segmentation_parameters, {"image": image_layer(2, 3)})
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.legend = Legend()
        self.canvas, self.figure = _figure()
        extra = [self.info, self.legend] + ([self.canvas] if self.canvas is not None else [])
        self.finish_layout(*extra, stretch=self.canvas)
        for name in ("stride", "segments"):
            self.form[name].native.setDecimals(0)
        self.form.image.changed.connect(self._show_units)
        self._show_units()

    def _show_units(self, *_):
        layer = self.form.image.value
        unit = str(layer.units[-1]) if layer is not None else ""
        unit = unit if unit and unit != "pixel" else "px"
        self.form.patch.label = f"patch size ({unit})"
        self.form.window.label = f"search window ({unit})"

    def start(self, kwargs):
        from ..symmetry import segment

        layer = kwargs.pop("layer")
        self._source_name = layer.name
        return self.tasks.run(segment, self._done, TITLE, inputs=[layer], data=layer_to_dataset(layer), **kwargs)

    def _done(self, result):
        self.result = result
        K = result.n_segments
        fractions = result.fractions.mean(0)
        features = {"index": np.arange(K + 1), "segment": ["none"] + [f"segment {k}" for k in range(1, K + 1)],
                    "fraction": np.concatenate([[0.0], fractions])}
        name = f"{self._source_name} segments"
        maps = result.datasets()
        layers = [labels_layer_data(maps["labels"], name=name, features=features, opacity=0.6)]
        for k in range(1, 4):
            if f"PC {k}" not in maps:
                break
            data, kwargs, _ = image_layer_data(maps[f"PC {k}"], colormap="twilight_shifted", blending="additive")
            kwargs.pop("contrast_limits", None)
            layers.append((data, kwargs, "image"))
        labels = add_results(self.viewer, layers, TITLE)[0]
        self.legend.show_labels(labels, {k: f"segment {k} ({fractions[k - 1]:.0%})" for k in range(1, K + 1)},
                                title=name)
        self.info.setText(result.summary())
        self.plot(result, label_colours(labels, range(1, K + 1)))

    def plot(self, result, colours):
        """Fingerprint of each segment (mean descriptor per operation) and, for videos, fractions,
        each segment in its label colour."""
        if self.figure is None:
            return
        fig = self.figure
        fig.clear()
        video = result.fractions.shape[0] > 1
        ax = fig.add_subplot(211 if video else 111)
        x = np.arange(result.fingerprints.shape[1])
        for k, (fp, colour) in enumerate(zip(result.fingerprints, colours), start=1):
            ax.plot(x, fp, lw=1, color=colour, label=f"segment {k}")
        fam = result.operation_families
        top = ax.get_ylim()[1]
        for family in ("translations", "rotations", "mirrors"):  # each family labelled at its middle: the
            idx = np.flatnonzero(fam == family)                   # rotation block is only a few operations wide
            if len(idx):
                if idx[0] > 0:
                    ax.axvline(idx[0] - 0.5, color="0.6", lw=0.5)
                ax.text(idx.mean(), top, family, fontsize=7, va="top", ha="center")
        ax.set_xlabel("operation (translations | rotations | mirrors)")
        ax.set_ylabel("mean correlation")
        ax.legend(fontsize=7)
        if video:
            ax2 = fig.add_subplot(212)
            t_axis = result.labels.axes[0]
            t = t_axis.offset + t_axis.scale * np.arange(result.fractions.shape[0])
            for k, colour in zip(range(result.fractions.shape[1]), colours):
                ax2.plot(t, result.fractions[:, k], color=colour, label=f"segment {k + 1}")
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
