"""The dominant lattice periodicity of an atomic-resolution image, from its power spectrum."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def lattice_spacing_px(image, *, min_period: float = 4.0, max_size: int = 1024) -> float:
    """Period (px) of the strongest lattice reflection of a 2D image.

    The mean-subtracted image (its central square, at most ``max_size``) is Hann-windowed
    and Fourier transformed. Bragg spots are sharp: the candidates are local maxima of the
    power spectrum (5 x 5) that stand at least 3 x above the mean of their 9 x 9
    neighbourhood, with at least 8 periods across the image and at least ``min_period`` px
    per period. The strongest candidate wins; its |k| is refined by the power-weighted
    centroid of its 3 x 3 neighbourhood.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 32:
        raise ParameterError(f"Lattice spacing needs a 2D image of at least 32 x 32 px, got {img.shape}; "
                             "give the patch size explicitly.")
    n = min(min(img.shape), max_size)
    r0, c0 = (img.shape[0] - n) // 2, (img.shape[1] - n) // 2
    img = img[r0:r0 + n, c0:c0 + n]
    img = img - img.mean()
    hann = np.hanning(n)
    power = np.abs(np.fft.fftshift(np.fft.fft2(img * np.outer(hann, hann)))) ** 2
    ky, kx = np.indices(power.shape) - n // 2
    k = np.hypot(ky, kx)
    local = ndimage.uniform_filter(power, 9)
    candidates = ((power == ndimage.maximum_filter(power, 5)) & (k >= max(4.0, n / 64)) & (k <= n / min_period)
                  & (power > 3 * local))
    if not candidates.any():
        raise ParameterError("No lattice reflection found in the image's power spectrum; "
                             "give the patch size and search window explicitly.")
    i, j = np.unravel_index(np.argmax(np.where(candidates, power, 0)), power.shape)
    sl = (slice(max(i - 1, 0), i + 2), slice(max(j - 1, 0), j + 2))
    weights = power[sl]
    kk = float((k[sl] * weights).sum() / weights.sum())
    return n / kk
