"""Bragg-disk detection: probe templates, correlation between cross- and phase correlation, sub-pixel maxima.

Every pattern is correlated with the probe template in Fourier space,
``M = P conj(T) |P conj(T)|^(power - 1)`` (``power = 1``: cross-correlation, ``0``: phase
correlation), the local maxima of the real correlation are kept when they pass the filters on
intensity, spacing and distance to the edge, and each kept maximum is refined below one pixel
by evaluating the correlation's Fourier series on a fine grid around it (matrix DFT upsampling,
factor ``upsample`` over a little more than +-0.5 pixel) followed by a parabola through the finest grid's maximum.
The work is batched in torch on the CPU or a GPU (one code path).

Positions are (x, y) in detector pixels, x = column, y = row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import ParameterError

PROBES = ("auto", "mean", "vacuum", "synthetic")


def synthetic_probe(radius: float, shape, edge: float = 0.6) -> np.ndarray:
    """A disk of ``radius`` pixels with a tanh edge of ``edge`` pixels, centred at ``(shape - 1) / 2``."""
    if not radius > 0:
        raise ParameterError(f"disk radius {radius!r}: give a positive radius in detector pixels.")
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    r = np.hypot(y - (ny - 1) / 2, x - (nx - 1) / 2)
    return (0.5 * (1 - np.tanh((r - radius) / edge))).astype(np.float32)


def disk_centre_radius(probe: np.ndarray) -> tuple[float, float, float]:
    """(x, y, radius) of the bright disk of ``probe`` (pixels): centroid and sqrt(area / pi) of
    the background-subtracted image normalised to its plateau."""
    p = np.asarray(probe, dtype=np.float64)
    bg = np.percentile(p, 10)
    p = p - bg
    top = p.max()
    if not top > 0:
        raise ParameterError("The probe template is flat: choose a scan region with the direct beam (vacuum).")
    plateau = np.median(p[p > 0.5 * top])
    norm = np.clip(p / plateau, 0, 1.5)
    norm[norm < 0.1] = 0
    y, x = np.mgrid[0:p.shape[0], 0:p.shape[1]]
    total = norm.sum()
    return float((x * norm).sum() / total), float((y * norm).sum() / total), float(np.sqrt(total / np.pi))


def edge_radius(pattern: np.ndarray, cx: float, cy: float) -> float:
    """Radius (pixels) of the disk centred at (cx, cy): where the azimuthal mean falls most steeply.

    A diffuse halo around the direct beam (thermal diffuse and inelastic scattering, a blurred mean
    pattern) does not move the steepest edge, unlike a threshold at half maximum.
    """
    from scipy import ndimage

    p = np.asarray(pattern, dtype=np.float64)
    y, x = np.mgrid[0:p.shape[0], 0:p.shape[1]]
    r = np.hypot(y - cy, x - cx)
    bins = np.floor(r * 2).astype(int)  # half-pixel shells
    limit = int(min(p.shape) // 2)  # in half pixels: a quarter of the pattern
    count = np.bincount(bins.ravel(), minlength=limit + 1)[:limit]
    total = np.bincount(bins.ravel(), p.ravel(), minlength=limit + 1)[:limit]
    profile = ndimage.gaussian_filter1d(total / np.maximum(count, 1), 1.0)
    slope = np.gradient(profile)
    j = int(np.argmin(slope[1:])) + 1
    if 1 <= j < len(slope) - 1:
        m, c, q = slope[j - 1], slope[j], slope[j + 1]
        denom = m - 2 * c + q
        j = j + (0.5 * (m - q) / denom if denom > 0 else 0.0)
    return float(max(j, 1.0) / 2 + 0.25)


def probe_from_pattern(pattern: np.ndarray, radius: Optional[float] = None) -> tuple[np.ndarray, float]:
    """The direct beam cut from ``pattern`` (the mean pattern of a scan or a vacuum pattern).

    The brightest disk is found, its radius measured at its steepest edge (unless ``radius`` is
    given) and everything farther than ``radius + 2`` pixels from its centre set to the background.
    Returns the probe (same shape as ``pattern``) and the radius in pixels.
    """
    from scipy import ndimage

    p = np.asarray(pattern, dtype=np.float64)
    smooth = ndimage.gaussian_filter(p, 2.0)
    cy, cx = np.unravel_index(int(np.argmax(smooth)), p.shape)
    bg = np.percentile(p, 10)
    label, _ = ndimage.label(smooth - bg > 0.7 * (smooth[cy, cx] - bg))
    cyf, cxf = ndimage.center_of_mass(label == label[cy, cx])
    if radius is None:
        radius = edge_radius(p, cxf, cyf)
    y, x = np.mgrid[0:p.shape[0], 0:p.shape[1]]
    r = np.hypot(y - cyf, x - cxf)
    window = 0.5 * (1 - np.tanh((r - (radius + 2.0)) / 1.0))
    edge_bg = np.median(p[(r > radius + 3) & (r < radius + 5)]) if np.any((r > radius + 3) & (r < radius + 5)) else bg
    return (edge_bg + (p - edge_bg) * window).astype(np.float32), float(radius)


def template_spectrum(probe: np.ndarray, shape) -> np.ndarray:
    """conj(rfft2) of the probe moved so that its disk centre sits at pixel (0, 0), sum normalised to 1.

    The shift is exact (Fourier shift theorem), so a correlation maximum is where a disk's centre is.
    """
    p = np.asarray(probe, dtype=np.float64)
    if p.ndim != 2:
        raise ParameterError(f"The probe template must be one 2D pattern, got shape {p.shape}.")
    ny, nx = shape
    if p.shape != (ny, nx):
        if p.shape[0] > ny or p.shape[1] > nx:
            raise ParameterError(f"The probe template {p.shape} is larger than the patterns {tuple(shape)}.")
        pad = np.full((ny, nx), np.percentile(p, 10))
        pad[:p.shape[0], :p.shape[1]] = p
        p = pad
    p = p - np.percentile(p, 10)
    p[p < 0] = 0
    cx, cy, _ = disk_centre_radius(p)
    spec = np.fft.rfft2(p)
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    spec *= np.exp(2j * np.pi * (fy * cy + fx * cx))
    spec /= spec[0, 0].real
    return np.conj(spec).astype(np.complex64)


@dataclass
class DiskDetector:
    """Finds Bragg disks in batches of patterns (a picklable callable for chunk streaming).

    Parameters
    ----------
    template : conj(rfft2) of the probe from :func:`template_spectrum`, shape (ny, nx // 2 + 1).
    shape : (ny, nx) pattern shape, pixels.
    correlation_power : 1 = cross-correlation, 0 = phase correlation, between = a mix.
    min_relative_intensity : drop maxima weaker than this fraction of the pattern's strongest.
    min_intensity : drop maxima below this correlation value (counts within a disk).
    min_spacing : pixels; a maximum with a stronger one closer than this is dropped.
    edge : pixels; maxima closer to the border are dropped.
    max_disks : keep at most this many, strongest first.
    upsample : sub-pixel refinement factor (grid of 1 / upsample pixel around each maximum).
    device : ``'auto' | 'cpu' | 'cuda'``.
    """

    template: np.ndarray
    shape: tuple
    correlation_power: float = 1.0
    min_relative_intensity: float = 0.005
    min_intensity: float = 0.0
    min_spacing: float = 5.0
    edge: float = 4.0
    max_disks: int = 60
    upsample: int = 8
    device: Any = "auto"
    batch: int = 16

    def __post_init__(self):
        if not 0.0 <= float(self.correlation_power) <= 1.0:
            raise ParameterError(f"correlation_power={self.correlation_power}: use a value from 0 (phase "
                                 "correlation) to 1 (cross-correlation).")
        if int(self.max_disks) < 1 or int(self.upsample) < 1:
            raise ParameterError("max_disks and upsample must be >= 1.")

    def __call__(self, block: np.ndarray) -> dict:
        """Disks of every pattern of ``block`` (n, ny, nx): ``{'disks': (n, max_disks, 3)}`` holding
        (x, y, correlation) per disk, strongest first, NaN where fewer were found."""
        import torch

        from ..backend.batching import run_batched
        from ..backend.device import resolve_device

        block = np.asarray(block)
        n = block.shape[0]
        dev = resolve_device(self.device)
        parts = run_batched(lambda a, b, d: self._detect(block[a:b], d), n, self.batch, device=dev)
        out = torch.cat(parts).numpy() if parts else np.zeros((0, self.max_disks, 3), np.float32)
        return {"disks": out}

    def _detect(self, patterns: np.ndarray, device):
        import torch
        import torch.nn.functional as F

        from ..backend.device import to_device

        ny, nx = self.shape
        x = to_device(patterns, device, "float32")
        tmpl = to_device(self.template, device)
        spec = torch.fft.rfft2(x) * tmpl
        power = float(self.correlation_power)
        if power != 1.0:
            mag = spec.abs().clamp_min(1e-12)
            spec = spec * mag.pow(power - 1.0)
        corr = torch.fft.irfft2(spec, s=(ny, nx))
        b = corr.shape[0]
        k = int(self.max_disks)
        # local maxima (3 x 3) away from the edge, then the strongest within min_spacing
        pooled = F.max_pool2d(corr[:, None], 3, stride=1, padding=1)[:, 0]
        peak = corr >= pooled
        e = max(1, int(math.ceil(float(self.edge))))
        peak[:, :e], peak[:, -e:], peak[:, :, :e], peak[:, :, -e:] = False, False, False, False
        score = torch.where(peak, corr, torch.full_like(corr, -torch.inf)).reshape(b, -1)
        cand, idx = torch.topk(score, min(4 * k, score.shape[1]), dim=1)  # sorted, strongest first
        cy = torch.div(idx, nx, rounding_mode="floor").to(torch.float32)
        cx = (idx % nx).to(torch.float32)
        dist2 = (cy[:, :, None] - cy[:, None, :]) ** 2 + (cx[:, :, None] - cx[:, None, :]) ** 2
        stronger = torch.ones_like(dist2, dtype=torch.bool).triu(1).transpose(1, 2)  # [j, i]: i before j
        near = (dist2 < float(self.min_spacing) ** 2) & stronger & torch.isfinite(cand)[:, None, :]
        cand = torch.where(near.any(dim=2), torch.full_like(cand, -torch.inf), cand)
        k_take = min(k, cand.shape[1])
        top, order = torch.topk(cand, k_take, dim=1)
        idx = torch.gather(idx, 1, order)
        strongest = top[:, :1]
        ok = torch.isfinite(top) & (top >= self.min_relative_intensity * strongest) & (top >= self.min_intensity)
        iy = torch.div(idx, nx, rounding_mode="floor").to(torch.float32)
        ix = (idx % nx).to(torch.float32)
        sx, sy, value = self._refine(spec, ix, iy, device)
        out = torch.full((b, k, 3), float("nan"), dtype=torch.float32, device=device)
        out[:, :k_take, 0] = torch.where(ok, sx, torch.nan)
        out[:, :k_take, 1] = torch.where(ok, sy, torch.nan)
        out[:, :k_take, 2] = torch.where(ok, value, torch.nan)
        return out.cpu()

    def _refine(self, spec, ix, iy, device):
        """Sub-pixel maxima: the correlation's Fourier series on a 1/upsample grid over
        +-(0.5 + 1/upsample) px of (ix, iy), then a parabola through the grid maximum and its neighbours."""
        import torch

        ny, nx = self.shape
        up = int(self.upsample)
        reach = up // 2 + 1
        steps = torch.arange(-reach, reach + 1, device=device, dtype=torch.float32) / up  # (s,)
        fy = torch.fft.fftfreq(ny, device=device, dtype=torch.float32)  # (ny,)
        fx = torch.fft.rfftfreq(nx, device=device, dtype=torch.float32)  # (nx//2+1,)
        w = torch.full_like(fx, 2.0)
        w[0] = 1.0
        if nx % 2 == 0:
            w[-1] = 1.0
        uy = iy[..., None] + steps  # (b, p, s)
        ux = ix[..., None] + steps
        ey = _phasor(2 * math.pi * uy[..., None] * fy)  # (b, p, s, ny)
        ex = (w * _phasor(2 * math.pi * ux[..., None] * fx)).transpose(-1, -2)  # (b, p, nxh, s)
        b, p, n_s = uy.shape
        rows = torch.bmm(ey.reshape(b, p * n_s, ny), spec).reshape(b, p, n_s, -1)  # (b, p, s, nxh)
        grid = torch.matmul(rows, ex).real / (ny * nx)  # (b, p, s, s)
        s = grid.shape[-1]
        flat = grid.reshape(grid.shape[0], grid.shape[1], -1)
        value, arg = flat.max(dim=-1)
        jy = torch.div(arg, s, rounding_mode="floor").clamp(1, s - 2)
        jx = (arg % s).clamp(1, s - 2)

        def at(dy, dx):
            return torch.gather(flat, -1, ((jy + dy) * s + jx + dx)[..., None])[..., 0]

        c, ym, yp, xm, xp = at(0, 0), at(-1, 0), at(1, 0), at(0, -1), at(0, 1)
        dy = _parabola(ym, c, yp)
        dx = _parabola(xm, c, xp)
        sy = iy + (jy.to(torch.float32) + dy - reach) / up
        sx = ix + (jx.to(torch.float32) + dx - reach) / up
        return sx, sy, value


def _phasor(angle):
    """exp(i angle) as a complex tensor."""
    import torch

    return torch.complex(torch.cos(angle), torch.sin(angle))


def _parabola(m, c, p):
    """Vertex offset of the parabola through (-1, m), (0, c), (1, p), clipped to +-0.5."""
    import torch

    denom = m - 2 * c + p
    off = torch.where(denom < 0, 0.5 * (m - p) / denom.clamp(max=-1e-30), torch.zeros_like(c))
    return off.clamp(-0.5, 0.5)
