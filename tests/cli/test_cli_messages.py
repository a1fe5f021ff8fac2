"""Messages of the `stemlab` command line speak its words (options, files), and bad values are
refused, with the fix, before any work is done."""

import numpy as np
import pytest

from stemlab.cli.main import main

PYTHON_WORDS = ("calibration=", "frames=None", "pixel_size=", "nav_ndim", "holds a image")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    for words in PYTHON_WORDS:
        assert words not in out + err, (words, out, err)
    return code, out, err


@pytest.fixture
def scan(tmp_path):
    path = tmp_path / "scan.npy"
    np.save(path, (np.random.default_rng(0).random((4, 5, 64, 64)) * 100).astype(np.uint16))
    return path


def test_one_pattern_or_an_image_is_not_a_scan(capsys, tmp_path, shared_data):
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((64, 64), np.uint16))
    code, _, err = run(capsys, "virtual", image, "-o", tmp_path / "v.npz")
    assert code == 2 and "this file holds an image of shape (64, 64), not a scan" in err
    pattern = shared_data / "images" / "gatan_diffraction_pattern.dm3"
    code, _, err = run(capsys, "virtual", pattern, "-o", tmp_path / "v.npz")
    assert code == 2
    assert "this file holds one diffraction pattern, not a scan; `stemlab virtual` needs a scan" in err


def test_detector_outside_the_pattern_is_refused(capsys, tmp_path, scan):
    code, _, err = run(capsys, "virtual", scan, "--detector", "BF=disk:32,32,800", "-o", tmp_path / "v.npz")
    assert code == 2 and "--detector BF=disk:32,32,800" in err and "64 x 64 px pattern" in err
    assert not (tmp_path / "v.npz").exists()
    code, out, _ = run(capsys, "virtual", scan, "--detector", "ADF=annulus:32,32,10,60", "-o", tmp_path / "v.npz")
    assert code == 0  # an annulus reaching past the pattern's edge is a normal ADF detector


@pytest.mark.parametrize("command", ["virtual", "segment", "classify"])
def test_unknown_output_extension_is_refused_before_work(capsys, tmp_path, scan, command):
    code, _, err = run(capsys, command, scan, "-o", tmp_path / "x.xyz")
    assert code == 2 and "-o " in err and "'.xyz'" in err and ".npz" in err
    assert not (tmp_path / "x.xyz").exists()


@pytest.mark.parametrize("option, value, unit, example", [("--scan-step", "2", "nm", "--scan-step 2nm"),
                                                          ("--calibration", "0.0127", "1/angstrom",
                                                           "--calibration 0.0127/angstrom")])
def test_calibration_without_a_unit_is_taken_with_a_warning(capsys, tmp_path, scan, option, value, unit, example):
    code, _, err = run(capsys, "virtual", scan, option, value, "-o", tmp_path / "v.npz")
    assert code == 0
    assert f"warning: {option} {value} has no unit: taken as {value} {unit}" in err and example in err
    code, _, err = run(capsys, "virtual", scan, *example.split(), "-o", tmp_path / "w.npz")
    assert code == 0 and "warning" not in err
    with np.load(tmp_path / "v.npz") as a, np.load(tmp_path / "w.npz") as b:
        assert str(a["calibration"]) == str(b["calibration"])  # the same calibration either way


def test_outputs_skipped_for_lack_of_calibration_are_named(capsys, tmp_path, scan):
    code, out, _ = run(capsys, "virtual", scan, "-o", tmp_path / "v.npz")
    assert code == 0
    assert "not written for lack of calibration: CoM magnitude, DPC angle, iDPC phase" in out
    assert "--calibration 0.0127/angstrom" in out and "--scan-step 2nm" in out
    code, out, _ = run(capsys, "virtual", scan, "--calibration", "0.0127/angstrom", "--scan-step", "2nm",
                       "-o", tmp_path / "w.npz")
    assert code == 0 and "not written" not in out and "idpc" in out


def test_missing_calibration_names_the_option(capsys, tmp_path, scan):
    code, _, err = run(capsys, "orient", scan, "--phase", "Al", "-o", tmp_path / "m.h5")
    assert code == 2 and "--calibration 0.0127/angstrom" in err
    image = tmp_path / "image.npy"
    np.save(image, np.random.default_rng(1).random((64, 64)).astype(np.float32))
    code, _, err = run(capsys, "classify", image, "-o", tmp_path / "c.npz")
    assert code == 2 and "--scan-step 0.1angstrom" in err


def test_phasefield_needs_a_video_of_three_frames(capsys, tmp_path):
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((2, 32, 32), np.float32))
    code, _, err = run(capsys, "phasefield", short, "-o", tmp_path / "f.npz")
    assert code == 2 and "2 frame(s)" in err and "at least 3 frames" in err and "--frames START:STOP" in err
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((32, 32), np.float32))
    code, _, err = run(capsys, "phasefield", image, "-o", tmp_path / "f.npz")
    assert code == 2 and "this file holds an image of shape (32, 32)" in err
