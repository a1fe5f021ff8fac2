import time

import numpy as np
import pytest

from stemlab.simulate.haadf import haadf_image, lattice_columns, project_structure, render_columns, render_lattice


def _peak_spacing(image, pixel_size):
    F = np.abs(np.fft.fft2(image - image.mean())) ** 2
    F[0, 0] = 0
    fy = np.fft.fftfreq(image.shape[0], pixel_size)
    fx = np.fft.fftfreq(image.shape[1], pixel_size)
    iy, ix = np.unravel_index(np.argmax(F), F.shape)
    return 1 / np.hypot(fy[iy], fx[ix])


def test_projections():
    lat = project_structure("Al", (0, 0, 1))
    assert len(lat.basis) == 4 and lat.area == pytest.approx(4.0495**2)
    # each fcc [001] column holds one atom per a: weight Z^1.7 / a
    assert lat.weights == pytest.approx(13**1.7 / 4.0495)
    hcp = project_structure("Ti", (0, 0, 1))
    pos, _ = lattice_columns(hcp, (20, 20))
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    d[d == 0] = np.inf
    assert d.min() == pytest.approx(2.9508 / np.sqrt(3), rel=1e-6)  # honeycomb
    fe111 = project_structure("Fe", (1, 1, 1))
    assert len(fe111.basis) == 1 and np.linalg.norm(fe111.cell[0]) == pytest.approx(2.8665 * np.sqrt(2 / 3))
    sto = project_structure("SrTiO3", (0, 0, 1))
    assert sorted(np.round(sto.weights / sto.weights.min(), 3))[-1] == pytest.approx(38**1.7 / 8**1.7, rel=1e-3)


def test_render_columns_conserves_weight_and_centroid():
    img = render_columns((64, 64), 0.2, np.array([[6.33, 5.71]]), np.array([2.0]), probe_sigma=0.5)
    assert img.sum() == pytest.approx(2.0, rel=1e-6)
    r, c = np.mgrid[0:64, 0:64]
    assert (img * r).sum() / img.sum() * 0.2 == pytest.approx(6.33, abs=1e-3)
    assert (img * c).sum() / img.sum() * 0.2 == pytest.approx(5.71, abs=1e-3)


def test_column_spacing_from_fft():
    ps = 0.2
    img = render_lattice((512, 512), ps, project_structure("Al", (0, 0, 1)), probe_sigma=0.4)
    assert _peak_spacing(img, ps) == pytest.approx(4.0495 / 2, rel=0.01)


def test_haadf_image():
    t = time.perf_counter()
    ds = haadf_image(seed=1)
    assert time.perf_counter() - t < 3.0
    assert ds.kind == "image" and ds.shape == (512, 512) and ds.units == ("nm", "nm")
    gt = ds.metadata["ground_truth"]
    assert gt["labels"].shape == (512, 512) and len(gt["names"]) == 3
    assert set(np.unique(gt["labels"])) == {0, 1, 2}
    # similar contrast: mean clean intensity of precipitate and matrix within 15 %
    clean = gt["clean"]
    m0, m2 = clean[gt["labels"] == 0].mean(), clean[gt["labels"] == 2].mean()
    assert abs(m2 / m0 - 1) < 0.15
    # noisy image mean ~ dose (Poisson)
    assert ds.data.mean() == pytest.approx(40, rel=0.02)
    # grain A (rotation 12 deg): column spacing a/2 in its FFT
    win = ds.data[40:168, 20:148]
    assert gt["labels"][40:168, 20:148].max() == 0
    assert _peak_spacing(win, 0.2) == pytest.approx(4.0495 / 2, rel=0.04)


def test_depth_phases_of_the_projection():
    # fcc [001]: the columns at (0, 0) and (1/2, 1/2) hold atoms at depth 0, the two others at a/2
    lat = project_structure("Al", (0, 0, 1))
    m = len(lat.basis)
    phase = {tuple(np.round(b, 3)): round(float(np.cos(2 * np.pi * d)), 6) for b, d in zip(lat.basis, lat.depth[:m])}
    assert phase == {(0.0, 0.0): 1.0, (0.5, 0.5): 1.0, (0.5, 0.0): -1.0, (0.0, 0.5): -1.0}
    # bcc [111]: one column per cell, the ABC stacking: one cell step shifts the depth by 1/3 or 2/3
    fe = project_structure("Fe", (1, 1, 1))
    assert sorted(np.round(fe.depth[1:] * 3) % 3) == [1.0, 2.0]


def test_depth_contrast_makes_the_forbidden_spots_of_fcc_100():
    lat = project_structure("Al", (0, 0, 1))
    ps, n = 0.1, 405  # 40.5 A: ten cells, periodic

    def spot(delta):
        pos, w = lattice_columns(lat, (n * ps, n * ps), depth_contrast=(delta, 0.0), margin=0.0)
        keep = (pos[:, 0] < n * ps - 0.01) & (pos[:, 1] < n * ps - 0.01)
        img = render_columns((n, n), ps, pos[keep], w[keep], 0.4)
        F = np.abs(np.fft.fft2(img))
        return F[10, 10] / F[20, 0]  # (1/a, 1/a), forbidden for identical columns, over (2/a, 0)

    # delta times the probe's transfer at sqrt(2)/a over that at 2/a (about 0 without depth contrast)
    assert spot(0.0) < 0.005
    assert spot(0.2) == pytest.approx(0.2 * np.exp(4 * np.pi**2 * 0.4**2 / lat.cell[0, 0]**2), rel=0.05)
