"""Files as pyxem / HyperSpy write them (rosettasciio's .hspy writer): their unit strings, angular
detector calibrations, reversed axes and non-square pixels load with the right calibration."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stemlab.io as sio
from stemlab.calibration import apply_calibration, reciprocal_pixel
from stemlab.errors import CalibrationError
from stemlab.units import electron_wavelength

hspy = pytest.importorskip("rsciio.hspy")


def _write(path, data, axes, *, voltage_kv=None, signal_type="electron_diffraction"):
    """A .hspy file as pyxem saves an ElectronDiffraction2D (HyperSpy axes dicts, rsciio's writer)."""
    metadata = {"General": {"title": path.stem}, "Signal": {"signal_type": signal_type}}
    if voltage_kv is not None:
        metadata["Acquisition_instrument"] = {"TEM": {"beam_energy": voltage_kv}}
    signal = {"data": data, "axes": [dict(a, size=s) for a, s in zip(axes, data.shape)],
              "metadata": metadata, "original_metadata": {}, "attributes": {"_lazy": False},
              "tmp_parameters": {}, "learning_results": {}, "models": {},
              "package_info": {"name": "pyxem", "version": "0.21.0"}}
    hspy.file_writer(str(path), signal, show_progressbar=False)
    return path


def _scan_axes(sig_units, sig_scale, *, scan_scale=2.0, scan_units="nm", ky_scale=None):
    return [
        {"name": "y", "scale": scan_scale, "offset": 0.0, "units": scan_units, "navigate": True},
        {"name": "x", "scale": scan_scale, "offset": 0.0, "units": scan_units, "navigate": True},
        {"name": "ky", "scale": ky_scale or sig_scale, "offset": -8 * (ky_scale or sig_scale), "units": sig_units,
         "navigate": False},
        {"name": "kx", "scale": sig_scale, "offset": -8 * sig_scale, "units": sig_units, "navigate": False},
    ]


def _data():
    return np.random.default_rng(0).integers(0, 200, (3, 4, 16, 16)).astype(np.uint16)


@pytest.mark.parametrize("units, scale, expected", [
    ("$A^{-1}$", 0.0125, (0.0125, "1/angstrom")),
    ("$nm^{-1}$", 0.125, (0.125, "1/nm")),
    ("Å⁻¹", 0.0125, (0.0125, "1/angstrom")),
    ("1 / nm", 0.125, (0.125, "1/nm")),
])
def test_pyxem_reciprocal_units_load_calibrated(tmp_path, units, scale, expected):
    path = _write(tmp_path / "scan.hspy", _data(), _scan_axes(units, scale))
    ds = sio.load(path)[0]
    assert ds.kind == "4dstem" and ds.axis_labels == ("scan_y", "scan_x", "ky", "kx")
    assert ds.axes[3].scale == pytest.approx(expected[0]) and ds.axes[3].units == expected[1]
    assert ds.axes[2].offset == pytest.approx(-8 * expected[0])
    assert not any("unknown unit" in n for n in ds.metadata["notes"])
    assert reciprocal_pixel(ds) == pytest.approx(expected[0] * (0.1 if expected[1] == "1/nm" else 1.0))


def test_mrad_detector_converted_with_the_files_voltage(tmp_path):
    """1.5 mrad per px at 200 kV is 1.5e-3 / lambda = 0.0598 1/angstrom per px (lambda = 0.02508 angstrom)."""
    path = _write(tmp_path / "mrad.hspy", _data(), _scan_axes("mrad", 1.5), voltage_kv=200.0)
    ds = sio.load(path)[0]
    k = 1.5e-3 / electron_wavelength(200.0)
    assert ds.axes[3].units == "1/angstrom" and ds.axes[3].scale == pytest.approx(k, rel=1e-6)
    assert ds.axes[3].offset == pytest.approx(-8 * k, rel=1e-6)
    assert any("mrad" in n and "200 kV" in n for n in ds.metadata["notes"])


def test_mrad_without_voltage_asks_for_voltage(tmp_path):
    path = _write(tmp_path / "mrad.hspy", _data(), _scan_axes("mrad", 1.5))
    ds = sio.load(path)[0]
    assert ds.kind == "4dstem" and ds.axes[3].units == "mrad"
    with pytest.raises(CalibrationError, match="--voltage"):
        reciprocal_pixel(ds)
    fixed = apply_calibration(ds, voltage="300kV")
    assert fixed.axes[3].units == "1/angstrom"
    assert reciprocal_pixel(fixed) == pytest.approx(1.5e-3 / electron_wavelength(300.0), rel=1e-6)


def test_negative_scale_reverses_the_axis(tmp_path):
    """A scan_x axis stored with scale -2 nm: the loaded axis runs forward and every value keeps its coordinate."""
    data = _data()
    axes = _scan_axes("$A^{-1}$", 0.0125)
    axes[1].update(scale=-2.0, offset=30.0)  # x = 30, 28, 26, 24 nm
    axes[3].update(scale=-0.0125, offset=0.1)
    ds = sio.load(_write(tmp_path / "flipped.hspy", data, axes))[0]
    assert ds.is_lazy
    sx, kx = ds.axes[1], ds.axes[3]
    assert (sx.scale, sx.offset) == pytest.approx((2.0, 24.0)) and kx.scale == pytest.approx(0.0125)
    stored_x = 30.0 - 2.0 * np.arange(4)
    stored_k = 0.1 - 0.0125 * np.arange(16)
    loaded = np.asarray(ds.data)
    for i, x in enumerate(stored_x):
        j = int(round((x - sx.offset) / sx.scale))
        for m, k in enumerate(stored_k):
            n = int(round((k - kx.offset) / kx.scale))
            np.testing.assert_array_equal(loaded[:, j, :, n], data[:, i, :, m])
    assert any("reversed" in n for n in ds.metadata["notes"])


def test_non_square_detector_pixels_are_warned_about(tmp_path):
    path = _write(tmp_path / "aspect.hspy", _data(), _scan_axes("$A^{-1}$", 0.0125, ky_scale=0.0135))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = sio.load(path)[0]
    assert any("not square" in str(w.message) for w in caught)
    assert ds.axes[2].scale == pytest.approx(0.0135) and ds.axes[3].scale == pytest.approx(0.0125)


def test_blockfile_scan_rotation_read_from_the_header():
    """The real ASTAR blockfile stores Scan_rotation = 2500 (hundredths of a degree) and DP_rotation = 0."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "4dstem" / "astar_sped_3x2.blo"
    if not path.exists():
        pytest.skip(f"real data folder absent: {path}")
    ds = sio.load(path)[0]
    header = ds.metadata["original_metadata"]["blockfile_header"]
    assert int(header["Scan_rotation"]) == 2500 and int(header["DP_rotation"]) == 0
    assert ds.scan_rotation_deg == pytest.approx(25.0) and ds.scan_flip is False
    assert "scan rotation 25 deg" in ds.describe()
    turned = apply_calibration(ds, scan_rotation="-10", scan_flip=True)
    assert turned.scan_rotation_deg == pytest.approx(-10.0) and turned.scan_flip
    assert turned.metadata["user_calibration"]["scan_rotation_deg"] == pytest.approx(-10.0)


def test_non_square_pixels_resampled_for_one_pixel_size():
    """A spot at ky = 0.30, kx = -0.20 1/A on 0.0135 x 0.0125 pixels sits at the same k after resampling."""
    import dask.array as da

    from stemlab import Axis, Dataset
    from stemlab.calibration import square_detector_pixels

    sy, sx, n = 0.0135, 0.0125, 64
    k_y = -32 * sy + np.arange(n) * sy
    k_x = -32 * sx + np.arange(n) * sx
    spot = np.exp(-((k_y[:, None] - 0.30) ** 2 + (k_x[None, :] + 0.20) ** 2) / (2 * 0.03 ** 2)).astype(np.float32)
    data = da.from_array(np.broadcast_to(spot, (2, 3, n, n)).copy(), chunks=(1, 3, n, n))
    axes = (Axis("scan_y", 2, navigate=True), Axis("scan_x", 3, navigate=True),
            Axis("ky", n, sy, -32 * sy, "1/angstrom"), Axis("kx", n, sx, -32 * sx, "1/angstrom"))
    ds = square_detector_pixels(Dataset(data, axes, kind="4dstem"))
    assert ds.is_lazy and ds.axes[2].scale == pytest.approx(sx) and ds.axes[2].offset == pytest.approx(-32 * sy)
    assert ds.axes[2].size == int((n - 1) * sy / sx) + 1
    pattern = np.asarray(ds.data[1, 2])
    ky_new = ds.axes[2].offset + np.arange(ds.axes[2].size) * ds.axes[2].scale
    weights = pattern.sum(1)
    assert np.sum(ky_new * weights) / weights.sum() == pytest.approx(0.30, abs=1e-3)
    assert square_detector_pixels(ds) is ds  # already square


def test_orient_on_mrad_without_voltage_names_the_option(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path / "mrad.hspy", _data(), _scan_axes("mrad", 1.5))
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", "orient", str(path), "--phase", "Al", "-o",
                             str(tmp_path / "map.h5")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--voltage" in result.stderr and "mrad" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "map.h5").exists()
