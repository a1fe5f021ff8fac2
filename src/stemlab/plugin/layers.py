"""Dataset <-> napari layer conversion: every layer keeps scale, translate, units and axis labels.

The Dataset's axes travel in ``layer.metadata['stemlab']`` so a widget can rebuild the exact
calibrated Dataset from any layer stemlab made (and a sensible one from any other layer).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..dataset import Axis, Dataset

META_KEY = "stemlab"
RESULT_KEY = "stemlab_result"  # layer.metadata key naming the analysis that made a result layer
PATTERN_GAMMA = 0.4  # display gamma of diffraction patterns: weak Bragg spots show beside the direct beam


def is_result(layer) -> bool:
    """Whether stemlab made ``layer`` as an analysis result (such layers are never a default input)."""
    return isinstance(layer.metadata, dict) and RESULT_KEY in layer.metadata


def napari_units(units) -> tuple[str, ...]:
    """napari wants pint units; uncalibrated axes are 'pixel'."""
    return tuple(u or "pixel" for u in units)


def layer_kwargs(ds: Dataset, **extra) -> dict:
    """Keyword arguments for a napari layer showing ``ds`` with its calibration."""
    kwargs = {
        "name": ds.name or "data",
        "scale": ds.scale,
        "translate": ds.translate,
        "units": napari_units(ds.units),
        "axis_labels": ds.axis_labels,
        "metadata": {
            **ds.metadata,
            META_KEY: {"kind": ds.kind, "axes": [asdict(a) for a in ds.axes], "source": ds.source,
                       **ds.scan_geometry},
        },
    }
    if ds.is_lazy or ds.data.ndim > 3:
        kwargs["contrast_limits"] = contrast_limits(ds.data)
    if ds.kind in ("4dstem", "diffraction"):  # the direct beam outshines the spots by 100-1000 x
        kwargs["gamma"] = PATTERN_GAMMA
    kwargs.update(extra)
    return kwargs


def viewable(ds: Dataset) -> Dataset:
    """``ds`` with its axes ordered for napari, which shows the last two: a spectrum image
    (y, x, energy) becomes (energy, y, x) so the energy is a slider, not a displayed axis."""
    if ds.kind != "spectrum_image" or ds.ndim < 3:
        return ds
    order = [i for i, a in enumerate(ds.axes) if not a.navigate] + [i for i, a in enumerate(ds.axes) if a.navigate]
    data = ds.data.transpose(order)
    return ds.with_data(data, axes=[ds.axes[i] for i in order])


def image_layer_data(ds: Dataset, **extra) -> tuple:
    """A napari LayerDataTuple ``(data, kwargs, 'image')`` for ``ds``."""
    return (ds.data, layer_kwargs(ds, **extra), "image")


def labels_layer_data(ds: Dataset, **extra) -> tuple:
    """A napari LayerDataTuple ``(data, kwargs, 'labels')`` for an integer map."""
    kwargs = layer_kwargs(ds, **extra)
    kwargs.pop("contrast_limits", None)
    kwargs.pop("gamma", None)
    return (ds.data, kwargs, "labels")


def as_result(layer_data: tuple, analysis: str) -> tuple:
    """``layer_data`` marked as a result of ``analysis`` (see :func:`is_result`)."""
    data, kwargs, kind = layer_data
    kwargs = {**kwargs, "metadata": {**kwargs.get("metadata", {}), RESULT_KEY: analysis}}
    if kind == "labels":
        kwargs.pop("contrast_limits", None)
        kwargs.pop("gamma", None)
    return data, kwargs, kind


def add_results(target, layer_data: list[tuple], analysis: str, shown: int = 0) -> list:
    """Add ``layer_data`` to ``target`` (a viewer or viewer model) as results of ``analysis``,
    replacing layers of the same name. One result at a time is visible: ``layer_data[shown]``;
    the others and earlier results stay listed, hidden."""
    for layer in target.layers:
        if is_result(layer):
            layer.visible = False
    added = []
    for i, item in enumerate(layer_data):
        data, kwargs, kind = as_result(item, analysis)
        name = kwargs.get("name")
        if name in target.layers:
            target.layers.remove(name)
        kwargs["visible"] = i == shown
        added.append(getattr(target, f"add_{kind}")(data, **kwargs))
    return added


def layer_to_dataset(layer) -> Dataset:
    """The calibrated Dataset behind a napari image layer (axes from stemlab metadata if present)."""
    data = layer.data
    info = layer.metadata.get(META_KEY) if isinstance(layer.metadata, dict) else None
    if info and len(info["axes"]) == data.ndim:
        axes = [Axis(**a) for a in info["axes"]]
        # The user may have changed the scale in napari since: the layer wins.
        axes = [Axis(a.name, a.size, float(s), float(t), a.units, a.navigate)
                for a, s, t in zip(axes, layer.scale, layer.translate)]
        return Dataset(data, axes, kind=info["kind"], name=layer.name,
                       metadata={k: v for k, v in layer.metadata.items() if k != META_KEY}, source=info.get("source"),
                       scan_rotation_deg=info.get("scan_rotation_deg", 0.0), scan_flip=info.get("scan_flip", False))
    return _guess_dataset(layer)


def _guess_dataset(layer) -> Dataset:
    """A Dataset for a layer stemlab did not make: 4D -> 4D-STEM, 3D -> video, 2D -> image."""
    data = layer.data
    names = {4: ("scan_y", "scan_x", "ky", "kx"), 3: ("t", "y", "x"), 2: ("y", "x")}.get(data.ndim)
    if names is None:
        names = tuple(f"axis{i}" for i in range(data.ndim))
    kind = {4: "4dstem", 3: "video", 2: "image"}.get(data.ndim, "stack")
    navigate = [i < data.ndim - 2 for i in range(data.ndim)]
    units = [str(u) if str(u) != "pixel" else "" for u in getattr(layer, "units", [""] * data.ndim)]
    axes = [Axis(n, s, float(sc), float(t), _safe_unit(u), nav)
            for n, s, sc, t, u, nav in zip(names, data.shape, layer.scale, layer.translate, units, navigate)]
    return Dataset(data, axes, kind=kind, name=layer.name)


def _safe_unit(unit: str) -> str:
    from ..errors import CalibrationError
    from ..units import normalize_unit

    try:
        return normalize_unit(unit)
    except CalibrationError:
        return ""


def contrast_limits(data) -> tuple[float, float]:
    """Contrast limits from a small sample of the data (never reads a lazy array in full)."""
    sample = data
    while sample.ndim > 2:
        sample = sample[sample.shape[0] // 2]
    sample = np.asarray(sample, dtype=np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = np.percentile(finite, [0.5, 99.8])
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        high = low + 1.0
    return (float(low), float(high))

