"""Virtual detector images, centre of mass and mean/max pattern in ONE pass over the data.

Per block of ``n`` patterns flattened to ``X (n, P)`` the kernel computes, per detector,
the product of ``X`` restricted to the rows the mask touches with that mask, and for the
centre of mass one product each with the columns ``1``, ``row - r0`` and ``col - c0``
(coordinates centred on the pattern to keep float32 moments accurate). Patterns are
converted to float32 in cache-sized sub-blocks of ``_SUB`` patterns right before the
products, so every product reads the sub-block from cache; the sum and max patterns are
accumulated from the same sub-block. Without
CoM/patterns only the rows of the detectors' bounding boxes are read.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from ..backend.progress import CancelToken, ProgressCallback
from ..backend.streaming import DEFAULT_BUDGET, stream_reduce
from ..errors import ParameterError
from .detectors import Annulus, Disk, Rectangle, default_name, mask

# patterns per float32 sub-block: 8 (2 MiB of 256 x 256 patterns) stays in cache for all the products; measured
# (2 cores, OpenBLAS single-threaded, 256 x 256 uint16, BF + ADF + CoM + sum/max): 55 us a pattern at 8 and 16,
# 68 at 4, 97 at 64, where the CoM's 3-column sgemm (49 us a pattern) made it 137
_SUB = 16


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


def _row_range(masks: list[np.ndarray], h: int) -> tuple[int, int]:
    rows = np.zeros(h, bool)
    for m in masks:
        rows |= m.any(axis=1)
    idx = np.flatnonzero(rows)
    return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 1)


class VirtualKernel:
    """Picklable per-block function for :func:`stream_reduce` (see module docstring).

    Per float32 sub-block ``X (n, P)``: each detector is one matrix-vector product over only
    the pattern rows its mask touches (measured 2x faster than one sgemm with all masks
    stacked: thin products are compute-bound), and with CoM one matrix-vector product each
    with the columns 1, row - centre, col - centre (three take 26 us a 256 x 256 pattern,
    one 3-column sgemm 49). Returns ``proj (n, k [+ 3])``.
    """

    def __init__(self, masks: list[np.ndarray], sig_shape: tuple[int, int], com: bool, patterns: bool):
        h, w = sig_shape
        self.sig_shape, self.com, self.patterns, self.k_det = (h, w), com, patterns, len(masks)
        if com or patterns:
            self.r0, self.r1 = 0, h
        else:
            self.r0, self.r1 = _row_range(masks, h)
        self.spans, self.columns = [], []
        for m in masks:
            rows = np.flatnonzero(m[self.r0:self.r1].any(axis=1))
            first, last = (rows[0], rows[-1] + 1) if rows.size else (0, 0)
            self.spans.append((first * w, last * w))
            self.columns.append(np.ascontiguousarray(m[self.r0 + first:self.r0 + last].ravel(), dtype=np.float32))
        self.moments = None
        if com:
            yy, xx = np.meshgrid(np.arange(h, dtype=np.float32) - (h - 1) / 2,
                                 np.arange(w, dtype=np.float32) - (w - 1) / 2, indexing="ij")
            self.moments = np.stack([np.ones(h * w, np.float32), yy.ravel(), xx.ravel()])  # (3, P), rows contiguous

    def __call__(self, block) -> dict:
        from ..backend.arrays import array_namespace

        xp = array_namespace(block)
        if xp is not np:
            return self._on_device(block, xp)
        n = block.shape[0]
        h, w = self.sig_shape
        k = self.k_det
        x = block[:, self.r0:self.r1, :].reshape(n, (self.r1 - self.r0) * w)
        proj = np.empty((n, k + (3 if self.com else 0)), np.float32)
        convert = x.dtype != np.float32
        buf = np.empty((min(_SUB, n), x.shape[1]), np.float32) if convert else None
        out: dict = {"proj": proj}
        if self.patterns:
            psum = np.zeros(x.shape[1], np.float64)
            pmax = np.full(x.shape[1], _lowest(x.dtype), x.dtype)
            ones = np.ones(min(_SUB, n), np.float32)
        for s in range(0, n, _SUB):
            e = min(s + _SUB, n)
            if convert:
                b = buf[: e - s]
                np.copyto(b, x[s:e], casting="unsafe")
            else:
                b = x[s:e]
            for j, ((a, z), column) in enumerate(zip(self.spans, self.columns)):
                if z > a:
                    np.matmul(b[:, a:z], column, out=proj[s:e, j])
                else:
                    proj[s:e, j] = 0.0
            if self.com:
                for j, moment in enumerate(self.moments):
                    np.matmul(b, moment, out=proj[s:e, k + j])
            if self.patterns:
                psum += ones[: e - s] @ b
                np.maximum(pmax, np.maximum.reduce(x[s:e], axis=0), out=pmax)
        if self.patterns:
            out["sum_pattern"] = psum.reshape(h, w)
            out["max_pattern"] = pmax.reshape(h, w)
        return out


    def _on_device(self, block, xp) -> dict:
        """The same reductions of a GPU block (cupy) with its own namespace: one product with all
        masks (and the moments) stacked, float32 on the device; only the small results come back."""
        from ..backend.arrays import to_host

        n = block.shape[0]
        h, w = self.sig_shape
        x = block.reshape(n, h * w)
        columns = [np.zeros(h * w, np.float32) for _ in range(self.k_det)]
        for j, ((a, z), column) in enumerate(zip(self.spans, self.columns)):
            columns[j][self.r0 * w + a:self.r0 * w + z] = column
        stacked = np.stack(columns + (list(self.moments) if self.com else []), axis=1)
        xf = x.astype(xp.float32)
        out: dict = {"proj": to_host(xf @ xp.asarray(stacked.reshape(h * w, -1)))}
        if self.patterns:
            out["sum_pattern"] = to_host(xf.sum(axis=0, dtype=xp.float64)).reshape(h, w)
            out["max_pattern"] = to_host(x.max(axis=0)).reshape(h, w)
        return out


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf


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
    return images_from_projections(res["proj"], list(dets), sig_shape, com=com,
                                   sum_pattern=res.get("sum_pattern"), max_pattern=res.get("max_pattern"),
                                   count=math.prod(nav_shape))


def images_from_projections(proj: np.ndarray, names: list, sig_shape: tuple[int, int], *, com: bool = True,
                            sum_pattern=None, max_pattern=None, count: int = 1) -> dict:
    """The output of :func:`virtual_images` from :class:`VirtualKernel` projections ``proj (..., k [+ 3])``.

    ``sum_pattern`` (summed over ``count`` patterns) and ``max_pattern`` are optional; the CoM is NaN
    where the pattern sums to 0 (or where ``proj`` is NaN: positions not yet received in a live scan).
    """
    out: dict = {name: np.ascontiguousarray(proj[..., i]) for i, name in enumerate(names)}
    if com:
        k = len(names)
        total = proj[..., k].astype(np.float64)
        h, w = sig_shape
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = total > 0
            out["com_y"] = np.where(ok, proj[..., k + 1] / np.where(ok, total, 1), np.nan) + (h - 1) / 2
            out["com_x"] = np.where(ok, proj[..., k + 2] / np.where(ok, total, 1), np.nan) + (w - 1) / 2
        out["total"] = proj[..., k].copy()
    if sum_pattern is not None:
        out["mean_pattern"] = sum_pattern / max(1, count)
    if max_pattern is not None:
        out["max_pattern"] = max_pattern
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
