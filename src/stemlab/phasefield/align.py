"""Frame alignment (drift correction) for in-situ videos, registered on the static lattice only.

Scan drift moves the whole sample, and the only part of a phase-transformation video that
is static in the sample's frame is its lattice: the interfaces move by themselves. Plain
(Z-contrast) images of moving interfaces carry no drift information that could be told apart
from the transformation, and registering them measured the interface motion instead (5-46 px
of spurious drift on drift-free 48 x 48 px explicit-solver videos, docs/phasefield.md). So the
frames are registered only on the spatial frequencies of lattice peaks: sharp maxima of the
frames' *mean power spectrum* (which, unlike the mean image, drift does not blur) above the
local median power, at periods below ``max_period``. Without such peaks the drift is not
estimated (zeros).

On those frequencies consecutive frames are registered with sub-pixel cross-correlation
(Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33 (2008) 156, as in
``skimage.registration.phase_cross_correlation``; plain, not phase-normalised, correlation,
which is far more robust to shot noise) and the shifts accumulated; then each pre-aligned
frame is registered to the aligned mean, which removes the random walk of the accumulated
errors. Frames are Hann-windowed first, so the circular correlation sees no edge jumps.
"""

from __future__ import annotations

import numpy as np

from ..backend.progress import check, report
from .texture import BACKGROUND_WINDOW

MAX_LATTICE_PERIOD = 12.0  # px: only peaks of shorter period count as lattice
PEAK_FACTOR = 30.0  # a lattice peak: mean power > this x the median power at its |k| and around it;
#                     smooth interface patterns reached 22 (48 x 48 px, 2 px interfaces), a lattice
#                     of 15 % fringes at 30 counts/px 60
PEAK_GROWTH = 1  # frequency bins added around each peak (the window spreads a peak over ~2 bins)
STEP_PRIOR_PX = 3.0  # scale (px) of the prior on the drift between consecutive frames: a lattice's
#                      correlation repeats at its lattice vectors and the nearest maximum is the drift
SEARCH_RADIUS = 1.5  # px around the best integer shift searched at sub-pixel resolution


def _windowed(frames):
    """2-D transforms (T, ny, nx) of the mean-free, Hann-windowed frames."""
    T, ny, nx = frames.shape
    win = np.hanning(ny + 2)[1:-1, None] * np.hanning(nx + 2)[None, 1:-1]
    centred = frames - (frames * win).sum(axis=(1, 2), keepdims=True) / win.sum()
    return np.fft.fft2(centred * win)


def lattice_mask(spectra, max_period: float = MAX_LATTICE_PERIOD) -> np.ndarray:
    """Boolean (ny, nx) mask of the lattice peaks of the frames' mean power spectrum.

    Parameters
    ----------
    spectra : numpy.ndarray, shape (T, ny, nx)
        2-D Fourier transforms of the (windowed) frames.
    max_period : float
        Longest period (px) that counts as lattice.

    Returns
    -------
    numpy.ndarray
        True on the bins of peaks (mean power > PEAK_FACTOR x both the median power of
        its ring |k| and the local median, grown by PEAK_GROWTH bins); all False for an
        image without a lattice.
    """
    from scipy import ndimage

    power = np.mean(np.abs(spectra) ** 2, axis=0)
    ny, nx = power.shape
    local = ndimage.median_filter(power, size=BACKGROUND_WINDOW, mode="wrap")
    k = np.hypot(np.fft.fftfreq(ny)[:, None], np.fft.fftfreq(nx)[None, :])
    ring = np.round(k * max(ny, nx)).astype(int)
    ring_median = np.zeros(ring.max() + 1)
    for r in np.unique(ring):
        ring_median[r] = np.median(power[ring == r])
    peaks = (power > PEAK_FACTOR * np.maximum(local, ring_median[ring])) & (k > 1.0 / max_period)
    if not peaks.any():
        return peaks
    return ndimage.binary_dilation(peaks, iterations=PEAK_GROWTH)


def register(ref_hat, mov_hat, upsample: int = 10, prior_px: float | None = None) -> np.ndarray:
    """Shift (dy, dx) px that registers ``mov`` to ``ref``, from their (masked) 2-D transforms.

    The cross-correlation's best integer shift (weighted by a Gaussian prior of scale
    ``prior_px`` on the shift, if given) is refined on a 1/``upsample`` px grid by a
    matrix DFT around it (Guizar-Sicairos et al. 2008).

    Parameters
    ----------
    ref_hat, mov_hat : numpy.ndarray, shape (ny, nx), complex
        2-D Fourier transforms of the reference and the moving frame.
    upsample : int
        Sub-pixel grid: 1/upsample px.
    prior_px : float, optional
        Scale (px) of a Gaussian prior on the shift; None: none.

    Returns
    -------
    numpy.ndarray, shape (2,)
        (dy, dx) in px; ``scipy.ndimage.shift(mov, shift)`` aligns ``mov`` with ``ref``.
    """
    ny, nx = ref_hat.shape
    product = ref_hat * np.conj(mov_hat)
    cc = np.fft.ifft2(product).real
    sy = np.fft.fftfreq(ny) * ny
    sx = np.fft.fftfreq(nx) * nx
    if prior_px:
        cc = cc - np.abs(cc).max() * (sy[:, None] ** 2 + sx[None, :] ** 2) / (2 * prior_px ** 2)
    iy, ix = np.unravel_index(np.argmax(cc), cc.shape)
    offsets = np.arange(-SEARCH_RADIUS, SEARCH_RADIUS + 1e-9, 1.0 / upsample)
    ey = np.exp(2j * np.pi * np.outer(sy[iy] + offsets, np.fft.fftfreq(ny)))
    ex = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(nx), sx[ix] + offsets))
    fine = (ey @ product @ ex).real
    jy, jx = np.unravel_index(np.argmax(fine), fine.shape)
    return np.array([sy[iy] + offsets[jy], sx[ix] + offsets[jx]])


def estimate_drift(frames, *, upsample: int = 10, refine: bool = True, progress=None, cancel=None) -> np.ndarray:
    """Shift (dy, dx) in pixels per frame that aligns it to the common reference.

    Parameters
    ----------
    frames : array_like, shape (T, ny, nx)
        The video (counts or any intensity).
    upsample : int
        Sub-pixel precision of the registration, 1/upsample px.
    refine : bool
        Register the pre-aligned frames to their mean in a second pass.
    progress, cancel : callable, optional
        Progress callback and cancel check (:mod:`stemlab.backend.progress`).

    Returns
    -------
    numpy.ndarray, shape (T, 2)
        Shifts in px with zero median; all zero where the frames show no lattice
        (:func:`lattice_mask`), since then interface motion and drift cannot be told apart.
        ``shift_frames(frames, drift)`` aligns the video.
    """
    frames = np.asarray(frames, dtype=np.float64)
    T = frames.shape[0]
    drift = np.zeros((T, 2))
    spectra = _windowed(frames)
    mask = lattice_mask(spectra)
    if not mask.any() or T < 2:
        return drift
    spectra *= mask
    total = 2 * T if refine else T
    for k in range(1, T):
        check(cancel)
        drift[k] = drift[k - 1] + register(spectra[k - 1], spectra[k], upsample, STEP_PRIOR_PX)
        report(progress, k, total, "aligning frames")
    if refine and T > 2:
        aligned = _windowed(shift_frames(frames, drift)) * mask
        reference = aligned.mean(axis=0)
        for k in range(T):
            check(cancel)
            drift[k] += register(reference, aligned[k], upsample, STEP_PRIOR_PX)
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
