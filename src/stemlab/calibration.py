"""User calibration: scan step, reciprocal pixel size, or camera length + pixel + voltage.

Accepts strings with units ('2nm', '0.0127/angstrom', '0.0127 1/A', '200kV', '0.2m',
'55um') or bare floats in fixed units: scan step nm, calibration 1/angstrom, camera
length m, detector pixel micrometre, voltage kV. Nonsense (negative, wrong kind of unit)
raises CalibrationError naming the option.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .dataset import Dataset, square_pixels
from .errors import CalibrationError
from .units import (angle_to_reciprocal, convert, is_angle, is_reciprocal, length_in_metres, parse_quantity,
                    reciprocal_pixel_size)

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


def parse_scan_rotation(value, option: str = "scan_rotation") -> float:
    """Scan rotation in degrees; a bare number is degrees, 'rad'/'mrad' are converted. E.g. '12.5', '0.2rad'."""
    if isinstance(value, bool):
        raise CalibrationError(f"{option}: expected an angle in degrees such as 12.5, got {value!r}.")
    if isinstance(value, (int, float)):
        number, unit = float(value), "degree"
    else:
        number, unit = parse_quantity(str(value), what=option)
        unit = unit or "degree"
    if unit != "degree" and not is_angle(unit):
        raise CalibrationError(f"{option} must be an angle such as 12.5 (degrees) or '0.2rad', got {value!r}.")
    if unit != "degree":
        number = math.degrees(number * (1e-3 if unit == "mrad" else 1e-6 if unit == "microradian" else 1.0))
    if not math.isfinite(number):
        raise CalibrationError(f"{option} must be a finite angle in degrees, got {value!r}.")
    return number


def parse_calibration_options(*, scan_step=None, calibration=None, camera_length=None, detector_pixel=None,
                              voltage=None, scan_rotation=None, scan_flip=None) -> dict:
    """Validate user options into {'scan_step': (v, unit), 'reciprocal': (v, unit) or None,
    'camera_length_m', 'detector_pixel_m', 'voltage_kv', 'scan_rotation_deg', 'scan_flip'};
    raise CalibrationError for nonsense."""
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
        "scan_rotation_deg": parse_scan_rotation(scan_rotation) if scan_rotation is not None else None,
        "scan_flip": _flag(scan_flip, "scan_flip") if scan_flip is not None else None,
    }


def _flag(value, option: str) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
        return value.strip().lower() in ("true", "yes", "1", "on")
    if isinstance(value, (bool, int)) and value in (0, 1):
        return bool(value)
    raise CalibrationError(f"{option} is true or false (the detector image mirrored relative to the scan), "
                           f"got {value!r}.")


def apply_calibration(ds: Dataset, *, scan_step=None, calibration=None, camera_length=None, detector_pixel=None,
                      voltage=None, scan_rotation=None, scan_flip=None, strict: bool = True) -> Dataset:
    """A copy of ``ds`` with the user's calibration on its scan/image axes and detector axes.

    ``scan_step`` sets scan_y/scan_x (4D-STEM) or y/x (images, videos); ``calibration`` or
    camera length + detector pixel (+ voltage, else the file's) set ky/kx in reciprocal
    units, centred so k = 0 sits at pixel n//2. ``voltage`` also converts detector axes
    calibrated in scattering angle (mrad) to 1/angstrom. ``scan_rotation`` (degrees) and
    ``scan_flip`` set the scan geometry (:attr:`stemlab.Dataset.scan_rotation_deg`); they
    replace what the file header said. With ``strict`` an option that does not fit the
    dataset (e.g. a reciprocal calibration for an image) raises CalibrationError.
    """
    opts = parse_calibration_options(scan_step=scan_step, calibration=calibration, camera_length=camera_length,
                                     detector_pixel=detector_pixel, voltage=voltage, scan_rotation=scan_rotation,
                                     scan_flip=scan_flip)
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
    geometry = {key: opts[key] for key in ("scan_rotation_deg", "scan_flip") if opts[key] is not None}
    if geometry and not ds.nav_axes:
        _refuse(strict, f"scan_rotation/scan_flip: dataset {ds.name!r} ({ds.kind}) has no scan.")
        geometry = {}
    record.update(geometry)
    if not changes and not geometry and opts["voltage_kv"] is None:
        return ds
    out = ds.with_axes(**changes) if changes else ds
    metadata = dict(ds.metadata)
    if opts["voltage_kv"] is not None:
        metadata["voltage_kv"] = opts["voltage_kv"]
        record["voltage_kv"] = opts["voltage_kv"]
    metadata["user_calibration"] = record
    out = replace(out, metadata=metadata, **geometry)
    return angular_detector_to_reciprocal(out) if opts["voltage_kv"] is not None else out


def angular_detector_to_reciprocal(ds: Dataset) -> Dataset:
    """Detector axes calibrated in scattering angle (rad, mrad) converted to 1/angstrom.

    One pixel's angle alpha becomes k = 2 sin(alpha / 2) / lambda (relativistic wavelength at
    the dataset's ``metadata['voltage_kv']``); the offset keeps k = 0 on the same pixel.
    Without a voltage the axes stay angular; analyses that need 1/angstrom then ask for it
    (:func:`reciprocal_pixel`). Returns ``ds`` unchanged when no detector axis is angular.
    """
    angular = [a for a in ds.axes if a.name in DETECTOR_AXES and is_angle(a.units)]
    voltage_kv = ds.metadata.get("voltage_kv")
    if not angular or not voltage_kv:
        return ds
    changes = {}
    for a in angular:
        scale = angle_to_reciprocal(a.scale, a.units, voltage_kv)
        changes[a.name] = {"scale": scale, "offset": a.offset / a.scale * scale, "units": "1/angstrom"}  # same k=0 px
    note = (f"detector axes in {angular[0].units} ({angular[0].scale:g} per px) converted to 1/angstrom "
            f"at {voltage_kv:g} kV ({changes[angular[0].name]['scale']:.6g} 1/angstrom per px)")
    metadata = {**ds.metadata, "notes": [*ds.metadata.get("notes", []), note]}
    return replace(ds.with_axes(**changes), metadata=metadata)


def reciprocal_pixel(ds: Dataset, axis: str = "kx") -> float:
    """Reciprocal size of one detector pixel along ``axis`` in 1/angstrom, from the dataset's calibration.

    Raises CalibrationError naming the fix: ``--voltage`` for detectors calibrated in mrad,
    ``--calibration`` for uncalibrated ones.
    """
    ax = next((a for a in ds.axes if a.name == axis), ds.axes[-1])
    if is_reciprocal(ax.units):
        return convert(ax.scale, ax.units, "1/angstrom")
    if is_angle(ax.units):
        raise CalibrationError(f"{ds.name!r}: the detector is calibrated in {ax.units} ({ax.scale:g} per px) and the "
                               "file does not record the voltage: give --voltage (e.g. --voltage 200kV; voltage= in "
                               "Python) to convert it to 1/angstrom.")
    raise CalibrationError(f"{ds.name!r} has no reciprocal calibration: give --calibration (reciprocal pixel size, "
                           "e.g. 0.0165 for 1/angstrom per px, or '0.165 1/nm'; calibration= in Python).")


def detector_aspect_note(ds: Dataset) -> str | None:
    """A warning text when the detector pixels are not square (:func:`stemlab.dataset.square_pixels`)."""
    axes = {a.name: a for a in ds.axes}
    ky, kx = axes.get("ky"), axes.get("kx")
    if ky is None or kx is None or not (ky.calibrated and kx.calibrated) or ky.units != kx.units:
        return None
    if square_pixels(ky, kx):
        return None
    ratio = ky.scale / kx.scale
    return (f"detector pixels are not square: ky {ky.scale:.6g} vs kx {kx.scale:.6g} {kx.units} per px "
            f"(ratio {ratio:.4f}); CoM/DPC use each axis's own scale, orientation mapping resamples ky to square "
            "pixels")


def _refuse(strict: bool, message: str) -> None:
    if strict:
        raise CalibrationError(message)


def square_detector_pixels(ds: Dataset) -> Dataset:
    """``ds`` with its detector resampled (lazily, linear along ky) to square pixels of the kx scale.

    For analyses that take one reciprocal pixel size (orientation mapping): a ky step that
    differs from kx's (:func:`stemlab.dataset.square_pixels`) would stretch every pattern. The ky axis keeps
    its offset (k = offset + i x kx scale); intensities are interpolated, not rescaled (a count
    density). Returns ``ds`` itself when the pixels are square or uncalibrated.
    """
    import numpy as np

    if detector_aspect_note(ds) is None:
        return ds
    names = list(ds.axis_labels)
    iy = names.index("ky")
    ky, kx = ds.axes[iy], ds.axes[names.index("kx")]
    size = int(math.floor((ky.size - 1) * ky.scale / kx.scale)) + 1
    source = np.arange(size) * kx.scale / ky.scale  # fractional ky index of each new row
    lower = np.minimum(np.floor(source).astype(int), ky.size - 2)
    weight = (source - lower).astype(np.float32)
    axis = iy - ds.ndim  # negative: counts from the end, valid in any block

    def resample(block):
        a = np.take(block, lower, axis=axis).astype(np.float32)
        b = np.take(block, lower + 1, axis=axis).astype(np.float32)
        shape = [1] * block.ndim
        shape[axis] = size
        w = weight.reshape(shape)
        return a * (1 - w) + b * w

    if ds.is_lazy:
        data = ds.data.rechunk({iy: -1})
        chunks = tuple((size,) if i == iy else c for i, c in enumerate(data.chunks))
        data = data.map_blocks(resample, chunks=chunks, dtype=np.float32)
    else:
        data = resample(np.asarray(ds.data))
    axes = tuple(replace(a, size=size, scale=kx.scale) if a.name == "ky" else a for a in ds.axes)
    note = f"detector resampled to square pixels: ky {ky.size} x {ky.scale:.6g} -> {size} x {kx.scale:.6g} {kx.units}"
    metadata = {**ds.metadata, "notes": [*ds.metadata.get("notes", []), note]}
    return replace(ds, data=data, axes=axes, metadata=metadata)
