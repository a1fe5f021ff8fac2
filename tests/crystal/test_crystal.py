import numpy as np
import pytest

from stemlab.errors import ParameterError
from stemlab.crystal.structure import Site, Structure, bcc, diamond, fcc, hcp, structure
from stemlab.crystal.reflections import reflections
from stemlab.crystal.scattering import electron_scattering_factor
from stemlab.units import electron_wavelength


def test_wavelength_200kv_300kv():
    # relativistic wavelengths: 200 kV 0.025079 A, 300 kV 0.019687 A (Williams & Carter table 1.1)
    assert electron_wavelength(200) == pytest.approx(0.025079, abs=2e-6)
    assert electron_wavelength(300) == pytest.approx(0.019687, abs=2e-6)


def test_metric_and_d_spacings():
    al = structure("Al")
    a = 4.0495
    assert np.allclose(al.direct_basis @ al.reciprocal_basis.T, np.eye(3))
    assert al.d_spacing([1, 1, 1]) == pytest.approx(a / np.sqrt(3))
    assert al.d_spacing([2, 2, 0]) == pytest.approx(a / np.sqrt(8))
    assert al.volume == pytest.approx(a**3)
    ti = structure("Ti")
    A = ti.direct_basis
    assert A[0, 1] == 0 and A[1, 2] == 0 and A[0, 2] == 0  # a || x, b in xy
    assert ti.d_spacing([1, 0, 0]) == pytest.approx(ti.a * np.sqrt(3) / 2)
    assert ti.d_spacing([0, 0, 2]) == pytest.approx(ti.c / 2)
    # triclinic metric round trip
    tri = Structure("tri", 3.0, 4.0, 5.0, 80, 95, 110, (Site("Al", (0, 0, 0)),))
    G = tri.metric_tensor
    assert np.sqrt(np.diag(G)) == pytest.approx([3, 4, 5])
    assert np.degrees(np.arccos(G[0, 1] / 12)) == pytest.approx(110)
    assert np.degrees(np.arccos(G[1, 2] / 20)) == pytest.approx(80)


def test_fcc_reflection_conditions():
    refl = reflections(structure("Al"), 1.6)
    h = np.abs(refl.hkl) % 2
    assert np.all((h.sum(1) == 0) | (h.sum(1) == 3)), "fcc: hkl all odd or all even"
    rings = np.unique(np.round(refl.g_norm * 4.0495, 4) ** 2)
    assert rings[:5] == pytest.approx([3, 4, 8, 11, 12], abs=1e-3)
    assert abs(structure("Al").structure_factor([1, 0, 0])) < 1e-10
    assert abs(structure("Al").structure_factor([2, 1, 0])) < 1e-10


def test_bcc_diamond_hcp_conditions():
    refl = reflections(structure("Fe"), 1.5)
    assert np.all(refl.hkl.sum(1) % 2 == 0)
    si = structure("Si")
    assert abs(si.structure_factor([2, 0, 0])) < 1e-10
    assert abs(si.structure_factor([2, 2, 2])) < 1e-10  # forbidden kinematically (spherical atoms)
    assert abs(si.structure_factor([1, 1, 1])) > 1
    ti = structure("Ti")
    assert abs(ti.structure_factor([0, 0, 1])) < 1e-10  # 00l, l odd
    assert abs(ti.structure_factor([0, 0, 2])) > 1


def test_scattering_factor_and_structure_factor_values():
    # f_e(0) = sum a_i (Peng et al. 1996): Al 5.8872 A
    assert electron_scattering_factor("Al", 0.0) == pytest.approx(5.8872, abs=1e-4)
    g = np.linspace(0, 3, 20)
    assert np.all(np.diff(electron_scattering_factor("Au", g)) < 0)
    al = fcc("Al", b_iso=0.0)
    g111 = 1 / al.d_spacing([1, 1, 1])
    assert abs(al.structure_factor([1, 1, 1])) == pytest.approx(4 * electron_scattering_factor("Al", g111))
    fe = bcc("Fe", b_iso=0.0)
    g110 = 1 / fe.d_spacing([1, 1, 0])
    assert abs(fe.structure_factor([1, 1, 0])) == pytest.approx(2 * electron_scattering_factor("Fe", g110))
    si = diamond("Si", b_iso=0.0)
    g = 1 / si.d_spacing([1, 1, 1])
    assert abs(si.structure_factor([1, 1, 1])) == pytest.approx(4 * np.sqrt(2) * electron_scattering_factor("Si", g))
    # sensible ratios: |F111| > |F200| > |F220| for Al; Debye-Waller lowers high orders more
    Al = structure("Al")
    F = np.abs(Al.structure_factor([[1, 1, 1], [2, 0, 0], [2, 2, 0], [4, 0, 0]]))
    assert np.all(np.diff(F) < 0)
    F0 = np.abs(Al.structure_factor([[1, 1, 1], [4, 0, 0]], debye_waller=False))
    assert F[3] / F0[1] < F[0] / F0[0] < 1
    # heavier atoms scatter more
    assert abs(fcc("Au").structure_factor([1, 1, 1])) > 2 * abs(Al.structure_factor([1, 1, 1]))


def test_unknown_names():
    with pytest.raises(ParameterError):
        structure("Unobtainium")
    with pytest.raises(ParameterError):
        electron_scattering_factor("Xx", 0.1)
    assert hcp("Mg").point_group == "6/mmm"
