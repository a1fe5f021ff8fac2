"""rsciio signal dict -> stemlab Dataset: axis names, kinds, pint-valid units, voltage.

Conventions (docs/architecture.md): 4D-STEM is ``scan_y, scan_x, ky, kx`` (scan axes
navigate); a stack of patterns is ``scan, ky, kx``; one pattern ``ky, kx``; an image
``y, x``; a time series ``t, y, x`` in seconds; extra leading axes (Prismatic depth)
navigate and keep a short name such as ``depth``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from ..dataset import Axis, Dataset
from ..errors import CalibrationError
from ..units import is_angle, is_reciprocal, normalize_unit
from ..calibration import angular_detector_to_reciprocal, detector_aspect_note
from . import fixups
from .fixups import scan_geometry

# Formats whose signal is always a detector (diffraction) frame.
DETECTOR_FORMATS = {"mib", "blockfile", "empad", "tvips", "topspin"}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "microsecond": 1e-6}


def signal_to_dataset(signal: dict, *, fmt: str, path: Path, name: str = "") -> Dataset:
    """Build a calibrated Dataset from one rsciio signal dict (data stays lazy)."""
    data = signal["data"]
    raw_axes = sorted((dict(a) for a in signal["axes"]), key=lambda a: int(a.get("index_in_array", 0)))
    if len(raw_axes) != data.ndim:  # some readers omit index_in_array; trust list order
        raw_axes = [dict(a) for a in signal["axes"]]
    original = signal.get("original_metadata") or {}
    metadata = _merge(signal.get("metadata") or {}, signal.get("mapped_metadata") or {})
    notes = fixups.ensure_navigation(raw_axes)
    extra = {}
    if fmt == "blockfile":
        record, more = fixups.blockfile_detector(raw_axes, original)
        extra["blockfile_calibration"] = record
        notes += more
    for axis in raw_axes:
        notes += _clean_units(axis)
    flips = tuple(slice(None, None, -1) if a.pop("flipped", False) else slice(None) for a in raw_axes)
    if any(f.step == -1 for f in flips):
        data = data[flips]  # lazy for dask (a reversed view for numpy)

    nav = [a for a in raw_axes if a.get("navigate")]
    sig = [a for a in raw_axes if not a.get("navigate")]
    if [id(a) for a in raw_axes] != [id(a) for a in nav + sig]:
        raise CalibrationError(f"{path.name}: navigation axes after signal axes are not supported.")
    signal_type = str(_dig(metadata, "Signal.signal_type") or "").lower()
    kind, names = _kind_and_names(nav, sig, fmt=fmt, signal_type=signal_type)
    if kind in ("image", "video", "stack", "spectrum_image"):
        spatial = [a for a, n in zip(raw_axes, names) if n in ("y", "x")]
        for a, n in zip(raw_axes, names):
            a["name"] = n
        assumed = fixups.assume_nm(spatial)
        if assumed:
            warnings.warn(f"{path.name}: {'; '.join(assumed)}.", stacklevel=4)
        notes += assumed

    axes = tuple(
        Axis(name=n, size=int(s), scale=float(a.get("scale", 1.0)), offset=float(a.get("offset", 0.0) or 0.0),
             units=a.get("units", ""), navigate=bool(a.get("navigate")))
        for a, n, s in zip(raw_axes, names, data.shape)
    )
    title = str(_dig(metadata, "General.title") or "") or name or path.stem
    md = {"metadata": metadata, "original_metadata": original, "format": fmt, "notes": notes, **extra}
    voltage = voltage_kv(metadata, original)
    if voltage:
        md["voltage_kv"] = voltage
    geometry = scan_geometry(original) if any(a.navigate for a in axes) else None
    if geometry:
        notes.append(f"scan rotation {geometry['scan_rotation_deg']:g} deg read from the file header")
    ds = Dataset(data=data, axes=axes, kind=kind, name=title, metadata=md, source=str(path), **(geometry or {}))
    ds = angular_detector_to_reciprocal(ds)
    aspect = detector_aspect_note(ds)
    if aspect:
        warnings.warn(f"{path.name}: {aspect}.", stacklevel=4)
        notes.append(aspect)
    return ds


def _clean_units(axis: dict) -> list[str]:
    """Normalise units and scale in place ('A' = angstrom, time in s); return notes."""
    notes = []
    raw = axis.get("units", "")
    raw = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw)
    try:
        units = normalize_unit(raw.replace("µ", "u"))
    except CalibrationError:
        notes.append(f"axis {axis.get('name', '')!r}: unknown unit {raw!r} dropped (scale kept, in pixels)")
        units = ""
    scale = float(axis.get("scale", 1.0) if axis.get("scale") is not None else 1.0)
    offset = float(axis.get("offset", 0.0) or 0.0)
    if not math.isfinite(scale) or scale == 0:
        notes.append(f"axis {axis.get('name', '')!r}: invalid scale {scale}; using pixels")
        scale, offset, units = 1.0, 0.0, ""
    elif scale < 0:  # coordinates run backwards: reverse the axis so index and coordinate grow together
        size = int(axis.get("size", 1))
        notes.append(f"axis {axis.get('name', '')!r}: negative scale {scale} stored; the axis was reversed "
                     f"(scale {-scale:g}, coordinates unchanged)")
        offset, scale = offset + (size - 1) * scale, -scale
        axis["flipped"] = True
    if units in _TIME_UNITS and units != "s":
        scale, offset, units = scale * _TIME_UNITS[units], offset * _TIME_UNITS[units], "s"
    axis.update(units=units, scale=scale, offset=offset if math.isfinite(offset) else 0.0)
    return notes


def _is_time(axis: dict) -> bool:
    return axis.get("units") == "s" or str(axis.get("name", "")).lower() in ("time", "t")


def _extra_name(axis: dict, used: set[str]) -> str:
    raw = str(axis.get("name", "")).lower()
    base = "depth" if "depth" in raw or raw in ("z", "thickness") else ("t" if _is_time(axis) else "frame")
    name, i = base, 2
    while name in used:
        name, i = f"{base}{i}", i + 1
    used.add(name)
    return name


def _kind_and_names(nav: list[dict], sig: list[dict], *, fmt: str, signal_type: str) -> tuple[str, list[str]]:
    """Choose the dataset kind and axis names from the navigation/signal split."""
    diffraction = (
        fmt in DETECTOR_FORMATS
        or "diffraction" in signal_type
        or any(is_reciprocal(a.get("units", "")) or is_angle(a.get("units", "")) for a in sig)
        or (len(sig) == 2 and len(nav) >= 2 and not any(a.get("units") in ("nm", "angstrom", "pm") for a in sig)
            and "image" not in signal_type)
    )
    if len(sig) == 1:
        energy = sig[0].get("units") in ("eV", "keV") or "eds" in signal_type or "eels" in signal_type
        sig_names = ["energy" if energy else "signal"]
        if not nav:
            return "spectrum", sig_names
        return "spectrum_image", _nav_names(nav, ("y", "x"), "frame") + sig_names
    if len(sig) != 2:
        names = [f"axis{i}" for i in range(len(nav) + len(sig))]
        return "stack", names
    if diffraction:
        kind = "4dstem" if nav else "diffraction"
        return kind, _nav_names(nav, ("scan_y", "scan_x"), "scan") + ["ky", "kx"]
    if not nav:
        return "image", ["y", "x"]
    if len(nav) == 1 and _is_time(nav[0]):
        return "video", ["t", "y", "x"]
    return "stack", _nav_names(nav, ("row", "column"), "frame") + ["y", "x"]


def _nav_names(nav: list[dict], pair: tuple[str, str], single: str) -> list[str]:
    """Names for navigation axes: the last two form the scan grid, earlier ones are extras."""
    if not nav:
        return []
    if len(nav) == 1:
        return ["t" if _is_time(nav[0]) else single]
    used = set(pair)
    return [_extra_name(a, used) for a in nav[:-2]] + list(pair)


def voltage_kv(metadata: dict, original: dict) -> float | None:
    """Accelerating voltage in kV from rsciio metadata or known original tags (None if unknown)."""
    candidates = (
        (_dig(metadata, "Acquisition_instrument.TEM.beam_energy"), 1.0),  # keV
        (_dig(original, "simulation_parameters.E0"), 1.0),  # Prismatic, kV
        (_dig(original, "Optics.AccelerationVoltage"), 1e-3),  # Velox, V
        (_dig(original, "blockfile_header.Beam_energy"), 1e-3),  # V
    )
    for value, factor in candidates:
        try:
            kv = float(value) * factor
        except (TypeError, ValueError):
            continue
        if math.isfinite(kv) and kv > 0:
            return kv
    return None


def _dig(tree, dotted: str):
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out.setdefault(key, value)
    return out
