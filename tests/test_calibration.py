"""User calibration: parsing with units, known physics numbers, axes changed per dataset kind."""

from __future__ import annotations

import numpy as np
import pytest

from stemlab import Axis, Dataset
from stemlab.calibration import (apply_calibration, parse_calibration_options, parse_camera_length,
                                 parse_detector_pixel, parse_reciprocal, parse_scan_step, parse_voltage)
from stemlab.errors import CalibrationError
from stemlab.units import electron_wavelength


def _scan(voltage=None):
    axes = (Axis("scan_y", 3, navigate=True), Axis("scan_x", 4, navigate=True), Axis("ky", 64), Axis("kx", 64))
    md = {"voltage_kv": voltage} if voltage else {}
    return Dataset(np.zeros((3, 4, 64, 64), np.uint8), axes, kind="4dstem", metadata=md)


def _image():
    return Dataset(np.zeros((8, 8)), (Axis("y", 8), Axis("x", 8)), kind="image")


def test_known_numbers():
    assert electron_wavelength(200) == pytest.approx(0.02508, abs=2e-5)
    ds = apply_calibration(_scan(), camera_length="0.1m", detector_pixel="55um", voltage="200kV")
    assert ds.axes[2].scale == pytest.approx(0.02193, rel=1e-3)
    assert ds.axes[2].units == "1/angstrom"
    assert ds.axes[3].offset == pytest.approx(-32 * ds.axes[3].scale)  # k = 0 at the pattern centre
    assert ds.metadata["voltage_kv"] == 200


@pytest.mark.parametrize("text, expected", [
    ("2nm", (2.0, "nm")), ("20 angstrom", (20.0, "angstrom")), (2, (2.0, "nm")), ("0.5 A", (0.5, "angstrom")),
])
def test_parse_scan_step(text, expected):
    assert parse_scan_step(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("0.0127/angstrom", (0.0127, "1/angstrom")), ("0.0127 1/A", (0.0127, "1/angstrom")),
    ("0.127 nm^-1", (0.127, "1/nm")), ("0.127 1/nm", (0.127, "1/nm")), (0.0127, (0.0127, "1/angstrom")),
])
def test_parse_reciprocal(text, expected):
    assert parse_reciprocal(text) == expected


def test_parse_lengths_and_voltage():
    assert parse_camera_length("0.2m") == pytest.approx(0.2)
    assert parse_camera_length("200mm") == pytest.approx(0.2)
    assert parse_camera_length(0.2) == pytest.approx(0.2)
    assert parse_detector_pixel("55um") == pytest.approx(55e-6)
    assert parse_detector_pixel(55) == pytest.approx(55e-6)  # bare number: micrometres
    assert parse_voltage("200kV") == 200 and parse_voltage("300000V") == 300 and parse_voltage(80) == 80


@pytest.mark.parametrize("kwargs, option", [
    ({"scan_step": "-2nm"}, "scan_step"),
    ({"scan_step": "0.01/nm"}, "scan_step"),
    ({"scan_step": "200kV"}, "scan_step"),
    ({"calibration": "2nm"}, "calibration"),  # a length given for a reciprocal calibration
    ({"calibration": 0}, "calibration"),
    ({"calibration": "abc"}, "calibration"),
    ({"voltage": "2nm"}, "voltage"),
    ({"voltage": 1e6}, "voltage"),
    ({"camera_length": "200", "detector_pixel": "55um"}, "camera_length"),  # 200 m: meant mm
    ({"camera_length": "0.2m"}, "detector_pixel"),
    ({"calibration": "0.01/A", "camera_length": "0.2m", "detector_pixel": "55um"}, "camera_length"),
])
def test_nonsense_names_the_option(kwargs, option):
    with pytest.raises(CalibrationError, match=option):
        parse_calibration_options(**kwargs)


def test_scan_step_applies_to_scan_or_image_axes():
    ds = apply_calibration(_scan(), scan_step="2nm", calibration="0.01 1/A")
    assert [a.units for a in ds.axes] == ["nm", "nm", "1/angstrom", "1/angstrom"]
    assert ds.axes[0].scale == 2.0 and ds.axes[2].offset == pytest.approx(-0.32)
    img = apply_calibration(_image(), scan_step="0.05nm")
    assert img.scale == (0.05, 0.05) and img.units == ("nm", "nm")
    assert img.metadata["user_calibration"]["scan_step"] == "0.05 nm"


def test_wrong_kind_of_dataset_is_refused_when_strict():
    with pytest.raises(CalibrationError, match="calibration"):
        apply_calibration(_image(), calibration="0.01/A")
    assert apply_calibration(_image(), calibration="0.01/A", strict=False).units == ("", "")


def test_camera_length_uses_file_voltage_or_asks_for_it():
    ds = apply_calibration(_scan(voltage=200.0), camera_length="0.1m", detector_pixel="55um")
    assert ds.axes[3].scale == pytest.approx(0.02193, rel=1e-3)
    with pytest.raises(CalibrationError, match="voltage"):
        apply_calibration(_scan(), camera_length="0.1m", detector_pixel="55um")


def test_original_is_not_modified():
    ds = _scan()
    apply_calibration(ds, scan_step="2nm")
    assert ds.units == ("",) * 4 and "user_calibration" not in ds.metadata


@pytest.mark.parametrize("value, degrees", [(12.5, 12.5), ("12.5", 12.5), ("-30deg", -30.0), ("0.5rad", 28.6479),
                                            ("350", -10.0)])
def test_scan_rotation_option(value, degrees):
    ds = apply_calibration(_scan(), scan_rotation=value)
    assert ds.scan_rotation_deg == pytest.approx(degrees, abs=1e-4)  # wrapped to [-180, 180)
    assert ds.with_data(np.ones((3, 4, 64, 64))).scan_rotation_deg == ds.scan_rotation_deg


@pytest.mark.parametrize("kwargs, match", [({"scan_rotation": "2nm"}, "scan_rotation"),
                                           ({"scan_rotation": "nan"}, "scan_rotation"),
                                           ({"scan_flip": "maybe"}, "scan_flip")])
def test_scan_geometry_nonsense_refused(kwargs, match):
    with pytest.raises(CalibrationError, match=match):
        apply_calibration(_scan(), **kwargs)


def test_scan_geometry_refused_for_an_image():
    with pytest.raises(CalibrationError, match="no scan"):
        apply_calibration(_image(), scan_rotation=10)
