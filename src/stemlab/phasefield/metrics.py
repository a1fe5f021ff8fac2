"""Figures of merit against a known truth, and the classical denoisers we compare with."""

from __future__ import annotations

import numpy as np


def psnr(estimate, clean) -> float:
    """Peak signal-to-noise ratio in dB, peak = range of the clean video."""
    clean = np.asarray(clean, dtype=np.float64)
    err = np.mean((np.asarray(estimate, dtype=np.float64) - clean) ** 2)
    peak = clean.max() - clean.min()
    return float(10 * np.log10(peak ** 2 / err)) if err > 0 else float("inf")


def best_gaussian(noisy, clean, sigmas=(0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0), sigmas_t=(0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)):
    """Gaussian filter (space x time) of the strength that maximises PSNR against the clean video
    (an oracle-tuned baseline). Returns (psnr, (sigma_t, sigma_xy), filtered)."""
    from scipy import ndimage

    noisy = np.asarray(noisy, dtype=np.float64)
    best = (-np.inf, None, None)
    for st in sigmas_t:
        for s in sigmas:
            out = ndimage.gaussian_filter(noisy, (st, s, s))
            value = psnr(out, clean)
            if value > best[0]:
                best = (value, (st, s), out)
    return best


def best_nlm(noisy, clean, strengths=(0.5, 0.8, 1.2, 1.7, 2.4), patch_size=5, patch_distance=6,
             temporal: bool = True):
    """Non-local means (scikit-image) of the strength h = strength * sigma_noise that maximises
    PSNR against the clean video. ``temporal``: 3D patches over (t, y, x) (stronger than
    frame by frame). Returns (psnr, strength, filtered)."""
    from skimage.restoration import denoise_nl_means

    noisy = np.asarray(noisy, dtype=np.float64)
    # variance-stabilise Poisson counts (Anscombe) so one h fits bright and dark pixels
    stab = 2 * np.sqrt(noisy + 3 / 8)
    sigma = 1.0  # Anscombe-stabilised Poisson counts have unit variance
    best = (-np.inf, None, None)
    for k in strengths:
        if temporal:
            out = denoise_nl_means(stab, h=k * sigma, sigma=sigma, patch_size=patch_size,
                                   patch_distance=min(patch_distance, 3), fast_mode=True)
        else:
            out = np.stack([denoise_nl_means(f, h=k * sigma, sigma=sigma, patch_size=patch_size,
                                             patch_distance=patch_distance, fast_mode=True) for f in stab])
        est = np.clip(out / 2, 0, None) ** 2 - 1 / 8  # simple inverse Anscombe
        value = psnr(est, clean)
        if value > best[0]:
            best = (value, k, est)
    return best
