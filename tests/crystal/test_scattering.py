"""Electron scattering factors of every element against references that are not our table.

stemlab's factors are the Peng et al. (1996) / International Tables C Table 4.3.2.2 five-Gaussian fit
(coefficients from gemmi). They are checked against
* the Mott-Bethe formula f_e(s) = m0 e^2 / (8 pi eps0 h^2) (Z - f_x(s)) / s^2 evaluated with the X-ray
  factors f_x of International Tables C Table 6.1.1.4 (a different fit, to X-ray data; gemmi's ``it92``),
  for every element H..Cf at s = 0.5-1.0 1/angstrom, where the formula is well conditioned;
* the independent parametrisation of Lobato & Van Dyck, Acta Cryst. A70 (2014) 636, as diffsims ships
  it (test extra; skipped without diffsims).
"""

import numpy as np
import pytest
from scipy import constants as sc

from stemlab.errors import ParameterError
from stemlab.crystal.structure import Site, Structure
from stemlab.crystal.scattering import MAX_Z, atomic_number, electron_scattering_factor, element_symbol


def _symbols():
    import gemmi

    return [gemmi.Element(z).name for z in range(1, MAX_Z + 1)]


def test_every_element_has_a_factor_and_mott_bethe_agrees():
    import gemmi

    mott = sc.m_e * sc.e**2 / (8 * np.pi * sc.epsilon_0 * sc.h**2) * 1e-10  # 1/angstrom: 0.023934
    assert mott == pytest.approx(0.023934, rel=1e-4)
    s = np.array([0.5, 0.75, 1.0])  # 1/angstrom, g = 2 s
    errors = []
    for z, symbol in enumerate(_symbols(), start=1):
        assert atomic_number(symbol) == z
        f_e = electron_scattering_factor(symbol, 2 * s)
        f_x = np.array([gemmi.Element(z).it92.calculate_sf(v * v) for v in s])
        reference = mott * (z - f_x) / s**2
        errors.append(np.abs(f_e / reference - 1))
    errors = np.array(errors)
    assert errors.shape == (MAX_Z, 3)
    assert errors.max() < 0.04, _symbols()[int(np.argmax(errors.max(1)))]
    assert np.median(errors) < 0.005


def test_lobato_van_dyck_agrees():
    pytest.importorskip("diffsims")
    from diffsims.utils.lobato_scattering_params import ATOMIC_SCATTERING_PARAMS_LOBATO as LOBATO

    g = np.array([0.5, 1.0, 2.0])  # 1/angstrom
    errors = {}
    for symbol in _symbols():
        a, b = np.asarray(LOBATO[symbol], dtype=float).T
        gb = np.multiply.outer(g * g, b)
        reference = np.sum(a * (2 + gb) / (1 + gb) ** 2, axis=-1)  # Lobato & Van Dyck (2014), eq. 15
        errors[symbol] = np.abs(electron_scattering_factor(symbol, g) / reference - 1).max()
    assert len(errors) == MAX_Z
    worst = max(errors, key=errors.get)
    assert errors[worst] < 0.04, (worst, errors[worst])
    assert np.median(list(errors.values())) < 0.01


def test_symbols_and_errors():
    assert element_symbol("FE") == "Fe" and element_symbol("Fe2+") == "Fe" and element_symbol("w") == "W"
    assert electron_scattering_factor("C", 0.0) == pytest.approx(2.5087, abs=1e-3)  # sum of the a_i, Table 4.3.2.2
    assert np.all(np.diff(electron_scattering_factor("W", np.linspace(0, 4, 20))) < 0)
    for bad in ("Xx", "Es", "", "12"):
        with pytest.raises(ParameterError, match="chemical symbol"):
            electron_scattering_factor(bad, 0.1)


def test_carbides_and_nitrides_have_structure_factors():
    """The elements of carbides, nitrides and alloys (C, N, Cr, Mn, Co, Zn, Zr, Nb, Mo, W) scatter."""
    for metal, light in [("W", "C"), ("Ti", "N"), ("Cr", "C"), ("Mn", "C"), ("Co", "C"), ("Zn", "O"), ("Zr", "C"),
                         ("Nb", "C"), ("Mo", "C")]:
        rock_salt = Structure(f"{metal}{light}", 4.3, 4.3, 4.3, sites=(
            *(Site(metal, p) for p in [(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)]),
            *(Site(light, p) for p in [(.5, .5, .5), (.5, 0, 0), (0, .5, 0), (0, 0, .5)])))
        g200 = 2 / 4.3
        F = rock_salt.structure_factor([2, 0, 0], debye_waller=False)
        expect = 4 * (electron_scattering_factor(metal, g200) + electron_scattering_factor(light, g200))
        assert abs(F) == pytest.approx(expect, rel=1e-9)
