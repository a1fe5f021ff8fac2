"""Drift correction recovers known shifts of a noisy lattice video."""

import numpy as np
from scipy import ndimage

from stemlab.phasefield.align import estimate_drift, shift_frames, valid_mask


def test_drift_is_recovered():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    base = 20 * (1 + 0.5 * np.cos(2 * np.pi * yy / 7.0) * np.cos(2 * np.pi * xx / 9.0)
                 + np.exp(-((yy - 40) ** 2 + (xx - 50) ** 2) / 200.0))
    true = np.array([[0, 0], [0.5, -1.0], [1.5, -2.0], [2.5, -2.5], [3.0, -4.0], [4.2, -5.1]])
    frames = np.stack([ndimage.shift(base, -s, order=3, mode="wrap") for s in true])
    frames = rng.poisson(frames).astype(float)
    drift = estimate_drift(frames)
    expected = true - np.median(true, axis=0)
    assert np.max(np.abs(drift - expected)) < 0.3
    aligned = shift_frames(frames, drift)
    mask = valid_mask(frames.shape, drift)
    assert aligned.shape == frames.shape and mask[:, 10:-10, 10:-10].all() and not mask.all()


def test_no_drift_means_no_interpolation():
    frames = np.random.default_rng(1).poisson(30, size=(4, 32, 32)).astype(float)
    out = shift_frames(frames, np.zeros((4, 2)))
    np.testing.assert_array_equal(out, frames)
