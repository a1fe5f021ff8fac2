import numpy as np
import pytest

from stemlab.simulate.fourd import two_phase_scan
from stemlab.crystal.structure import structure


@pytest.fixture(scope="module")
def scan():
    return two_phase_scan(scan_shape=(16, 12), pattern_shape=(64, 64), reciprocal_pixel=0.033, dose=20000,
                          n_grains=6, seed=3)


def test_axes_and_ground_truth_shapes(scan):
    assert scan.kind == "4dstem" and scan.shape == (16, 12, 64, 64)
    assert scan.axis_labels == ("scan_y", "scan_x", "ky", "kx")
    assert scan.units == ("nm", "nm", "1/angstrom", "1/angstrom")
    assert [a.navigate for a in scan.axes] == [True, True, False, False]
    ky = scan.axes[2]
    assert ky.offset + 32 * ky.scale == pytest.approx(0)  # k = 0 at pixel n // 2
    gt = scan.metadata["ground_truth"]
    assert gt["phase"].shape == gt["grain"].shape == (16, 12)
    assert gt["orientation"].shape == (16, 12, 3, 3)
    assert gt["descan"].shape == (16, 12, 2)
    assert gt["phase_names"] == ["Al", "Fe"]
    assert np.array_equal(gt["phase"], gt["grain_phase"][gt["grain"]])
    R = gt["orientation"].reshape(-1, 3, 3)
    assert np.einsum("nij,nkj->nik", R, R) == pytest.approx(np.broadcast_to(np.eye(3), R.shape), abs=1e-12)
    # zone-axis grains: the recorded axis lies within the maximum tilt of the beam
    for g, uvw in enumerate(gt["grain_zone_axis"]):
        if np.any(uvw):
            st = structure(gt["phase_names"][gt["grain_phase"][g]])
            d = gt["grain_orientation"][g] @ st.direction(uvw)
            assert d[2] / np.linalg.norm(d) > np.cos(np.radians(1.0001))


def test_direct_beam_at_recorded_descan(scan):
    gt = scan.metadata["ground_truth"]
    data = scan.data.astype(float)
    rows, cols = np.mgrid[0:64, 0:64]
    errors = []
    for iy in range(0, 16, 3):
        for ix in range(0, 12, 3):
            cy, cx = gt["descan"][iy, ix]
            w = data[iy, ix] * (((rows - cy) ** 2 + (cols - cx) ** 2) < 3.0**2)
            errors.append([(w * rows).sum() / w.sum() - cy, (w * cols).sum() / w.sum() - cx])
    assert np.abs(errors).max() < 0.25
    # the descan really moves across the scan
    assert np.ptp(gt["descan"][..., 0]) > 0.5 and np.ptp(gt["descan"][..., 1]) > 0.5


def test_poisson_statistics(scan):
    sums = scan.data.sum(axis=(2, 3)).astype(float).ravel()
    n = len(sums)
    assert sums.mean() == pytest.approx(20000, abs=4 * np.sqrt(20000 / n))
    assert 0.6 < sums.var() / 20000 < 1.5  # each clean pattern sums to the dose exactly
    assert scan.data.dtype == np.uint16


def test_deterministic():
    a = two_phase_scan(scan_shape=(4, 4), pattern_shape=(32, 32), reciprocal_pixel=0.066, seed=5)
    b = two_phase_scan(scan_shape=(4, 4), pattern_shape=(32, 32), reciprocal_pixel=0.066, seed=5)
    assert np.array_equal(a.data, b.data)
    assert np.array_equal(a.metadata["ground_truth"]["orientation"], b.metadata["ground_truth"]["orientation"])
