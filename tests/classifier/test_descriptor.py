import numpy as np
import pytest

from stemlab.classifier import descriptor as D
from stemlab.classifier import synthetic as S
from stemlab.errors import ParameterError
from stemlab.simulate.projections import projection


def _window(pixel_size, seed=0):
    proj = projection("fcc [100]")
    rng = np.random.default_rng(seed)
    p = S.sample_parameters(proj, rng)
    p.update(pixel_size=pixel_size, a=3.8, rotation=0.0, strain=np.zeros((2, 2)), dose=1e6, read_noise=0.0,
             jitter=0.0, background=0.0, column_scatter=0.0, window=12.0, blur=0.0, probe_sigma=0.4,
             column_shape=0.0, depth_contrast=0.0, sharp=0.0, tilt=0.0, amorphous=0.0)
    return S.simulate_window(proj, p, rng)


def test_descriptor_is_pixel_size_invariant_and_on_physical_grid():
    d1 = D.descriptors(_window(0.06))
    d2 = D.descriptors(_window(0.22))
    assert d1.shape == (64, 64)
    assert np.corrcoef(d1.ravel(), d2.ravel())[0, 1] > 0.9
    # fcc [100], a = 3.8: {200} spots at 2/a along kx and ky
    r, c = np.unravel_index(np.argmax(d1), d1.shape)
    g = np.hypot(r - 32, c - 32) * D.FREQ_STEP
    assert g == pytest.approx(2 / 3.8, abs=D.FREQ_STEP)
    assert d1[32, 32] == 0 and d1.max() == pytest.approx(1.0)


def test_numpy_and_torch_descriptors_agree():
    import torch

    w = np.random.default_rng(0).random((5, 32, 32)).astype(np.float32)
    a = D.descriptors(w)
    b = D.descriptors_torch(torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_window_limits_and_resampling():
    assert D.window_pixels(12.0) == 32
    with pytest.raises(ParameterError, match="window"):
        D.window_pixels(40.0)
    img = np.random.default_rng(1).random((300, 200)).astype(np.float32)
    out = D.resample(img, 0.075)
    assert out.shape == (60, 40)
    assert abs(out.mean() - img.mean()) < 0.02


def test_window_taper_runs_from_flat_to_hann():
    flat, hann = D.tukey2d(32, 0.0), D.tukey2d(32, 1.0)
    assert np.all(flat == 1.0)
    w = np.hanning(34)[1:-1]
    np.testing.assert_allclose(hann, np.outer(w, w), atol=1e-6)
    half = D.tukey2d(32, 0.5)[16]
    assert np.all(half[8:24] == 1.0) and half[0] < 0.1  # flat middle half, tapered quarters


def test_flat_window_sees_a_grain_three_angstrom_away():
    """A second lattice filling the outer quarter of the window shows in the descriptor."""
    rng = np.random.default_rng(2)
    n = D.window_pixels(12.0)
    yy, xx = np.mgrid[0:n, 0:n] * D.SAMPLING
    grain_a = np.cos(2 * np.pi * xx / 2.0)  # 0.5 1/A along kx
    grain_b = np.cos(2 * np.pi * yy / 2.6)  # 0.385 1/A along ky
    img = np.where(xx < 9.0, grain_a, grain_b) + 0.01 * rng.standard_normal((n, n))
    d = D.descriptors(img.astype(np.float32))
    row_b = int(round(32 + 1 / 2.6 / D.FREQ_STEP))
    assert d[row_b - 1:row_b + 2, 31:34].max() > 0.25  # the 3 A-away grain's reflection (Hann: 0.11)


def test_column_shape_turns_each_reflection_by_its_own_gain():
    from stemlab.classifier.synthetic import _column_shape

    rng = np.random.default_rng(4)
    proj = projection("fcc [100]")
    p = S.sample_parameters(proj, rng)
    p.update(column_shape=0.0, background=0.0, tilt=0.0, amorphous=0.0, gamma=1.0, dose=1e9, read_noise=0.0,
             jitter=0.0, drift=(0.0, 0.0), probe_tail=0.0, sharp=0.0, column_scatter=0.0, strain=np.zeros((2, 2)),
             rotation=0.0)
    img, _ = S.single_crystal((200, 200), 0.1, proj, params=p)
    assert _column_shape(img, 0.1, 0.0, rng) is img
    f0 = np.abs(np.fft.fft2(img - img.mean()))
    strong = f0 > 0.2 * f0.max()  # the {200} spots
    gains = []
    for seed in range(8):
        out = _column_shape(img, 0.1, 0.6, np.random.default_rng(seed))
        assert out.shape == img.shape and np.all(out >= 0) and out.mean() == pytest.approx(img.mean(), rel=0.2)
        gains.append(np.abs(np.fft.fft2(out - out.mean()))[strong] / f0[strong])
    # each reflection turned by its own random factor, of the order of exp(0.6)
    assert 0.3 < np.log(np.concatenate(gains)).std() < 1.2
