"""One unit parser for every spelling the ecosystem writes, checked against pint's own reading."""

from __future__ import annotations

import math

import pytest

from stemlab.errors import CalibrationError
from stemlab.units import angle_to_reciprocal, electron_wavelength, normalize_unit

SPELLINGS = [
    # pyxem / HyperSpy LaTeX-like strings
    ("$A^{-1}$", "1/angstrom"), ("$\\AA^{-1}$", "1/angstrom"), ("$\\mathring{A}^{-1}$", "1/angstrom"),
    ("$nm^{-1}$", "1/nm"), ("$\\mathrm{nm}^{-1}$", "1/nm"), ("$\\mu m$", "micrometer"), ("$\\AA$", "angstrom"),
    # plain text
    ("1/A", "1/angstrom"), ("A^-1", "1/angstrom"), ("A-1", "1/angstrom"), ("1/Å", "1/angstrom"),
    ("nm^-1", "1/nm"), ("1 / nm", "1/nm"), ("nm-1", "1/nm"), ("1/nm", "1/nm"), ("nm**-1", "1/nm"),
    ("A ^ -1", "1/angstrom"),
    # Unicode: superscripts, the Angstrom sign, a combining ring, Greek mu and micro sign
    ("Å⁻¹", "1/angstrom"), ("nm⁻¹", "1/nm"), ("\u212b", "angstrom"), ("A\u030a", "angstrom"), ("Å", "angstrom"),
    ("µm", "micrometer"), ("\u03bcm", "micrometer"), ("um", "micrometer"), ("1/µm", "1/micrometer"),
    # lengths, angles, times
    ("nm", "nm"), ("A", "angstrom"), ("pm", "pm"), ("mrad", "mrad"), ("rad", "rad"), ("µrad", "microradian"),
    ("s", "s"), ("ms", "ms"), ("µs", "microsecond"), ("us", "microsecond"),
    # uncalibrated
    ("", ""), ("<undefined>", ""), ("px", ""), (None, ""),
]


@pytest.mark.parametrize("text, expected", SPELLINGS)
def test_every_spelling(text, expected):
    assert normalize_unit(text) == expected


@pytest.mark.parametrize("expected", sorted({e for _, e in SPELLINGS if e}))
def test_normalized_names_are_what_pint_reads(expected):
    """The normalized spellings are pint-valid: pint's registry parses them to the right dimension."""
    pint = pytest.importorskip("pint")
    ureg = pint.UnitRegistry()
    quantity = ureg.Quantity(1.0, expected)
    dims = {"1/angstrom": {"[length]": -1}, "1/nm": {"[length]": -1}, "1/micrometer": {"[length]": -1},
            "s": {"[time]": 1}, "ms": {"[time]": 1}, "microsecond": {"[time]": 1}, "mrad": {}, "rad": {},
            "microradian": {}}
    assert dict(quantity.dimensionality) == dims.get(expected, {"[length]": 1})
    metres = {"angstrom": 1e-10, "nm": 1e-9, "micrometer": 1e-6, "pm": 1e-12}
    if expected in metres:
        assert quantity.to("m").magnitude == pytest.approx(metres[expected])


@pytest.mark.parametrize("text", ["$B^{-1}$", "furlong", "1/parsec", "A^-2"])
def test_unknown_units_are_refused_by_name(text):
    with pytest.raises(CalibrationError, match="nit"):
        normalize_unit(text)


def test_angle_to_reciprocal_is_alpha_over_lambda():
    """1 mrad at 200 kV: k = 2 sin(alpha/2)/lambda = 0.0399 1/angstrom (lambda 0.02508 angstrom)."""
    lam = electron_wavelength(200)
    assert angle_to_reciprocal(1.0, "mrad", 200) == pytest.approx(1e-3 / lam, rel=1e-6)
    assert angle_to_reciprocal(1.0, "mrad", 200) == pytest.approx(0.039872, rel=1e-4)
    assert angle_to_reciprocal(0.05, "rad", 300) == pytest.approx(2 * math.sin(0.025) / electron_wavelength(300))
    assert angle_to_reciprocal(-2.0, "mrad", 200) == pytest.approx(-2.0 * angle_to_reciprocal(1.0, "mrad", 200))
