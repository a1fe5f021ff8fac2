"""Orientation mapping against references that are not our own forward model.

* diffsims (pyxem's kinematic simulator, test extra): spot positions of the same crystal->lab
  rotation agree with stemlab's; its patterns, drawn on a detector in pyxem's convention
  (kx = -(col - cx) cal, ky = (row - cy) cal, docs/orientation.md), are indexed by
  ``index_orientations`` for a hexagonal phase (WC, P-6m2) and cementite (Fe3C, Pnma).
  diffsims' beam travels along -z (its Ewald sphere is centred at +z / lambda) and stemlab's along
  +z, so the rotation stemlab reports is diffsims' one turned by 180 degrees about y: that frame
  change is what the pixel convention above encodes, and what the test asserts.
* orix: the matcher's own symmetry-aware disorientation against orix's ``Orientation.angle_with``
  (:func:`stemlab.orientation.evaluate.disorientation_deg`, under the proper Laue group).
"""

import numpy as np
import pytest

from stemlab.crystal import resolve_phase
from stemlab.crystal.reflections import diffraction_spots, reflections
from stemlab.crystal.rotations import axis_angle_matrix, random_rotations, zone_axis_rotation
from stemlab.orientation.evaluate import disorientation_deg

CAL = 0.0165  # 1/angstrom per px
SHAPE = (128, 128)
Y180 = np.diag([-1.0, 1.0, -1.0])  # diffsims' sample frame -> stemlab's lab frame


def _diffsims(phase, R, g_max=1.45):
    from diffsims.generators.simulation_generator import SimulationGenerator
    from orix.quaternion import Rotation

    gen = SimulationGenerator(200.0, scattering_params="lobato", minimum_intensity=1e-8)
    sims = gen.calculate_diffraction2d(phase.orix_phase(), rotation=Rotation.from_matrix(np.transpose(R, (0, 2, 1))),
                                       reciprocal_radius=g_max, max_excitation_error=0.03, with_direct_beam=False)
    return [sims.irot[i].coordinates for i in range(len(R))] if len(R) > 1 else [sims.coordinates]


def _pyxem_detector(coordinates, sigma=1.5):
    """A diffsims spot list drawn in pyxem's detector convention: col = cx - x / cal, row = cy + y / cal."""
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    cy, cx = SHAPE[0] // 2, SHAPE[1] // 2
    img = 50 * np.exp(-((rr - cy) ** 2 + (cc - cx) ** 2) / 8.0)
    x, y, inten = coordinates.data[:, 0], coordinates.data[:, 1], coordinates.intensity
    for xi, yi, wi in zip(x, y, inten / inten.max()):
        img += 30 * wi * np.exp(-((rr - cy - yi / CAL) ** 2 + (cc - cx + xi / CAL) ** 2) / (2 * sigma**2))
    return img


def _near_zones(phase, zones, seed):
    rng = np.random.default_rng(seed)
    Rs = []
    for uvw in zones:
        R0 = zone_axis_rotation(phase.structure, uvw, rng.uniform(0, 360))
        axis = np.r_[rng.normal(size=2), 0.0]
        Rs.append(axis_angle_matrix(axis, np.radians(rng.uniform(0.5, 1.5))) @ R0)
    return np.array(Rs)


@pytest.mark.slow  # diffsims' first import compiles its numba kernels (~20 s)
@pytest.mark.parametrize("name", ["WC", "Fe3C"])
def test_diffsims_spot_positions_are_ours(name):
    """Same rotation, same reflections at the same (kx, ky): lattice, hexagonal/orthorhombic frames and
    rotation conventions agree with diffsims + orix + diffpy (which share none of our code)."""
    pytest.importorskip("diffsims")
    phase = resolve_phase(name)
    Rs = random_rotations(3, np.random.default_rng(2))
    refl = reflections(phase.structure, 1.45, min_relative_intensity=0.0)
    for R, coords in zip(Rs, _diffsims(phase, Rs)):
        sp = diffraction_spots(refl, R, 200.0, s_width=0.03, min_intensity=None)  # every reflection
        ours = {tuple(h): (x, y) for h, x, y in zip(sp.hkl, sp.kx, sp.ky)}
        hkl = np.round(coords.hkl).astype(int)
        assert len(hkl) > 5
        for h, v in zip(hkl, coords.data):
            assert np.allclose(ours[tuple(h)], v[:2], atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("name, zones", [
    ("WC", [(0, 0, 1), (1, 0, 0), (1, 1, 0), (0, 1, 1)]),
    # cementite near [101], [011], [210], [120] is mis-indexed (40-90 degrees) on diffsims' patterns and,
    # near [101] and [011], on stemlab's own too, with orientation reliability ~0: a kinematic ambiguity
    # of those zones at this camera length, not a disagreement between the simulators
    ("Fe3C", [(0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0)]),
])
def test_index_orientations_on_diffsims_patterns(name, zones, tmp_path):
    pytest.importorskip("diffsims")
    from stemlab.orientation import index_orientations

    phase = resolve_phase(name)
    R_true = _near_zones(phase, zones, seed=4)  # 0.5-1.5 degrees off low-index zones, any in-plane angle
    patterns = np.array([_pyxem_detector(c) for c in _diffsims(phase, R_true)])
    # diffsims' relrod is linear, 1 - |s| / 0.03: the library's Gaussian of the same variance, 0.03 / sqrt(6)
    result = index_orientations(patterns, [name], calibration=CAL, s_width=0.012, cache=tmp_path)
    R_found = result.rotations.reshape(-1, 3, 3)
    error = disorientation_deg(R_found, Y180 @ R_true, phase)
    # a pattern the matcher itself calls ambiguous (orientation reliability < 1 %: a distinct runner-up
    # scores as high) may go either way - WC (c/a = 0.98) near [011] has a twin ~89 degrees away that
    # flips with any change of sampling; every other pattern must be right, and at most one ambiguous
    confident = result.arrays["orientation_reliability"].reshape(-1) >= 1.0
    assert np.all(error[confident] < 1.0), (np.round(error, 2), result.arrays["orientation_reliability"])
    assert confident.sum() >= len(error) - 1


def test_matcher_disorientation_matches_orix(tmp_path):
    """Matcher.pair_disorientation (our trace formula over the proper Laue group) against orix on random
    pairs of cubic (TiN), hexagonal -6m2 (WC) and orthorhombic (Fe3C) orientations."""
    import torch

    from stemlab.orientation import Matcher, MatchSettings, build_library

    lib = build_library(["TiN", "WC", "Fe3C"], resolution_deg=6.0, cache=tmp_path)
    matcher = Matcher(lib, MatchSettings(calibration=CAL), SHAPE)
    rng = np.random.default_rng(7)
    for p, phase in enumerate(lib.phases):
        A, B = random_rotations(40, rng), random_rotations(40, rng)
        rot = torch.as_tensor(np.concatenate([A, B])[None])
        ph = torch.full((1, 80), p)
        ours = matcher.pair_disorientation(rot, ph).numpy()[0, :40, 40:].diagonal()
        theirs = disorientation_deg(B, A, phase)
        assert np.abs(ours - theirs).max() < 0.02, phase.name
        assert theirs.max() > 30  # random pairs: the comparison covers large angles too
    # pairs of different phases are 180 degrees apart by definition
    rot = torch.as_tensor(random_rotations(2, rng)[None])
    assert matcher.pair_disorientation(rot, torch.tensor([[0, 1]])).numpy()[0, 0, 1] == pytest.approx(180.0)
