"""Compiled CPU kernel of the translation descriptors.

For a translation t = (dy, dx) and a grid point x the Pearson correlation needs one windowed
cross product sum_r w(r) I(x + r) I(x + r + t); with the separable window w = g (x) g this is
a column filter of the product image at the grid's rows followed by a row filter at the
grid's columns: O(rows on the grid x width x window) per translation, no FFT, no shifted
copies of the image. The local means and variances (shared by all translations) are passed
in at every pixel, so the correlation is finished in the same pass.
"""

from __future__ import annotations

import numba
import numpy as np

from ..backend.dtypes import native_arrays


@native_arrays
@numba.njit(parallel=True, nogil=True, fastmath=True, cache=True)
def translation_correlations(image, mean, var, g, shifts, p0, stride, gh, gw, out):
    """Fill ``out (n_t, gh, gw)`` with the windowed Pearson correlation between the patch at
    grid point (i, j) (padded pixel (p0 + i s, p0 + j s)) and the patch shifted by each
    ``shifts[t] = (dy, dx)``. ``image``, ``mean``, ``var``: padded (Hp, Wp) float32 (``mean``
    and ``var`` of the window ``g (x) g`` at every pixel); ``g``: (L,) window, L = 2R + 1."""
    L = g.shape[0]
    R = (L - 1) // 2
    wn = (gw - 1) * stride + L
    c0 = p0 - R
    n_t = shifts.shape[0]
    for job in numba.prange(n_t * gh):
        t = job // gh
        i = job - t * gh
        dy = shifts[t, 0]
        dx = shifts[t, 1]
        col = np.zeros(wn, np.float32)
        r0 = p0 + i * stride - R
        for k in range(L):
            gk = g[k]
            a = image[r0 + k, c0:c0 + wn]  # views: plain 0-based loops vectorise
            b = image[r0 + k + dy, c0 + dx:c0 + dx + wn]
            for c in range(wn):
                col[c] += gk * a[c] * b[c]
        r = p0 + i * stride
        for j in range(gw):
            acc = np.float32(0.0)
            seg = col[j * stride:j * stride + L]
            for l in range(L):
                acc += g[l] * seg[l]
            c = p0 + j * stride
            den = np.sqrt(var[r, c] * var[r + dy, c + dx])
            v = (acc - mean[r, c] * mean[r + dy, c + dx]) / den
            out[t, i, j] = min(1.0, max(-1.0, v))
