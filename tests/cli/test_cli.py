"""The `stemlab` command line, run as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest


def stemlab(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", *args], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_commands():
    out = stemlab("--help").stdout
    for command in ("info", "demo", "virtual"):
        assert command in out


def test_info_on_a_real_file(shared_data):
    out = stemlab("info", str(shared_data / "4dstem" / "astar_sped_3x2.blo")).stdout
    assert "(3, 2, 144, 144)" in out and "uint8" in out
    assert "12.8" in out and "nm" in out


def test_info_with_calibration_options(tmp_path):
    path = tmp_path / "scan.npy"
    np.save(path, np.zeros((2, 3, 16, 16), np.uint8))
    out = stemlab("info", str(path), "--scan-step", "2nm", "--calibration", "0.0127/angstrom").stdout
    assert "2 nm" in out and "0.0127 1/angstrom" in out


def test_a_command_registers_alone():
    """`stemlab orient ...` does not import the other commands' modules (their defaults cost start-up)."""
    code = ("import sys; from stemlab.cli.main import main\n"
            "try:\n    main(['orient', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('classifier.inference' in ' '.join(sys.modules), 'phasefield.fit' in ' '.join(sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--relrod" in result.stdout and "train-classifier" not in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "False False"
    assert "train-classifier" in stemlab("--help").stdout  # the full parser still has every command


@pytest.mark.parametrize("command", ["info", "virtual", "orient", "segment", "classify", "phasefield"])
def test_every_command_takes_the_scan_geometry(command):
    out = stemlab(command, "--help").stdout
    assert "--scan-rotation" in out and "--scan-flip" in out


def test_scan_rotation_shown_and_checked(tmp_path):
    path = tmp_path / "scan.npy"
    np.save(path, np.zeros((2, 3, 16, 16), np.uint8))
    out = stemlab("info", str(path), "--scan-rotation", "-12.5", "--scan-flip").stdout
    assert "scan rotation -12.5 deg, flipped" in out
    bad = stemlab("info", str(path), "--scan-rotation", "2nm", check=False)
    assert bad.returncode == 2 and "--scan-rotation" in bad.stderr and "Traceback" not in bad.stderr
    image = tmp_path / "image.npy"
    np.save(image, np.zeros((16, 16), np.uint8))
    refused = stemlab("info", str(image), "--scan-rotation", "10", check=False)
    assert refused.returncode == 2 and "no scan" in refused.stderr


def test_bad_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.mib"
    path.write_bytes(b"")
    result = stemlab("info", str(path), check=False)
    assert result.returncode == 2
    assert "empty.mib" in result.stderr and "Traceback" not in result.stderr


def test_virtual_writes_calibrated_images(tmp_path, small_scan):
    path = tmp_path / "scan.npy"
    np.save(path, small_scan.data)
    out = tmp_path / "virtual.npz"
    stemlab("virtual", str(path), "--detector", "BF=disk:c,c,4", "--detector", "ADF=annulus:c,c,6,14",
            "--scan-step", "2nm", "--calibration", "0.01/angstrom", "-o", str(out))
    with np.load(out) as result:
        assert result["BF"].shape == (6, 7)
        assert result["ADF"].shape == (6, 7)
        assert "calibration" in result.files


@pytest.mark.slow
def test_demo_writes_results_and_figures(tmp_path, monkeypatch):
    from orix.io import load

    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    summary = stemlab("demo", "-o", str(out)).stdout
    for name in ("4dstem_results.npz", "4dstem.png", "haadf_samples.png", "orientation_map.h5",
                 "haadf_results.npz", "haadf_analyses.png"):
        assert (out / name).stat().st_size > 1000, name
    with np.load(out / "4dstem_results.npz") as results:
        assert results["BF"].shape == results["ADF"].shape == (48, 48)
    assert load(str(out / "orientation_map.h5")).shape == (16, 16)
    assert "rms error" in summary and "segments (truth 3)" in summary
    # the printed summary is also written, word for word
    assert (out / "summary.txt").read_text(encoding="utf-8") == summary
    # the sample video, calibrated, for the README's `stemlab phasefield` example
    from stemlab.io import load_one
    from stemlab.samples import sample_video

    video, truth = load_one(out / "video.hspy"), sample_video()
    assert video.kind == "video" and video.shape == truth.shape
    assert [(a.name, a.scale, a.units) for a in video.axes] == [(a.name, a.scale, a.units) for a in truth.axes]
    assert video.axes[0].units == "s" and video.axes[-1].units == "nm"
    np.testing.assert_allclose(np.asarray(video.data), np.asarray(truth.data))
    assert f"stemlab phasefield {out / 'video.hspy'}" in summary
