"""Compiled inner loops where numpy would copy or allocate: the live preview and beam centres.

Compiled with numba (``nogil`` so the thread pool runs them in parallel; ``cache`` so the
compilation happens once per machine). The full virtual-detector pass stays a float32
sgemm (see :mod:`stemlab.diffraction.virtual`): measured faster than a compiled
per-pattern loop over mask runs, whose short runs do not vectorise.
"""

from __future__ import annotations

import numba
import numpy as np

from ..backend.dtypes import native_arrays


@native_arrays
@numba.njit(nogil=True, fastmath=True, cache=True)
def crop_dot(crops, weights, out):
    """``out[a, b] = sum(crops[a, b] * weights)``: one detector on a (strided) 2D scan of crops.

    ``crops`` is a view of the detector's bounding box of each pattern (H x W, the shape
    of ``weights``), read straight from the (possibly strided) array: no copy of the crop
    is made when it is in native byte order.
    """
    na, nb = out.shape
    hh, ww = weights.shape
    for a in range(na):
        for b in range(nb):
            acc = np.float32(0.0)
            for r in range(hh):
                for c in range(ww):
                    acc += np.float32(crops[a, b, r, c]) * weights[r, c]
            out[a, b] = acc


@native_arrays
@numba.njit(nogil=True, fastmath=True, cache=True)
def beam_centres(block, threshold, radius, iterations, window, out):
    """Direct-beam centre (row, col) and radius (px) of each pattern of ``block (n, h, w)`` into ``out (n, 3)``.

    The level ``min + threshold * (max - min)`` of the 3x3-smoothed pattern separates the
    beam; the intensity above it gives a weighted centroid, refined ``iterations`` times
    inside a circle of ``window * radius + 1`` px, which drops Bragg disks further out.
    ``radius <= 0`` estimates it from the area above the level.
    """
    n, h, w = block.shape
    smooth = np.empty((h, w), np.float32)
    weight = np.empty((h, w), np.float32)
    rows3 = np.empty((h, w), np.float32)
    for i in range(n):
        for r in range(h):  # separable 3x3 box mean, edges averaged over the pixels that exist
            for c in range(w):
                c0, c1 = max(c - 1, 0), min(c + 2, w)
                acc = np.float32(0.0)
                for cc in range(c0, c1):
                    acc += np.float32(block[i, r, cc])
                rows3[r, c] = acc / np.float32(c1 - c0)
        lo = np.float32(np.inf)
        hi = np.float32(-np.inf)
        for r in range(h):
            r0, r1 = max(r - 1, 0), min(r + 2, h)
            for c in range(w):
                acc = np.float32(0.0)
                for rr in range(r0, r1):
                    acc += rows3[rr, c]
                value = acc / np.float32(r1 - r0)
                smooth[r, c] = value
                lo = min(lo, value)
                hi = max(hi, value)
        level = lo + np.float32(threshold) * (hi - lo)
        above = 0
        total = 0.0
        sy = 0.0
        sx = 0.0
        for r in range(h):
            for c in range(w):
                v = max(np.float32(block[i, r, c]) - level, np.float32(0.0))
                weight[r, c] = v
                total += v
                sy += v * r
                sx += v * c
                if smooth[r, c] > level:
                    above += 1
        cy = sy / total if total > 0 else (h - 1) / 2
        cx = sx / total if total > 0 else (w - 1) / 2
        rad = radius if radius > 0 else np.sqrt(above / np.pi)
        reach = window * rad + 1.0
        for _ in range(iterations):
            r0, r1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, h)
            c0, c1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, w)
            total = 0.0
            sy = 0.0
            sx = 0.0
            for r in range(r0, r1):
                for c in range(c0, c1):
                    if (r - cy) ** 2 + (c - cx) ** 2 <= reach * reach:
                        v = weight[r, c]
                        total += v
                        sy += v * r
                        sx += v * c
            if total > 0:
                cy, cx = sy / total, sx / total
        out[i, 0] = cy
        out[i, 1] = cx
        out[i, 2] = rad
