"""Virtual detector images, centre of mass and mean/max pattern in ONE pass over the data.

Each pattern is read once and converted to float32 in a cache-resident buffer; every
detector is a dot product over only the runs of pixels its mask covers, the centre of mass
comes from row and column sums about the pattern centre (keeps float32 moments
accurate), and the sum and max patterns are updated from the same buffer (compiled
kernel: :mod:`stemlab.diffraction.kernels`). Measured ~5x faster than one float32 sgemm
with the masks and moment columns stacked (thin matrix products are not memory-bound).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from ..backend.progress import CancelToken, ProgressCallback
from ..backend.streaming import DEFAULT_BUDGET, stream_reduce
from ..errors import ParameterError
from .detectors import Annulus, Disk, Rectangle, default_name, mask, pixel_bbox

def named_detectors(detectors: Any) -> dict:
    """Normalise detectors (one, a sequence, or ``{name: detector or mask array}``) to a name dict.

    Default names: 'VBF' (Disk), 'ADF' (Annulus), 'VRECT' (Rectangle); repeats get '_2', '_3'.
    """
    if detectors is None:
        return {}
    if isinstance(detectors, (Disk, Annulus, Rectangle)):
        detectors = [detectors]
    if isinstance(detectors, Mapping):
        return dict(detectors)
    out: dict = {}
    for det in detectors:
        base = default_name(det)
        name, i = base, 1
        while name in out:
            i += 1
            name = f"{base}_{i}"
        out[name] = det
    return out


def _mask_of(det, sig_shape, supersample):
    if isinstance(det, (Disk, Annulus, Rectangle)):
        return mask(det, sig_shape, supersample)
    arr = np.asarray(det, dtype=np.float32)
    if arr.shape != tuple(sig_shape):
        raise ParameterError(f"Mask of shape {arr.shape} does not match the pattern shape {tuple(sig_shape)}.")
    return arr


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


class VirtualKernel:
    """Picklable per-block function for :func:`stream_reduce` (see module docstring).

    Returns ``proj (n, k + 3)``: the ``k`` detector sums, then the total intensity and the
    row / column first moments about the pattern centre; with ``patterns`` also the block's
    sum and max pattern. The work is :func:`stemlab.diffraction.kernels.project`.
    """

    def __init__(self, masks: list[np.ndarray], sig_shape: tuple[int, int], com: bool, patterns: bool):
        from .kernels import mask_runs

        h, w = sig_shape
        self.sig_shape, self.com, self.patterns = (h, w), com, patterns
        self.masks = np.ascontiguousarray(np.stack([m.ravel() for m in masks]) if masks
                                          else np.zeros((0, h * w)), dtype=np.float32)
        self.runs, self.first = mask_runs(self.masks)

    def __call__(self, block: np.ndarray) -> dict:
        from .kernels import project

        n = block.shape[0]
        h, w = self.sig_shape
        block = np.ascontiguousarray(block)
        k = self.masks.shape[0]
        proj = np.zeros((n, k + 3), np.float32)
        psum = np.zeros(h * w, np.float64)
        pmax = np.full(h * w, _lowest(block.dtype), block.dtype)
        detectors, moments = proj[:, :k], proj[:, k:]
        project(block, self.masks, self.runs, self.first, self.com, self.patterns, detectors, moments, psum, pmax)
        out: dict = {"proj": proj}
        if self.patterns:
            out["sum_pattern"] = psum.reshape(h, w)
            out["max_pattern"] = pmax.reshape(h, w)
        return out


def virtual_images(data: Any, detectors: Any = (), *, nav_ndim: int = 2, com: bool = True, patterns: bool = True,
                   memory_budget: float = DEFAULT_BUDGET, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None, scheduler: Any = None, threads: int = 2,
                   supersample: int = 4) -> dict:
    """Every virtual detector image, the centre of mass and the mean/max pattern in one pass.

    Parameters
    ----------
    data : numpy / memmap / dask array ``nav_shape + (ky, kx)`` (or a :class:`~stemlab.Dataset`,
        whose navigation axes then set ``nav_ndim``).
    detectors : a detector, a sequence of detectors, or ``{name: detector | float mask (ky, kx)}``.
    com : also return ``'total'`` (summed intensity, counts) and ``'com_y'``, ``'com_x'``
        (centre of mass in detector pixels, row/column, NaN where the pattern sums to 0).
    patterns : also return ``'mean_pattern'`` (float64, counts per pattern) and
        ``'max_pattern'`` (input dtype) over all navigation positions.
    memory_budget, progress, cancel, scheduler, threads : see :func:`stemlab.backend.stream_reduce`.

    Returns a dict of arrays: one float32 image of ``nav_shape`` per detector name, plus
    the entries above.
    """
    from ..dataset import Dataset

    if isinstance(data, Dataset):
        nav_ndim = len(data.nav_axes)
        data = data.data
    if data.ndim - nav_ndim != 2:
        raise ParameterError(f"Virtual detectors need 2D patterns: array of shape {tuple(data.shape)} "
                             f"with nav_ndim={nav_ndim} leaves {data.ndim - nav_ndim} signal dimensions.")
    if np.dtype(data.dtype).kind == "c":
        raise ParameterError("Complex patterns are not supported by virtual detectors; pass |data|**2.")
    sig_shape = tuple(int(n) for n in data.shape[nav_ndim:])
    nav_shape = tuple(int(n) for n in data.shape[:nav_ndim])
    dets = named_detectors(detectors)
    masks = [_mask_of(d, sig_shape, supersample) for d in dets.values()]
    kernel = VirtualKernel(masks, sig_shape, com, patterns)
    res = stream_reduce(data, kernel, nav_ndim=nav_ndim, memory_budget=memory_budget, progress=progress,
                        cancel=cancel, scheduler=scheduler, threads=threads,
                        reduce={"sum_pattern": "sum", "max_pattern": "max"} if patterns else None,
                        message="virtual detectors")
    proj = res["proj"]
    out: dict = {name: np.ascontiguousarray(proj[..., i]) for i, name in enumerate(dets)}
    if com:
        k = len(dets)
        total = proj[..., k].astype(np.float64)
        h, w = sig_shape
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = total > 0
            out["com_y"] = np.where(ok, proj[..., k + 1] / np.where(ok, total, 1), np.nan) + (h - 1) / 2
            out["com_x"] = np.where(ok, proj[..., k + 2] / np.where(ok, total, 1), np.nan) + (w - 1) / 2
        out["total"] = proj[..., k].copy()
    if patterns:
        out["mean_pattern"] = res["sum_pattern"] / max(1, math.prod(nav_shape))
        out["max_pattern"] = res["max_pattern"]
    return out


def virtual_images_dataset(ds, detectors: Any = (), **kwargs) -> dict:
    """:func:`virtual_images` on a :class:`~stemlab.Dataset`, returning Datasets.

    Images (detectors, 'total', 'com_y', 'com_x') carry the navigation axes of ``ds``
    (names, scale, offset, units); 'mean_pattern' and 'max_pattern' carry its signal axes.
    CoM values stay in detector pixels here; see :mod:`stemlab.diffraction.com` for
    calibrated values.
    """
    from dataclasses import replace

    nav_axes = tuple(replace(a, navigate=False) for a in ds.nav_axes)
    sig_axes = ds.sig_axes
    res = virtual_images(ds, detectors, **kwargs)
    kind = {1: "spectrum", 2: "image"}.get(len(nav_axes), "stack")
    out = {}
    for name, arr in res.items():
        if name in ("mean_pattern", "max_pattern"):
            out[name] = ds.with_data(arr, axes=sig_axes, kind="diffraction", name=f"{ds.name} {name}".strip())
        else:
            out[name] = ds.with_data(arr, axes=nav_axes, kind=kind, name=f"{ds.name} {name}".strip())
    return out
