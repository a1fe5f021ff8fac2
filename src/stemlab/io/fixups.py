"""Known calibration traps of instrument files, fixed in one place with a note in metadata.

Each fix works on the plain list of rsciio axis dicts (array order) before the Dataset is
built, and returns human-readable notes that end up in ``dataset.metadata['notes']``.
"""

from __future__ import annotations

import math

from ..units import electron_wavelength, reciprocal_pixel_size


def blockfile_detector(axes: list[dict], original: dict) -> tuple[dict | None, list[str]]:
    """Turn the blockfile's detector scale ('cm', really 1 / pixels-per-cm on the screen) into 1/angstrom.

    The ASTAR header stores ``SDP`` = 100 x pixels per cm of the viewing screen (rsciio
    reports 100/SDP 'cm') and ``Camera_length`` in units of 0.1 mm, with ``Beam_energy``
    in V. A screen pixel p at camera length L is a reciprocal step p / (lambda L). Nominal
    camera lengths are typically a few per cent off: calibrate on a known crystal for
    quantitative work. Without camera length or voltage the detector stays in pixels.
    Returns (calibration record for metadata, notes); axes are edited in place.
    """
    header = original.get("blockfile_header", {}) or {}
    sdp = float(header.get("SDP", 0) or 0)
    cam = float(header.get("Camera_length", 0) or 0)
    volts = float(header.get("Beam_energy", 0) or 0)
    record = {
        "SDP_header": sdp,
        "screen_pixel_cm": 100.0 / sdp if sdp else None,
        "camera_length_m": cam * 1e-4 if cam else None,
        "voltage_kv": volts / 1e3 if volts else None,
    }
    sig = [a for a in axes if not a.get("navigate", False)][-2:]
    if not (sdp and cam and volts):
        for axis in sig:
            axis.update(scale=1.0, offset=0.0, units="")
        record["note"] = ("blockfile detector left uncalibrated: the header lacks SDP, camera length or "
                          "voltage; give the reciprocal size of one detector pixel (--calibration 0.0127/angstrom on the "
                          "command line, calibration='0.0127/angstrom' in Python).")
        return record, [record["note"]]
    k = reciprocal_pixel_size(record["camera_length_m"], record["screen_pixel_cm"] * 1e-2, record["voltage_kv"])
    for axis in sig:
        axis.update(scale=k, offset=-k * (int(axis["size"]) // 2), units="1/angstrom")
    record["reciprocal_pixel_1_per_angstrom"] = k
    record["wavelength_angstrom"] = electron_wavelength(record["voltage_kv"])
    note = (f"blockfile detector calibrated from header: screen pixel {record['screen_pixel_cm']:.5g} cm "
            f"(100/SDP), camera length {record['camera_length_m']:.4g} m, {record['voltage_kv']:.4g} kV "
            f"-> {k:.5g} 1/angstrom per pixel (nominal camera length; centred on the pattern middle)")
    record["note"] = note
    return record, [note]


def ensure_navigation(axes: list[dict]) -> list[str]:
    """py4DSTEM/EMD 1.0 files flag every axis navigate=False: make all but the last two navigate."""
    if len(axes) > 2 and not any(a.get("navigate", False) for a in axes):
        for axis in axes[:-2]:
            axis["navigate"] = True
        return ["no axis was flagged as navigation in the file; the leading axes were taken as the scan"]
    return []


def assume_nm(axes: list[dict]) -> list[str]:
    """A real-space axis with a non-unit scale but no units: assume nm (metres when tiny).

    HyperSpy files from atomap etc. often lose units (hspy_adf_srtio3: 0.00933, which is
    0.093 angstrom per pixel in nm: typical of atomic-resolution STEM; read as angstrom it
    would be 0.9 pm, finer than any STEM scan). Values < 1e-6 can only be metres.
    """
    notes = []
    for axis in axes:
        scale = float(axis.get("scale", 1.0) or 1.0)
        if axis.get("units") or not math.isfinite(scale) or scale == 1.0:
            continue
        if 1e-3 <= scale <= 1e3:
            axis["units"] = "nm"
        elif 1e-13 <= scale < 1e-6:
            axis.update(scale=scale * 1e9, offset=float(axis.get("offset", 0.0) or 0.0) * 1e9, units="nm")
        else:
            continue
        notes.append(f"axis {axis.get('name', '?')}: scale {scale:g} stored without units, assumed nm")
    return notes


def scan_geometry(original: dict) -> dict | None:
    """Scan rotation from the file header, as Dataset fields (None when the file records none).

    NanoMegas blockfiles store ``Scan_rotation`` in hundredths of a degree (rsciio maps it to
    ``Acquisition_instrument.TEM.rotation`` the same way) and ``DP_rotation``, the rotation of
    the recorded pattern, in the same unit; the scan rotation relative to the detector is their
    difference. No instrument header records a scan flip; stemlab's own ``.hspy`` files keep
    both under ``original_metadata['stemlab']``.
    """
    if not isinstance(original, dict):
        return None
    own = original.get("stemlab")  # written by stemlab's own .hspy writer
    if isinstance(own, dict) and "scan_rotation_deg" in own:
        return {"scan_rotation_deg": float(own["scan_rotation_deg"]), "scan_flip": bool(own.get("scan_flip"))}
    header = original.get("blockfile_header")
    if not isinstance(header, dict) or "Scan_rotation" not in header:
        return None
    try:
        scan = float(header["Scan_rotation"]) / 100.0
        pattern = float(header.get("DP_rotation", 0) or 0) / 100.0
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(scan) and math.isfinite(pattern)) or scan == pattern:
        return None
    return {"scan_rotation_deg": scan - pattern}
