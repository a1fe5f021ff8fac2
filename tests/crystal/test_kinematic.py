import numpy as np
import pytest

from stemlab.crystal import reflections as kin
from stemlab.crystal import rotations
from stemlab.crystal.structure import structure
from stemlab.units import electron_wavelength


@pytest.fixture(scope="module")
def al_refl():
    return kin.reflections(structure("Al"), 1.2)


def test_al_001_zone_axis_pattern(al_refl):
    al = al_refl.structure
    R = rotations.zone_axis_rotation(al, [0, 0, 1])
    sp = kin.diffraction_spots(al_refl, R, 200, s_width=0.01, min_intensity=1e-3)
    assert np.all(sp.hkl[:, 2] == 0)  # only the zero-order Laue zone
    r = np.hypot(sp.kx, sp.ky)
    order = np.argsort(-sp.intensity)
    strongest = r[order[:4]]
    assert strongest == pytest.approx(2 / 4.0495, rel=1e-6)  # 200
    ring220 = r[np.isclose(r, 2 * np.sqrt(2) / 4.0495, rtol=1e-6)]
    assert len(ring220) == 4
    # square: 200 spots at 0, 90, 180, 270 degrees
    ang = np.sort(np.degrees(np.arctan2(sp.ky[order[:4]], sp.kx[order[:4]])) % 360)
    assert ang == pytest.approx([0, 90, 180, 270], abs=1e-6)
    # excitation error on the zone axis: s = -lambda g^2 / 2
    lam = electron_wavelength(200)
    assert sp.excitation_error == pytest.approx(-0.5 * lam * r**2)


def test_inplane_rotation_direction(al_refl):
    al = al_refl.structure
    R = rotations.zone_axis_rotation(al, [0, 0, 1], inplane_deg=30)
    sp = kin.diffraction_spots(al_refl, R, 200)
    i = np.where((sp.hkl == [2, 0, 0]).all(1))[0][0]
    assert np.degrees(np.arctan2(sp.ky[i], sp.kx[i])) == pytest.approx(30)


def test_zone_axis_rotation_maps_axis_to_beam():
    for name, uvw in [("Al", [1, 1, 1]), ("Fe", [1, 1, 2]), ("Ti", [2, 1, 0]), ("Ti", [0, 0, -1])]:
        st = structure(name)
        R = rotations.zone_axis_rotation(st, uvw, 17)
        d = st.direction(uvw)
        assert R @ d / np.linalg.norm(d) == pytest.approx([0, 0, 1], abs=1e-12)
        assert R @ R.T == pytest.approx(np.eye(3))
        assert np.linalg.det(R) == pytest.approx(1)


def test_batch_matches_single_and_quaternions(al_refl):
    rng = np.random.default_rng(1)
    Rs = rotations.random_rotations(50, rng)
    batch = kin.diffraction_spots(al_refl, Rs, 200, min_intensity=None)
    one = kin.diffraction_spots(al_refl, Rs[7], 200, min_intensity=None)
    assert batch.intensity[7] == pytest.approx(one.intensity)
    assert batch.kx[7] == pytest.approx(one.kx)
    q = rotations.matrix_to_quaternion(Rs)
    assert rotations.quaternion_to_matrix(q) == pytest.approx(Rs)
    assert np.all(q[:, 0] >= 0)


def test_precession_excites_more_reflections(al_refl):
    al = al_refl.structure
    R = rotations.axis_angle_matrix([1, 0, 0], np.radians(2.0)) @ rotations.zone_axis_rotation(al, [0, 0, 1])
    plain = kin.diffraction_spots(al_refl, R, 200, s_width=0.005)
    prec = kin.diffraction_spots(al_refl, R, 200, s_width=0.005, precession_deg=2.0)
    assert len(prec.kx) > len(plain.kx)
    # precession averages: no spot brighter than the stationary |F|^2
    assert np.all(prec.intensity <= al_refl.intensity.max() + 1e-9)


def test_profiles():
    s = np.array([0.0, 0.01])
    for p in ("gaussian", "lorentzian", "sinc2"):
        v = kin.shape_factor(s, 0.01, p)
        assert v[0] == 1 and 0 <= v[1] < 1
    assert kin.shape_factor(0.01, 0.01, "sinc2") == pytest.approx(0, abs=1e-12)
