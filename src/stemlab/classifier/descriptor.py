"""The FFT descriptor of an image window, on a fixed physical frequency grid.

Pipeline (after Leitherer et al., npj Comput. Mater. 2023, with a physical-units twist):

1. The whole image is resampled once to :data:`SAMPLING` angstrom per pixel (Gaussian
   anti-alias filter when shrinking), so a window of W angstrom is always
   ``round(W / SAMPLING)`` pixels, whatever the microscope's pixel size.
2. Each window loses its mean (so the zero frequency is exactly 0) and is zero-padded to
   :data:`FFT_SIZE` pixels. The window is flat (:data:`TAPER` = 0): every pixel of the
   window the user chose counts equally. A Hann taper would keep only ~10 % of its weight
   in the outer quarter, so a grain boundary 3 angstrom from a 12 angstrom window's centre
   would barely show; measured, the flat window separates boundary windows better
   (ROC AUC 0.91 vs 0.84) and classifies low-dose windows better (98.7 vs 98.1 %), its
   sinc side lobes notwithstanding (docs/classification.md).
3. |FFT|^2 is centred, divided by its maximum outside the low-frequency disk
   (|g| < :data:`LOW_CUT` 1/angstrom, which only holds background and window leakage and is
   set to 0), thresholded at :data:`THRESHOLD` of that maximum, and compressed with a
   square root (an amplitude), giving a ``FFT_SIZE x FFT_SIZE`` image in [0, 1].

The descriptor's pixel (i, j) sits at spatial frequency ((i, j) - FFT_SIZE / 2) *
:data:`FREQ_STEP` 1/angstrom (rows = ky, columns = kx), the same for every input pixel
size: the network sees lattice spacings in angstrom, which is what separates, e.g., the
square column lattices of fcc [100] (spacing a/2) and bcc [100] (a/sqrt 2).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

SAMPLING = 0.375  # angstrom per pixel of the resampled image
FFT_SIZE = 64  # descriptor side (pixels); the window is zero-padded to it
FREQ_STEP = 1.0 / (FFT_SIZE * SAMPLING)  # 1/angstrom per descriptor pixel
LOW_CUT = 0.22  # 1/angstrom; below every lattice reflection of the classes
THRESHOLD = 0.01  # of the maximum power
TAPER = 0.0  # fraction of the window inside cosine tapers (0 = flat, 1 = Hann); see the module docstring
MIN_WINDOW_A, MAX_WINDOW_A = 6.0, FFT_SIZE * SAMPLING


def window_pixels(window_angstrom: float) -> int:
    """Side of a window of ``window_angstrom`` in resampled pixels (even number)."""
    if not (MIN_WINDOW_A <= window_angstrom <= MAX_WINDOW_A):
        raise ParameterError(
            f"window = {window_angstrom:g} angstrom is outside {MIN_WINDOW_A:g}..{MAX_WINDOW_A:g} angstrom: "
            "the classifier was trained on ~10-14 angstrom windows; use about 12 angstrom.")
    return int(2 * round(window_angstrom / SAMPLING / 2))


def resample(image, pixel_size: float, sampling: float = SAMPLING) -> np.ndarray:
    """``image`` (2D, ``pixel_size`` angstrom/px) resampled to ``sampling`` angstrom/px (float32).

    Shrinking applies a Gaussian anti-alias filter of sigma = sqrt(f^2 - 1) / 2 input pixels
    (f = sampling / pixel_size) before linear interpolation; enlarging interpolates linearly.
    Output pixel (i, j) sits at input position (i, j) * f (pixel centres aligned at 0).
    """
    from scipy import ndimage

    if pixel_size <= 0:
        raise ParameterError(f"pixel size must be positive, got {pixel_size}.")
    img = np.asarray(image, dtype=np.float32)
    f = sampling / pixel_size
    if f > 1.0:
        img = ndimage.gaussian_filter(img, np.sqrt(f * f - 1.0) / 2.0, mode="nearest", truncate=3.0)
    shape = tuple(max(1, int(np.floor((s - 1) / f)) + 1) for s in img.shape)
    if abs(f - 1.0) < 1e-9:
        return img.copy()
    # separable linear interpolation: rows then columns
    out = _interp_axis(img, f, shape[0], axis=0)
    return _interp_axis(out, f, shape[1], axis=1)


def _interp_axis(img: np.ndarray, f: float, n: int, axis: int) -> np.ndarray:
    pos = np.arange(n) * f
    i0 = np.clip(np.floor(pos).astype(int), 0, img.shape[axis] - 1)
    i1 = np.clip(i0 + 1, 0, img.shape[axis] - 1)
    t = (pos - i0).astype(np.float32)
    a, b = np.take(img, i0, axis=axis), np.take(img, i1, axis=axis)
    shape = [1, 1]
    shape[axis] = n
    t = t.reshape(shape)
    return (a * (1 - t) + b * t).astype(np.float32)


def tukey2d(n: int, taper: float) -> np.ndarray:
    """Separable 2D Tukey window of side ``n`` (float32): flat in the middle, cosine tapers
    over the outer ``taper`` fraction (1 = Hann); no zero weights at the edges."""
    t = np.arange(1, n + 1) / (n + 1)
    edge = np.minimum(t, 1.0 - t)
    w = np.ones(n)
    ramp = edge < taper / 2
    w[ramp] = 0.5 * (1.0 - np.cos(2.0 * np.pi * edge[ramp] / taper))
    w = w.astype(np.float32)
    return np.outer(w, w)


def hann2d(n: int) -> np.ndarray:
    """Separable 2D Hann window of side ``n`` (float32)."""
    return tukey2d(n, 1.0)


def frequency_radius(fft_size: int = FFT_SIZE) -> np.ndarray:
    """|g| (1/angstrom) of every descriptor pixel (centred grid)."""
    k = (np.arange(fft_size) - fft_size // 2) * (1.0 / (fft_size * SAMPLING))
    return np.hypot(k[:, None], k[None, :]).astype(np.float32)


def descriptors_torch(windows, fft_size: int = FFT_SIZE):
    """Descriptors of ``windows`` (N, w, w) torch tensor -> (N, fft_size, fft_size) float32 tensor."""
    import torch

    n, w = windows.shape[0], windows.shape[-1]
    if w > fft_size:
        raise ParameterError(f"window of {w} px does not fit the {fft_size} px descriptor.")
    x = windows.to(torch.float32)
    taper = torch.from_numpy(tukey2d(w, TAPER)).to(x.device)
    mean = (x * taper).sum(dim=(-2, -1), keepdim=True) / taper.sum()
    x = (x - mean) * taper
    power = torch.fft.fft2(x, s=(fft_size, fft_size)).abs().square()
    power = torch.fft.fftshift(power, dim=(-2, -1))
    low = torch.from_numpy(frequency_radius(fft_size) < LOW_CUT).to(x.device)
    power = power.masked_fill(low, 0.0)
    peak = power.reshape(n, -1).amax(dim=1).clamp_min(1e-30).reshape(n, 1, 1)
    power = power / peak
    power = power.masked_fill(power < THRESHOLD, 0.0)
    return power.sqrt()


def descriptors(windows, workers: int = 2) -> np.ndarray:
    """CPU (scipy.fft) version of :func:`descriptors_torch`: (N, w, w) -> (N, 64, 64) float32.

    Uses a real FFT and the centro-symmetry |F(-k)| = |F(k)| of a real window's spectrum.
    """
    import scipy.fft

    arr = np.asarray(windows, dtype=np.float32)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    n, w = arr.shape[0], arr.shape[-1]
    if w > FFT_SIZE:
        raise ParameterError(f"window of {w} px does not fit the {FFT_SIZE} px descriptor.")
    taper = tukey2d(w, TAPER)
    mean = np.einsum("nij,ij->n", arr, taper) / taper.sum()
    x = (arr - mean[:, None, None]) * taper
    half = scipy.fft.rfft2(x, s=(FFT_SIZE, FFT_SIZE), workers=workers)  # (n, 64, 33)
    p_half = (half.real**2 + half.imag**2).astype(np.float32)
    m = FFT_SIZE // 2
    power = np.empty((n, FFT_SIZE, FFT_SIZE), dtype=np.float32)
    power[:, :, m:] = p_half[:, :, :m]  # kx = 0 .. m-1 (before the shift)
    # kx = -m .. -1: P(ky, kx) = P(-ky, -kx)
    neg = p_half[:, :, 1:m + 1][:, :, ::-1]  # kx = m .. 1 -> used as -kx
    power[:, :, :m] = np.roll(neg[:, ::-1, :], 1, axis=1)
    power = np.fft.fftshift(power, axes=1)
    power[:, frequency_radius() < LOW_CUT] = 0.0
    peak = np.maximum(power.reshape(n, -1).max(axis=1), 1e-30)
    power /= peak[:, None, None]
    power[power < THRESHOLD] = 0.0
    out = np.sqrt(power, out=power)
    return out[0] if single else out


def window_grid(shape, window_px: int, stride_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (rows, cols) of windows of ``window_px`` every ``stride_px`` in an
    image of ``shape`` (resampled pixels), windows fully inside the image."""
    if min(shape) < window_px:
        raise ParameterError(
            f"The image ({shape[0]} x {shape[1]} px at {SAMPLING} angstrom/px after resampling) is smaller "
            f"than one window ({window_px} px): use a smaller window or a larger image.")
    rows = np.arange(0, shape[0] - window_px + 1, stride_px)
    cols = np.arange(0, shape[1] - window_px + 1, stride_px)
    return rows, cols


def extract_windows(image: np.ndarray, window_px: int, stride_px: int) -> np.ndarray:
    """(n_rows, n_cols, w, w) strided view of every window of a resampled image."""
    from numpy.lib.stride_tricks import sliding_window_view

    view = sliding_window_view(image, (window_px, window_px))
    return view[::stride_px, ::stride_px]
