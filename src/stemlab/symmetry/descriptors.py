"""Local symmetry descriptors: the Pearson correlation between the Gaussian-windowed patch
around each pixel and the image under a symmetry operation (Wang, Freysoldt, Zhang,
Liebscher & Neugebauer, Microsc. Microanal. 27 (2021) 1454).

For a pixel x, a window w(r) (Gaussian, standard deviation ``sigma`` px, truncated at
``TRUNCATE * sigma``, normalised to sum 1) and an operation g the descriptor is

    D_g(x) = sum_r w(r) (I(x+r) - mu)(I(x+g r) - mu_g) / sqrt(var var_g),

with mu, var (and mu_g, var_g) the windowed mean and variance of the two patches.

Fast formulation (our own; see docs/segmentation.md):

* translations t: the window is the separable Gaussian g (x) g truncated to the square
  |dy|, |dx| <= R (translations need no isotropy). mu, var at every pixel from one separable
  filter of I and I^2; the cross term sum_r w(r) I(x+r) I(x+r+t) at the grid points only, by
  a column filter of the product I * I(.+t) at the grid's rows and a row filter at its
  columns (compiled kernel :mod:`.kernels` on the CPU, strided torch convolutions on a GPU):
  O(N window / stride) per translation, no FFT and no shifted copies.
* rotations and mirrors about each pixel: mu_g = mu and var_g = var because w is isotropic,
  so only sum_r w(r) f(r) f(g r) is needed, f = I(x+.) - mu. Expand the windowed patch
  sqrt(w) f in a Fourier-Bessel basis psi_mn(rho, phi) = J_m(j_mn rho / R) e^{i m phi} on the
  disk of radius R, band-limited to radial frequency ``k_max`` (cycles/px): the coefficients
  c_mn(x) are correlations of the image with fixed filters sqrt(w) conj(psi_mn), evaluated
  at the grid points only as one strided convolution (a matrix product over the window,
  BLAS speed; all filters at once). Here w is the Gaussian truncated to the disk of radius R. A rotation by
  alpha multiplies c_mn by e^{i m alpha}, a mirror about a line at angle theta maps c_mn to
  conj(c_mn) e^{2 i m theta}, so with P_m = sum_n |c_mn|^2 and Q_m = sum_n c_mn^2

      rotation:  (P_0 + 2 sum_{m>0} P_m cos(m alpha)) / C,
      mirror:    (Q_0 + 2 Re sum_{m>0} Q_m e^{2 i m theta}) / C,   C = P_0 + 2 sum_{m>0} P_m.

  Every rotation angle and every mirror angle is then a cheap product of a few coefficient
  maps: hundreds of operations for the price of one convolution with ~70 filters. Truncating at
  k_max correlates the band-limited patch, which also suppresses shot noise.

:func:`reference_descriptors` is the straightforward per-patch computation (cubic-spline
interpolation of the transformed patch), for tests and benchmarks.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend.progress import check, report
from ..backend.device import resolve_device
from ..errors import ParameterError
from .operations import OperationSet

TRUNCATE = 3.0  # window radius in units of sigma


# -- Fourier-Bessel basis ---------------------------------------------------------------
def window_radius(sigma: float) -> int:
    return max(1, int(math.ceil(TRUNCATE * sigma)))


def gaussian_window(sigma: float) -> np.ndarray:
    """(L, L) Gaussian window, zero beyond TRUNCATE * sigma, summing to 1."""
    R = window_radius(sigma)
    y, x = np.mgrid[-R:R + 1, -R:R + 1].astype(float)
    r2 = x**2 + y**2
    w = np.exp(-r2 / (2 * sigma**2)) * (r2 <= R**2)
    return w / w.sum()


def fourier_bessel_filters(sigma: float, k_max: float):
    """Filters h_mn = sqrt(w) conj(psi_mn) on the (L, L) window grid, psi_mn orthonormalised
    on the pixel grid within each m; returns (filters (K, L, L) complex128, m (K,), d (K,))
    with d_mn = sum sqrt(w) psi_mn (the response to a constant image)."""
    from scipy.special import jn_zeros, jv

    R = window_radius(sigma)
    w = gaussian_window(sigma)
    y, x = np.mgrid[-R:R + 1, -R:R + 1].astype(float)
    rho, phi = np.hypot(x, y), np.arctan2(y, x)
    inside = rho <= R
    j_max = 2 * np.pi * float(k_max) * R
    filters, ms = [], []
    m = 0
    while True:
        zeros = jn_zeros(m, max(1, int(j_max / np.pi) + 2))
        zeros = zeros[zeros <= j_max]
        if len(zeros) == 0:
            break
        basis = np.stack([jv(m, z * rho / R) * np.exp(1j * m * phi) * inside for z in zeros])  # (n, L, L)
        flat = basis.reshape(len(zeros), -1)
        gram = flat.conj() @ flat.T
        vals, vecs = np.linalg.eigh(gram)
        ortho = (vecs @ np.diag(vals**-0.5) @ vecs.conj().T).T @ flat  # Loewdin, keeps e^{i m phi}
        basis = ortho.reshape(basis.shape)
        filters.append(np.sqrt(w)[None] * basis.conj())
        ms += [m] * len(zeros)
        m += 1
    if not filters:
        raise ParameterError(f"k_max={k_max} cycles/px is too small for a window of sigma {sigma} px.")
    filters = np.concatenate(filters)
    d = filters.sum((1, 2))  # coefficients of a constant image of 1
    return filters, np.array(ms), d


# -- the fast computation ----------------------------------------------------------------
def gaussian_1d(sigma: float) -> np.ndarray:
    """(L,) Gaussian, L = 2 R + 1, summing to 1: the translation window is its outer product
    (a separable Gaussian truncated to the square |dy|, |dx| <= R)."""
    R = window_radius(sigma)
    k = np.arange(-R, R + 1, dtype=float)
    g = np.exp(-k**2 / (2 * sigma**2))
    return g / g.sum()


def grid_shape(shape, stride: int) -> tuple[int, int]:
    """Shape of the descriptor grid: pixels (0, s, 2s, ...) along each axis."""
    return (-(-int(shape[0]) // stride), -(-int(shape[1]) // stride))


def symmetry_descriptors(image, ops: OperationSet, sigma: float, *, stride: int = 1, k_max: float = 0.25,
                         device: str = "auto", batch: int = 16, progress=None, cancel=None,
                         method: str = "auto") -> np.ndarray:
    """Descriptors (n_ops, gh, gw) float32 on the grid of ``stride`` px for a 2D ``image``.

    ``sigma``: window standard deviation (px); ``k_max``: band limit (cycles/px) of the
    Fourier-Bessel basis used for rotations and mirrors; ``batch``: translations per step.
    ``method``: 'auto' (compiled kernel on the CPU, torch convolutions on a GPU) or 'torch'
    (torch convolutions on any device; the GPU code path, testable on the CPU).
    """
    import torch
    import torch.nn.functional as F

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ParameterError(f"symmetry_descriptors needs a 2D image, got shape {image.shape}.")
    if sigma <= 0.5:
        raise ParameterError(f"Patch sigma {sigma:.3g} px is too small; use a patch of a few lattice spacings.")
    stride = int(stride)
    if stride < 1:
        raise ParameterError("stride must be a positive integer (pixels).")
    if method not in ("auto", "torch"):
        raise ParameterError(f"method must be 'auto' or 'torch', got {method!r}.")
    dev = resolve_device(device)
    H, W = image.shape
    std = image.std()
    image = (image - image.mean()) / (std if std > 0 else 1.0)
    R = window_radius(sigma)
    L = 2 * R + 1
    T = ops.max_shift
    p0 = R + T + 1
    gh, gw = grid_shape((H, W), stride)
    Hp = p0 + (gh - 1) * stride + R + T + 1
    Wp = p0 + (gw - 1) * stride + R + T + 1
    padded = np.pad(image, ((p0, Hp - H - p0), (p0, Wp - W - p0)), mode="symmetric").astype(np.float32)
    n_t = len(ops.translations)
    use_fb = bool(ops.rotation_orders) or len(ops.mirror_angles) > 0
    fb = fourier_bessel_filters(sigma, k_max) if use_fb else None
    n_t_batches = -(-n_t // batch) if n_t else 0
    total = 1 + n_t_batches + (1 if use_fb else 0)
    done = 0
    report(progress, done, total, "symmetry descriptors")
    out = np.empty((len(ops), gh, gw), np.float32)
    I = torch.as_tensor(padded, device=dev)
    g = torch.as_tensor(gaussian_1d(sigma), dtype=torch.float32, device=dev)

    def separable(x, s):  # (B, h, w) -> window sums at stride s (valid part only)
        y = F.conv2d(x[:, None], g.view(1, 1, L, 1), stride=(s, 1))
        return F.conv2d(y, g.view(1, 1, 1, L), stride=(1, s))[:, 0]

    if n_t:
        # window means and variances at every pixel (the partner patch x + t lies anywhere)
        mv = separable(torch.stack([I, I * I]), 1)
        mean = F.pad(mv[0], (R, R, R, R))
        var = F.pad(torch.clamp(mv[1] - mv[0]**2, min=1e-6), (R, R, R, R), value=1.0)
        done += 1
        report(progress, done, total, "symmetry descriptors")
        shifts = np.ascontiguousarray(ops.translations, dtype=np.int64)
        compiled = method == "auto" and dev.type == "cpu"
        if compiled:
            from .kernels import translation_correlations

            arrays = [np.ascontiguousarray(a.numpy()) for a in (I, mean, var, g)]
        hn, wn = (gh - 1) * stride + L, (gw - 1) * stride + L
        rows = slice(p0, p0 + (gh - 1) * stride + 1, stride)
        cols = slice(p0, p0 + (gw - 1) * stride + 1, stride)
        for b0 in range(0, n_t, batch):
            check(cancel)
            ts = shifts[b0:b0 + batch]
            if compiled:
                translation_correlations(*arrays, ts, p0, stride, gh, gw, out[b0:b0 + len(ts)])
            else:
                base = I[p0 - R:p0 - R + hn, p0 - R:p0 - R + wn]
                prods = torch.stack([base * I[p0 - R + dy:p0 - R + dy + hn, p0 - R + dx:p0 - R + dx + wn]
                                     for dy, dx in ts])
                cross = separable(prods, stride)
                mu, v = mean[rows, cols], var[rows, cols]
                for k, (dy, dx) in enumerate(ts):
                    rs = slice(p0 + dy, p0 + dy + (gh - 1) * stride + 1, stride)
                    cs = slice(p0 + dx, p0 + dx + (gw - 1) * stride + 1, stride)
                    corr = (cross[k] - mu * mean[rs, cs]) / torch.sqrt(v * var[rs, cs])
                    out[b0 + k] = corr.clamp(-1, 1).cpu().numpy()
            done += 1
            report(progress, done, total, "translations")

    if use_fb:
        check(cancel)
        filters, ms, d = fb
        K = len(filters)
        M = int(ms.max())
        disk = gaussian_window(sigma)
        # real filters: Re and Im of every basis function, then the disk window (its mean)
        weight = np.concatenate([filters.real, filters.imag, disk[None]])[:, None].astype(np.float32)
        wt = torch.as_tensor(weight, device=dev)
        # im2col of a row chunk holds chunk x gw x L^2 floats: keep it near 64 MB
        chunk = max(1, int(16e6 // max(1, gw * L * L)))
        coef = torch.empty((2 * K + 1, gh, gw), dtype=torch.float32, device=dev)
        for r0 in range(0, gh, chunk):
            check(cancel)
            r1 = min(gh, r0 + chunk)
            a = p0 - R + r0 * stride
            block = I[a:a + (r1 - r0 - 1) * stride + L, p0 - R:p0 - R + (gw - 1) * stride + L]
            coef[:, r0:r1] = F.conv2d(block[None, None], wt, stride=stride)[0]
        mu_disk = coef[2 * K]
        c = torch.complex(coef[:K], coef[K:2 * K]) - mu_disk[None] * torch.as_tensor(d, dtype=torch.complex64,
                                                                                      device=dev)[:, None, None]
        ms_t = torch.as_tensor(ms, device=dev)
        P = torch.zeros((M + 1, gh, gw), dtype=torch.float32, device=dev).index_add_(0, ms_t, c.real**2 + c.imag**2)
        Q = torch.zeros((M + 1, gh, gw), dtype=torch.complex64, device=dev).index_add_(0, ms_t, c * c)
        del c, coef
        weights = torch.full((M + 1,), 2.0, device=dev)
        weights[0] = 1.0
        C = torch.clamp((weights[:, None, None] * P).sum(0), min=1e-12)
        k = n_t
        m_idx = torch.arange(M + 1, device=dev, dtype=torch.float32)
        for n in ops.rotation_orders:
            cos = weights * torch.cos(m_idx * (2 * np.pi / n))
            out[k] = ((cos[:, None, None] * P).sum(0) / C).clamp(-1, 1).cpu().numpy()
            k += 1
        if len(ops.mirror_angles):
            theta = torch.as_tensor(np.radians(ops.mirror_angles), dtype=torch.float32, device=dev)
            # Re sum_m w_m e^{2 i m theta} Q_m as one real matrix product over [Re Q; Im Q]
            ang = 2 * theta[:, None] * m_idx[None]
            A = torch.cat([weights * torch.cos(ang), -weights * torch.sin(ang)], 1)  # (angles, 2(M+1))
            B = torch.cat([Q.real, Q.imag]).reshape(2 * (M + 1), -1)
            inv_c = (1.0 / C).reshape(-1)
            for a0 in range(0, len(theta), 64):
                mir = (A[a0:a0 + 64] @ B).mul_(inv_c).clamp_(-1, 1)
                out[k + a0:k + a0 + len(mir)] = mir.reshape(-1, gh, gw).cpu().numpy()
        done += 1
    report(progress, total, total, "symmetry descriptors")
    return out


# -- the straightforward reference ---------------------------------------------------------
def reference_descriptors(image, ops: OperationSet, sigma: float, points) -> np.ndarray:
    """Per-patch descriptors (n_points, n_ops) at integer ``points`` (n, 2) (row, col): for
    each point and operation the transformed patch is interpolated (cubic spline) and the
    weighted Pearson correlation computed directly, with the window of its family (the
    square-truncated separable Gaussian for translations, the disk-truncated one for
    rotations and mirrors). Slow; the ground truth for tests and benchmarks."""
    from scipy import ndimage

    image = np.asarray(image, dtype=np.float64)
    image = (image - image.mean()) / (image.std() or 1.0)
    R = window_radius(sigma)
    pad = R + ops.max_shift + 4
    padded = np.pad(image, pad, mode="symmetric")
    coeffs = ndimage.spline_filter(padded, order=3)
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
    g = gaussian_1d(sigma)
    groups = []  # (window weights (n_r,), dy, dx, offsets (n_ops, n_r, 2) of g r)
    if len(ops.translations):
        dy, dx = yy.ravel().astype(float), xx.ravel().astype(float)
        offsets = np.stack([np.stack([dy + ty, dx + tx], -1) for ty, tx in ops.translations])
        groups.append((np.outer(g, g).ravel(), dy, dx, offsets))
    if len(ops.rotation_orders) or len(ops.mirror_angles):
        w_full = gaussian_window(sigma)
        inside = w_full > 0
        dy, dx = yy[inside].astype(float), xx[inside].astype(float)
        offsets = []
        for n in ops.rotation_orders:
            a = 2 * np.pi / n
            offsets.append(np.stack([dx * np.sin(a) + dy * np.cos(a), dx * np.cos(a) - dy * np.sin(a)], -1))
        for theta in np.radians(ops.mirror_angles):
            c2, s2 = np.cos(2 * theta), np.sin(2 * theta)
            offsets.append(np.stack([dx * s2 - dy * c2, dx * c2 + dy * s2], -1))
        groups.append((w_full[inside], dy, dx, np.stack(offsets)))
    points = np.asarray(points, dtype=int).reshape(-1, 2)
    out = np.empty((len(points), len(ops)), np.float32)
    for i, (r, c) in enumerate(points):
        k = 0
        for w, dy, dx, offsets in groups:
            f = padded[r + pad + dy.astype(int), c + pad + dx.astype(int)]
            coords = offsets + np.array([r + pad, c + pad], float)
            gv = ndimage.map_coordinates(coeffs, coords.reshape(-1, 2).T, order=3,
                                         prefilter=False).reshape(len(offsets), -1)
            fm = f - (w * f).sum()
            gm = gv - (gv * w).sum(1, keepdims=True)
            num = (gm * fm * w).sum(1)
            den = np.sqrt((w * fm**2).sum() * (w * gm**2).sum(1))
            out[i, k:k + len(offsets)] = num / np.maximum(den, 1e-12)
            k += len(offsets)
    return out
