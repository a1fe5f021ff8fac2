"""Unit strings and physical quantities: one spelling for every length and reciprocal length.

Instrument files spell units many ways ("A", "Å", "1/A", "nm^-1", "µm"); stemlab keeps
pint-valid names so napari and pint agree. ``A`` always means angstrom here (never ampere):
an electron microscope never calibrates an image axis in amperes.
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
    "rad": "rad",
    "deg": "degree",
    "degree": "degree",
    "ev": "eV",
    "kev": "keV",
}
_RECIPROCAL = re.compile(r"^(?:1\s*/\s*(?P<a>.+)|(?P<b>[^\s^/]+)\s*(?:\^|\*\*)\s*\(?-1\)?|(?P<c>[^\s^/]+)-1)$")

# Length units in metres, for converting between length scales without pint.
_METRES = {"m": 1.0, "cm": 1e-2, "mm": 1e-3, "micrometer": 1e-6, "nm": 1e-9, "angstrom": 1e-10, "pm": 1e-12}


def normalize_unit(unit: str | None) -> str:
    """Return the pint-valid spelling of ``unit`` ('' for uncalibrated pixels).

    >>> normalize_unit("A^-1")
    '1/angstrom'
    """
    if unit is None:
        return ""
    text = str(unit).strip()
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
