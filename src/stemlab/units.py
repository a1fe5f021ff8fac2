"""Unit strings and physical quantities: one spelling for every length and reciprocal length.

Instrument files and the ecosystem's tools spell units many ways: "A", "Å", "\\AA", "µm",
"um", "1/A", "A^-1", "Å⁻¹", "nm^-1", "1 / nm", and HyperSpy/pyxem's LaTeX-like "$A^{-1}$".
:func:`normalize_unit` is the one parser for all of them; stemlab keeps pint-valid names
(``nm``, ``angstrom``, ``1/angstrom``, ``micrometer``, ``s``, ``mrad``) so napari and pint
agree. ``A`` always means angstrom here (never ampere): an electron microscope never
calibrates an image axis in amperes.
"""

from __future__ import annotations

import math
import re

from .errors import CalibrationError

_LENGTHS = {
    "m": "m",
    "cm": "cm",
    "mm": "mm",
    "um": "micrometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "micron": "micrometer",
    "micrometer": "micrometer",
    "nm": "nm",
    "nanometer": "nm",
    "a": "angstrom",
    "å": "angstrom",
    "Å": "angstrom",
    "ang": "angstrom",
    "angstrom": "angstrom",
    "angstroms": "angstrom",
    "pm": "pm",
    "picometer": "pm",
}
_OTHERS = {
    "s": "s",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "ms": "ms",
    "us": "microsecond",
    "µs": "microsecond",
    "mrad": "mrad",
    "milliradian": "mrad",
    "urad": "microradian",
    "µrad": "microradian",
    "rad": "rad",
    "radian": "rad",
    "deg": "degree",
    "degree": "degree",
    "ev": "eV",
    "kev": "keV",
}
_RECIPROCAL = re.compile(r"^(?:1\s*/\s*(?P<a>.+)|(?P<b>[^\s^/]+)\s*(?:\^|\*\*)\s*\(?-1\)?|(?P<c>[^\s^/]+)-1)$")

# Angle units in radians (detector axes calibrated in scattering angle).
_RADIANS = {"rad": 1.0, "mrad": 1e-3, "microradian": 1e-6}

# LaTeX-like and Unicode spellings, rewritten to plain text before parsing: "$A^{-1}$" -> "A^-1".
_REWRITES = (
    ("\\mathring{A}", "Å"), ("\\AA", "Å"), ("\\mu ", "µ"), ("\\mu", "µ"), ("\\cdot", ""),
    ("⁻¹", "^-1"), ("⁻", "^-"), ("¹", "1"), ("−", "-"),
    ("\u03bc", "\u00b5"), ("A\u030a", "\u00c5"), ("\u212b", "\u00c5"),  # Greek mu, combining ring, Angstrom sign
)
_LATEX_WRAPPERS = re.compile(r"\\(?:mathrm|text|rm|mathit)\s*")

# Length units in metres, for converting between length scales without pint.
_METRES = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "micrometer": 1e-6, "nm": 1e-9, "angstrom": 1e-10, "pm": 1e-12}


def normalize_unit(unit: str | None) -> str:
    """Return the pint-valid spelling of ``unit`` ('' for uncalibrated pixels).

    >>> normalize_unit("A^-1")
    '1/angstrom'
    """
    if unit is None:
        return ""
    text = _plain(str(unit))
    if text.lower() in ("", "<undefined>", "undefined", "none", "px", "pixel", "pixels", "a.u.", "au"):
        return ""
    match = _RECIPROCAL.match(text)
    if match:
        inner = match.group("a") or match.group("b") or match.group("c")
        inner_norm = _length_name(inner.strip())
        if inner_norm is None:
            raise CalibrationError(f"Unknown reciprocal unit {unit!r}: use e.g. '1/nm' or '1/angstrom'.")
        return f"1/{inner_norm}"
    length = _length_name(text)
    if length is not None:
        return length
    other = _OTHERS.get(text.lower())
    if other is not None:
        return other
    raise CalibrationError(f"Unknown unit {unit!r}: use a length (nm, angstrom), 1/length, s or mrad.")


def _plain(text: str) -> str:
    """Strip LaTeX math ($, braces, \\mathrm) and Unicode superscripts: '$\\AA^{-1}$' -> 'Å^-1'."""
    text = _LATEX_WRAPPERS.sub("", text.strip())
    for old, new in _REWRITES:
        text = text.replace(old, new)
    text = text.replace("$", "").replace("{", "").replace("}", "")
    return re.sub(r"\s*\^\s*", "^", text).strip()


def is_angle(unit: str) -> bool:
    """True for angle units (normalized): 'rad', 'mrad', 'microradian'."""
    return unit in _RADIANS


def angle_in_radians(unit: str) -> float:
    """Size of one ``unit`` (a normalized angle unit) in radians."""
    try:
        return _RADIANS[unit]
    except KeyError:
        raise CalibrationError(f"{unit!r} is not an angle unit.") from None


def angle_to_reciprocal(value: float, unit: str, voltage_kv: float) -> float:
    """Scattering angle ``value`` (``unit``: rad, mrad) as a reciprocal length in 1/angstrom.

    k = 2 sin(alpha / 2) / lambda with the relativistic wavelength at ``voltage_kv``; for a
    detector pixel (a small angle) this is alpha / lambda to better than 1e-6.
    """
    alpha = value * angle_in_radians(normalize_unit(unit))
    return 2.0 * math.sin(alpha / 2.0) / electron_wavelength(voltage_kv)


def _length_name(text: str) -> str | None:
    if text in _LENGTHS:
        return _LENGTHS[text]
    return _LENGTHS.get(text.lower())


def is_reciprocal(unit: str) -> bool:
    """True for reciprocal-length units such as '1/nm'."""
    return unit.startswith("1/")


def length_in_metres(unit: str) -> float:
    """Size of one ``unit`` (a normalized length unit) in metres."""
    try:
        return _METRES[unit]
    except KeyError:
        raise CalibrationError(f"{unit!r} is not a length unit.") from None


def convert(value: float, unit: str, to: str) -> float:
    """Convert a length or reciprocal length ``value`` from ``unit`` to ``to``."""
    unit, to = normalize_unit(unit), normalize_unit(to)
    if unit == to:
        return value
    if is_reciprocal(unit) and is_reciprocal(to):
        return value * length_in_metres(to[2:]) / length_in_metres(unit[2:])
    if not is_reciprocal(unit) and not is_reciprocal(to):
        return value * length_in_metres(unit) / length_in_metres(to)
    raise CalibrationError(f"Cannot convert {unit!r} to {to!r}.")


_QUANTITY = re.compile(r"^\s*(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>.*?)\s*$")


def parse_quantity(text: str, what: str = "value") -> tuple[float, str]:
    """Parse '2nm', '0.0127/angstrom', '0.0127 1/A', '200kV' into (number, normalized unit).

    ``what`` names the option in the error message.
    """
    match = _QUANTITY.match(str(text))
    if not match:
        raise CalibrationError(f"Cannot read {what} {text!r}: write a number and a unit, e.g. '2nm'.")
    number = float(match.group("num"))
    unit = match.group("unit")
    if unit.startswith("/"):
        unit = "1" + unit
    if unit.lower() in ("kv", "v", "mv"):
        factor = {"kv": 1.0, "v": 1e-3, "mv": 1e3}[unit.lower()]
        return number * factor, "kV"
    try:
        return number, normalize_unit(unit)
    except CalibrationError as error:
        raise CalibrationError(f"Cannot read {what} {text!r}: {error}") from None


def electron_wavelength(voltage_kv: float) -> float:
    """Relativistic electron wavelength in angstrom for an accelerating voltage in kV."""
    if voltage_kv <= 0:
        raise CalibrationError(f"Voltage must be positive, got {voltage_kv} kV.")
    h, m0, e, c = 6.62607015e-34, 9.1093837015e-31, 1.602176634e-19, 299792458.0
    energy = e * voltage_kv * 1e3
    momentum = math.sqrt(2 * m0 * energy * (1 + energy / (2 * m0 * c**2)))
    return h / momentum * 1e10


def reciprocal_pixel_size(camera_length_m: float, detector_pixel_m: float, voltage_kv: float) -> float:
    """Reciprocal-space size of one detector pixel in 1/angstrom: p / (lambda L), small-angle."""
    if camera_length_m <= 0 or detector_pixel_m <= 0:
        raise CalibrationError("Camera length and detector pixel size must be positive.")
    return detector_pixel_m / (electron_wavelength(voltage_kv) * camera_length_m)
