"""Frame alignment (drift correction) for in-situ videos by cross-correlation.

Each frame is registered to the mean of the (already aligned) video with sub-pixel
cross-correlation (Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33 (2008) 156, as in
``skimage.registration.phase_cross_correlation``); two passes, so the reference sharpens
once the first shifts are applied. Plain (not phase-normalised) correlation is used
because it is far more robust to shot noise.
"""

from __future__ import annotations

import numpy as np

from ..backend.progress import check, report


def estimate_drift(frames, *, upsample: int = 10, refine: bool = True, progress=None, cancel=None) -> np.ndarray:
    """Shift (dy, dx) in pixels per frame that aligns it to the common reference.

    ``frames``: (T, ny, nx). First consecutive frames are registered to each other (drift
    between neighbours is small, so a lattice's periodicity cannot alias it) and the shifts
    accumulated; then each pre-aligned frame is registered to the aligned mean, which removes
    the random walk of the accumulated errors. The shifts have zero median.
    ``shift_frames(frames, drift)`` aligns the video.
    """
    from skimage.registration import phase_cross_correlation

    frames = np.asarray(frames, dtype=np.float64)
    T = frames.shape[0]
    centred = frames - frames.mean(axis=(1, 2), keepdims=True)
    drift = np.zeros((T, 2))
    total = 2 * T if refine else T
    for k in range(1, T):
        check(cancel)
        shift, _, _ = phase_cross_correlation(centred[k - 1], centred[k], upsample_factor=upsample,
                                              normalization=None)
        drift[k] = drift[k - 1] + shift
        report(progress, k, total, "aligning frames")
    if refine and T > 2:
        aligned = shift_frames(frames, drift)
        reference = aligned.mean(axis=0)
        reference -= reference.mean()
        for k in range(T):
            check(cancel)
            shift, _, _ = phase_cross_correlation(reference, aligned[k] - aligned[k].mean(),
                                                  upsample_factor=upsample, normalization=None)
            if np.all(np.abs(shift) < 2):
                drift[k] += shift
            report(progress, T + k + 1, total, "aligning frames")
    drift -= np.median(drift, axis=0)
    return drift


def shift_frames(frames, drift, order: int = 1) -> np.ndarray:
    """Frames shifted by ``drift`` (T, 2) pixels (linear interpolation, edges repeated).

    Shifts below 0.05 px are not applied (no needless interpolation of the noise).
    """
    from scipy import ndimage

    frames = np.asarray(frames)
    out = np.array(frames, dtype=np.float64)
    for k, s in enumerate(np.asarray(drift, dtype=float)):
        if np.max(np.abs(s)) >= 0.05:
            out[k] = ndimage.shift(frames[k].astype(np.float64), s, order=order, mode="nearest")
    return out


def valid_mask(shape, drift) -> np.ndarray:
    """Boolean (T, ny, nx): True where the shifted frame holds measured (not edge-filled) pixels."""
    T, ny, nx = shape
    mask = np.ones(shape, dtype=bool)
    for k, (dy, dx) in enumerate(np.asarray(drift, dtype=float)):
        if abs(dy) >= 0.05:
            n = int(np.ceil(abs(dy)))
            if dy > 0:
                mask[k, :n] = False
            else:
                mask[k, ny - n:] = False
        if abs(dx) >= 0.05:
            n = int(np.ceil(abs(dx)))
            if dx > 0:
                mask[k, :, :n] = False
            else:
                mask[k, :, nx - n:] = False
    return mask
