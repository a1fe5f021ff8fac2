"""Which part of a phase template may vary from pixel to pixel: its lattice texture only.

The per-pixel templates a(x), b(x) of the intensity model carry the lattice of each phase.
Left free at every spatial frequency above a smooth cut-off they also absorb whatever is
static in the video, above all the time-averaged image of slowly moving interfaces, and the
order parameter then fits a wider, slower interface (measured: interface width +27 %,
M*W -58 % on an explicit-solver video of plain Z-contrast). A lattice is periodic, so its
texture sits in sharp peaks of the Fourier transform of the time-mean image; interfaces are
broadband. :func:`lattice_transfer` keeps only those peaks (above a local background and
the shot-noise level of the mean image) at frequencies above the smooth cut-off
``texture_sigma``: plain Z-contrast gets uniform templates. Where the peaks carry most of the
fine-scale variance (a lattice image, LATTICE_FRACTION) the whole high-pass stays free, as
before: a lattice's harmonics and edge leakage spread beyond the peaks.
"""

from __future__ import annotations

import numpy as np

PEAK_FACTOR = 10.0  # a lattice peak: power > this x max(local median power, shot-noise power)
BACKGROUND_WINDOW = 9  # frequency bins of the local median
PEAK_DILATION = 6  # bins added around each peak: the window's leakage and the mirror seams spread it
LATTICE_FRACTION = 0.5  # peaks above this share of the fine-scale variance: a lattice image


def mirror(img):
    """(H, W) -> (2H, 2W) mirrored extension (even symmetry, no edge jumps); numpy or torch."""
    if isinstance(img, np.ndarray):
        ext = np.concatenate([img, img[::-1]], axis=0)
        return np.concatenate([ext, ext[:, ::-1]], axis=1)
    import torch

    ext = torch.cat([img, torch.flip(img, dims=(0,))], dim=0)
    return torch.cat([ext, torch.flip(ext, dims=(1,))], dim=1)


def lattice_transfer(mean_image, sigma: float, noise_var: float) -> np.ndarray:
    """Fourier mask (2H, W + 1) of the mirrored grid that passes the lattice texture.

    Parameters
    ----------
    mean_image : numpy.ndarray, shape (H, W)
        Time-mean of the aligned video (counts).
    sigma : float
        Smooth cut-off (px): only frequencies above ~1/(2 pi sigma) can be texture.
    noise_var : float
        Shot-noise variance of one pixel of ``mean_image`` (counts^2).

    Returns
    -------
    numpy.ndarray
        Weights in [0, 1]: the high-pass (1 - exp(-2 (pi sigma k)^2)) on the bins of lattice peaks
        (dilated by PEAK_DILATION bins) with periods below 2 sigma, 0 elsewhere; the whole
        high-pass for a lattice image (peaks > LATTICE_FRACTION of the fine-scale variance).
    """
    from scipy import ndimage

    H, W = mean_image.shape
    ext = mirror(np.asarray(mean_image, dtype=np.float64) - float(np.mean(mean_image)))
    power = np.abs(np.fft.rfft2(ext)) ** 2
    background = ndimage.median_filter(power, size=BACKGROUND_WINDOW, mode="wrap")
    noise_power = 4.0 * ext.size * max(float(noise_var), 1e-30)  # the 4 mirror copies add coherently
    peaks = power > PEAK_FACTOR * np.maximum(background, noise_power)
    peaks = ndimage.binary_dilation(peaks, iterations=PEAK_DILATION)
    ky = np.fft.fftfreq(2 * H)[:, None]
    kx = np.fft.rfftfreq(2 * W)[None, :]
    k2 = ky ** 2 + kx ** 2
    high_pass = 1.0 - np.exp(-2 * (np.pi * sigma) ** 2 * k2)
    lattice = high_pass * (k2 > (0.5 / sigma) ** 2) * peaks
    fine = float(np.var(texture_numpy(mean_image, high_pass)))
    if fine > 0 and np.var(texture_numpy(mean_image, lattice)) > LATTICE_FRACTION * fine:
        # a lattice image: its texture is everywhere (harmonics, leakage at the edges); the peaks
        # alone lost 6 dB of PSNR on the project's own lattice videos
        return high_pass
    return lattice


def texture_numpy(img, transfer):
    """The texture part of an (H, W) image: its mirrored transform weighted by ``transfer``."""
    H, W = img.shape
    return np.fft.irfft2(np.fft.rfft2(mirror(np.asarray(img, dtype=np.float64))) * transfer, s=(2 * H, 2 * W))[:H, :W]


class TextureFilter:
    """:func:`texture_numpy` for torch tensors (differentiable), on one device."""

    def __init__(self, transfer, device, dtype):
        import torch

        self.shape = (transfer.shape[0] // 2, (transfer.shape[1] - 1) * 2 // 2)
        self.transfer = torch.as_tensor(transfer, device=device, dtype=dtype)

    def __call__(self, img):
        import torch

        H, W = img.shape
        spec = torch.fft.rfft2(mirror(img)) * self.transfer
        return torch.fft.irfft2(spec, s=(2 * H, 2 * W))[:H, :W]
