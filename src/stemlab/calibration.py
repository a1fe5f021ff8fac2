"""User calibration: scan step, reciprocal pixel size, or camera length + pixel + voltage.

Accepts strings with units ('2nm', '0.0127/angstrom', '0.0127 1/A', '200kV', '0.2m',
'55um') or bare floats in fixed units: scan step nm, calibration 1/angstrom, camera
length m, detector pixel micrometre, voltage kV. Nonsense (negative, wrong kind of unit)
raises CalibrationError naming the option.
"""

from __future__ import annotations

from dataclasses import replace

from .dataset import Dataset
from .errors import CalibrationError
from .units import is_reciprocal, length_in_metres, parse_quantity, reciprocal_pixel_size

SCAN_AXES = ("scan_y", "scan_x", "scan", "y", "x")
DETECTOR_AXES = ("ky", "kx")


def _number(value, option: str, default_unit: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise CalibrationError(f"{option}: expected a number with a unit, got {value!r}.")
    if isinstance(value, (int, float)):
        number, unit = float(value), default_unit
    else:
        number, unit = parse_quantity(str(value), what=option)
        unit = unit or default_unit
    if not number > 0:
        raise CalibrationError(f"{option} must be positive, got {value!r}.")
    return number, unit


def parse_scan_step(value, option: str = "scan_step") -> tuple[float, str]:
    """(step, length unit); a bare number is nm. E.g. '2nm' -> (2.0, 'nm')."""
    number, unit = _number(value, option, "nm")
    if unit == "kV" or is_reciprocal(unit) or unit not in _LENGTHS:
        raise CalibrationError(f"{option} must be a length such as '2nm' or '20 angstrom', got {value!r}.")
    return number, unit


def parse_reciprocal(value, option: str = "calibration") -> tuple[float, str]:
    """(reciprocal pixel size, '1/length'); a bare number is 1/angstrom. E.g. '0.0127 1/A'."""
    number, unit = _number(value, option, "1/angstrom")
    if not is_reciprocal(unit):
        raise CalibrationError(
            f"{option} is a reciprocal-space pixel size such as '0.0127 1/angstrom' or '0.127 1/nm'; "
            f"got {value!r} (a {'voltage' if unit == 'kV' else unit or 'unitless'} value)."
        )
    return number, unit


def _length_m(value, option: str, default_unit: str, low: float, high: float, example: str) -> float:
    number, unit = _number(value, option, default_unit)
    if unit == "kV" or is_reciprocal(unit) or unit not in _LENGTHS:
        raise CalibrationError(f"{option} must be a length such as '{example}', got {value!r}.")
    metres = number * length_in_metres(unit)
    if not low <= metres <= high:
        raise CalibrationError(f"{option} = {value!r} is outside {low:g}..{high:g} m: write it with a unit, e.g. '{example}'.")
    return metres


def parse_camera_length(value, option: str = "camera_length") -> float:
    """Camera length in metres; a bare number is m. E.g. '0.2m', '200mm'."""
    return _length_m(value, option, "m", 1e-3, 100.0, "0.2m")


def parse_detector_pixel(value, option: str = "detector_pixel") -> float:
    """Detector pixel size in metres; a bare number is micrometres. E.g. '55um' -> 5.5e-5."""
    return _length_m(value, option, "micrometer", 1e-7, 1e-2, "55um")


def parse_voltage(value, option: str = "voltage") -> float:
    """Accelerating voltage in kV; a bare number is kV. E.g. '200kV', '300000V'."""
    number, unit = _number(value, option, "kV")
    if unit != "kV":
        raise CalibrationError(f"{option} must be a voltage such as '200kV', got {value!r}.")
    if not 1 <= number <= 5000:
        raise CalibrationError(f"{option} = {value!r} is not a TEM voltage (1..5000 kV): write e.g. '200kV'.")
    return number


_LENGTHS = ("m", "cm", "mm", "micrometer", "nm", "angstrom", "pm")


def parse_calibration_options(*, scan_step=None, calibration=None, camera_length=None, detector_pixel=None,
                              voltage=None) -> dict:
    """Validate user options into {'scan_step': (v, unit), 'reciprocal': (v, unit) or None,
    'camera_length_m', 'detector_pixel_m', 'voltage_kv'}; raise CalibrationError for nonsense."""
    if calibration is not None and (camera_length is not None or detector_pixel is not None):
        raise CalibrationError("Give either calibration (reciprocal pixel size) or camera_length + "
                               "detector_pixel, not both.")
    if (camera_length is None) != (detector_pixel is None):
        missing = "detector_pixel (e.g. '55um')" if detector_pixel is None else "camera_length (e.g. '0.2m')"
        raise CalibrationError(f"camera_length and detector_pixel go together: also give {missing}.")
    return {
        "scan_step": parse_scan_step(scan_step) if scan_step is not None else None,
        "reciprocal": parse_reciprocal(calibration) if calibration is not None else None,
        "camera_length_m": parse_camera_length(camera_length) if camera_length is not None else None,
        "detector_pixel_m": parse_detector_pixel(detector_pixel) if detector_pixel is not None else None,
        "voltage_kv": parse_voltage(voltage) if voltage is not None else None,
    }


def apply_calibration(ds: Dataset, *, scan_step=None, calibration=None, camera_length=None, detector_pixel=None,
                      voltage=None, strict: bool = True) -> Dataset:
    """A copy of ``ds`` with the user's calibration on its scan/image axes and detector axes.

    ``scan_step`` sets scan_y/scan_x (4D-STEM) or y/x (images, videos); ``calibration`` or
    camera length + detector pixel (+ voltage, else the file's) set ky/kx in reciprocal
    units, centred so k = 0 sits at pixel n//2. With ``strict`` an option that does not fit
    the dataset (e.g. a reciprocal calibration for an image) raises CalibrationError.
    """
    opts = parse_calibration_options(scan_step=scan_step, calibration=calibration, camera_length=camera_length,
                                     detector_pixel=detector_pixel, voltage=voltage)
    names = set(ds.axis_labels)
    changes: dict = {}
    record: dict = {}
    voltage_kv = opts["voltage_kv"] or ds.metadata.get("voltage_kv")
    if opts["scan_step"]:
        targets = [n for n in SCAN_AXES if n in names]
        if not targets:
            _refuse(strict, f"scan_step: dataset {ds.name!r} ({ds.kind}) has no scan or image axes.")
        step, unit = opts["scan_step"]
        for n in targets:
            changes[n] = {"scale": step, "offset": 0.0, "units": unit}
        if targets:
            record["scan_step"] = f"{step:g} {unit}"
    reciprocal = opts["reciprocal"]
    if opts["camera_length_m"] is not None and any(n in names for n in DETECTOR_AXES):
        if voltage_kv is None:
            raise CalibrationError(f"camera_length needs the voltage: {ds.name!r} does not record it; give voltage='200kV'.")
        k = reciprocal_pixel_size(opts["camera_length_m"], opts["detector_pixel_m"], voltage_kv)
        reciprocal = (k, "1/angstrom")
        record.update(camera_length_m=opts["camera_length_m"], detector_pixel_m=opts["detector_pixel_m"])
    if reciprocal:
        targets = [n for n in DETECTOR_AXES if n in names]
        if not targets:
            _refuse(strict, f"calibration: dataset {ds.name!r} ({ds.kind}) has no diffraction (ky, kx) axes.")
        k, unit = reciprocal
        for axis in ds.axes:
            if axis.name in targets:
                changes[axis.name] = {"scale": k, "offset": -k * (axis.size // 2), "units": unit}
        if targets:
            record["reciprocal_pixel"] = f"{k:.6g} {unit}"
    if not changes and opts["voltage_kv"] is None:
        return ds
    out = ds.with_axes(**changes) if changes else ds
    metadata = dict(ds.metadata)
    if opts["voltage_kv"] is not None:
        metadata["voltage_kv"] = opts["voltage_kv"]
        record["voltage_kv"] = opts["voltage_kv"]
    metadata["user_calibration"] = record
    return replace(out, metadata=metadata)


def _refuse(strict: bool, message: str) -> None:
    if strict:
        raise CalibrationError(message)
