"""Image filters of diffraction patterns on torch (CPU or GPU): Gaussian blur, direct-beam centres.

Patterns are float tensors (B, H, W); rows and columns in detector pixels.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def gaussian_blur(x, sigma):
    """Gaussian blur of images x (B, H, W), edges replicated: per axis, the banded blur matrix
    applied block by block over its non-zero band only (2x faster than the full matrix product
    for a 128 px detector, and much faster on the CPU than a 1-channel convolution)."""
    import torch

    B, H, W = x.shape
    flat = x.reshape(B * H, W)
    along_rows = torch.empty_like(flat)
    for i0, i1, k0, k1, band in _blur_bands(W, float(sigma), x.dtype, x.device):
        along_rows[:, i0:i1] = flat[:, k0:k1] @ band.T
    along_rows = along_rows.reshape(B, H, W)
    out = torch.empty_like(x)
    for i0, i1, k0, k1, band in _blur_bands(H, float(sigma), x.dtype, x.device):
        out[:, i0:i1] = band @ along_rows[:, k0:k1]
    return out


BLUR_BLOCK = 16  # output pixels per band block of a blur matrix


@functools.lru_cache(maxsize=16)
def _blur_bands(n: int, sigma: float, dtype, device):
    """A 1D Gaussian blur (truncated at 3 sigma, edges replicated) of n pixels as blocks
    (i0, i1, k0, k1, A[i0:i1, k0:k1]): output pixels i0..i1 need only inputs k0..k1."""
    import torch

    half = int(math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    taps /= taps.sum()
    A = np.zeros((n, n))
    for i in range(n):
        np.add.at(A[i], np.clip(np.arange(i - half, i + half + 1), 0, n - 1), taps)
    bands = []
    for i0 in range(0, n, BLUR_BLOCK):
        i1 = min(i0 + BLUR_BLOCK, n)
        used = np.flatnonzero(A[i0:i1].any(axis=0))
        k0, k1 = int(used[0]), int(used[-1]) + 1
        bands.append((i0, i1, k0, k1, torch.as_tensor(A[i0:i1, k0:k1], dtype=dtype, device=device).contiguous()))
    return tuple(bands)


def find_centres(x, nominal, radius_px: float = 4.0, search_px: float | None = None):
    """Direct-beam centre (row, col) of each pattern (B, H, W): brightest 5x5-averaged pixel within
    ``search_px`` of the nominal centre, then the centre of mass of the disc above 30 % of its
    peak within ``radius_px``. Works on a crop around the nominal centre (cheap)."""
    import torch
    import torch.nn.functional as F

    B, H, W = x.shape
    search = int(round(search_px or 0.12 * min(H, W)))
    cy, cx = int(round(float(nominal[0]))), int(round(float(nominal[1])))
    half = search + int(math.ceil(radius_px)) + 3
    r0, r1 = max(cy - half, 0), min(cy + half + 1, H)
    c0, c1 = max(cx - half, 0), min(cx + half + 1, W)
    crop = x[:, r0:r1, c0:c1]
    h, w = crop.shape[1:]
    blur = F.avg_pool2d(crop[:, None], 5, stride=1, padding=2, count_include_pad=False)[:, 0]
    rows = torch.arange(r0, r1, device=x.device, dtype=x.dtype)[:, None]
    cols = torch.arange(c0, c1, device=x.device, dtype=x.dtype)[None, :]
    near = ((rows - float(nominal[0])) ** 2 + (cols - float(nominal[1])) ** 2) <= search ** 2
    masked = torch.where(near[None], blur, torch.full_like(blur, -1.0))
    flat = torch.argmax(masked.reshape(B, -1), dim=1)
    pr = (flat // w).to(x.dtype) + r0
    pc = (flat % w).to(x.dtype) + c0
    d2 = (rows[None] - pr[:, None, None]) ** 2 + (cols[None] - pc[:, None, None]) ** 2
    disc = d2 <= radius_px ** 2
    peak = torch.where(disc, crop, torch.zeros_like(crop)).amax(dim=(1, 2))
    wgt = torch.where(disc, torch.clamp(crop - 0.3 * peak[:, None, None], min=0), torch.zeros_like(crop))
    total = wgt.sum(dim=(1, 2))
    ok = total > 0
    safe = torch.where(ok, total, torch.ones_like(total))
    ry = torch.where(ok, (wgt * rows).sum(dim=(1, 2)) / safe, torch.full_like(total, float(nominal[0])))
    rx = torch.where(ok, (wgt * cols).sum(dim=(1, 2)) / safe, torch.full_like(total, float(nominal[1])))
    return torch.stack([ry, rx], dim=1)
