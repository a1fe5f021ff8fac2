"""Structure factors and spot positions against references that are not our own code.

* gemmi's electron structure-factor calculator (``StructureFactorCalculatorE``: its own space-group
  expansion of the asymmetric unit, its own metric), same Table 4.3.2.2 factors: complex F to 1e-4;
* diffsims (diffpy.structure's CIF reader, diffsims' structure-factor sum, Lobato & Van Dyck 2014
  factors; test extra): |F| of the strong reflections within the 4 % the two parametrisations differ by;
* hexagonal d-spacings from the textbook formula 1/d^2 = 4/3 (h^2 + hk + k^2)/a^2 + l^2/c^2, and the
  positions of the [0001] zone's spots typed by hand.
"""

import numpy as np
import pytest

from stemlab.crystal import resolve_phase, shipped_cifs
from stemlab.crystal.reflections import diffraction_spots, reflections
from stemlab.crystal.rotations import zone_axis_rotation

PHASES = ["Fe3C", "WC", "TiN", "Cr23C6", "Ti", "Si"]


@pytest.mark.parametrize("name", PHASES)
def test_structure_factors_match_gemmi(name):
    import gemmi

    refl = reflections(resolve_phase(name).structure, 1.2, debye_waller=False)
    small = gemmi.make_small_structure_from_block(gemmi.cif.read(str(shipped_cifs()[name])).sole_block())
    small.determine_and_set_spacegroup("SH12N")
    small.change_occupancies_to_crystallographic()  # sites on special positions: gemmi sums every image
    calc = gemmi.StructureFactorCalculatorE(small.cell)
    F = np.array([calc.calculate_sf_from_small_structure(small, [int(v) for v in h]) for h in refl.hkl])
    assert len(refl) > 50
    assert np.abs(F - refl.F).max() < 1e-4 * np.abs(F).max()  # complex: phases too (WC lacks inversion)


@pytest.mark.parametrize("name", PHASES)
def test_structure_factors_match_diffsims(name):
    pytest.importorskip("diffsims")
    from diffpy.structure import loadStructure
    from diffsims.utils.sim_utils import _get_kinematical_structure_factor

    refl = reflections(resolve_phase(name).structure, 1.5, debye_waller=False)
    structure = loadStructure(str(shipped_cifs()[name]), fmt="cif")
    F = _get_kinematical_structure_factor(structure, refl.hkl.astype(float), refl.g_norm, scattering_params="lobato")
    strong = np.abs(F) > 0.1 * np.abs(F).max()
    assert strong.sum() >= 5
    assert np.abs(np.abs(refl.F[strong]) / np.abs(F[strong]) - 1).max() < 0.04
    forbidden = np.abs(F) < 1e-6 * np.abs(F).max()
    assert not forbidden.any()  # ours drops extinct reflections; diffsims agrees they are absent


@pytest.mark.parametrize("name", ["WC", "Ti", "Mg"])
def test_hexagonal_d_spacings_and_zone_spots(name):
    st = resolve_phase(name).structure
    refl = reflections(st, 2.0)
    h, k, l = refl.hkl.T
    inv_d2 = 4 / 3 * (h * h + h * k + k * k) / st.a**2 + l * l / st.c**2
    assert np.allclose(refl.g_norm, np.sqrt(inv_d2), rtol=1e-12)
    # [0001] zone at in-plane 0 (a along x, b at 120 degrees): the six {10-10} spots at 2 / (sqrt(3) a),
    # a* at -30 degrees (perpendicular to b), b* at 90, and 60 degrees apart
    sp = diffraction_spots(refl, zone_axis_rotation(st, (0, 0, 1)), 200.0, s_width=0.02, min_intensity=1e-3)
    r = np.hypot(sp.kx, sp.ky)
    first = np.isclose(r, 2 / (np.sqrt(3) * st.a), rtol=1e-9)
    assert first.sum() == 6 and np.all(sp.hkl[first][:, 2] == 0)
    angles = np.sort(np.degrees(np.arctan2(sp.ky[first], sp.kx[first])) % 360)
    assert np.allclose(angles, [30, 90, 150, 210, 270, 330], atol=1e-9)
    assert np.allclose(np.abs(sp.excitation_error[first]), 0.5 * 0.02508 * r[first] ** 2, rtol=1e-3)  # Ewald, 200 kV
