"""``stemlab strain``: a real subprocess run on a calibrated file, and users' mistakes in CLI words."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from stemlab.cli import main
from stemlab.io.writers import save_dataset
from stemlab.simulate.strain import strained_scan
from stemlab.strainmap import disks as dk


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory):
    ds, truth = strained_scan((12, 12), 128, dose=1e5, seed=3, disk_radius=4.0, g_px=16.0)
    folder = tmp_path_factory.mktemp("strain_cli")
    path = save_dataset(ds, folder / "scan.npz")
    return path, ds, truth


def test_cli_subprocess_writes_the_maps_and_calibration(scan_file, tmp_path):
    path, ds, truth = scan_file
    probe = tmp_path / "vacuum.npy"
    np.save(probe, dk.synthetic_probe(4.0, (48, 48)))
    out = tmp_path / "strain.npz"
    cmd = [sys.executable, "-m", "stemlab.cli", "strain", str(path), "--probe", str(probe), "--disk-radius", "4",
           "--basis", "1,0", "1,1", "--reference", "0:2,0:12", "--device", "cpu", "-o", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert run.returncode == 0, run.stderr
    assert "wrote exx" in run.stdout and "positions fitted" in run.stdout
    with np.load(out) as f:
        for key in ("exx", "eyy", "exy", "theta", "error", "n_disks", "mask", "basis", "g1", "g2", "calibration"):
            assert key in f.files
        exx, basis_indices = f["exx"], f["basis_indices"]
        cal = json.loads(str(f["calibration"]))
    assert np.abs(exx - truth["exx"])[truth["inside"]].max() < 2e-3
    assert basis_indices.tolist() == [[1, 0], [1, 1]]
    scan_x = [a for a in cal["axes"] if a["name"] == "scan_x"][0]
    assert scan_x["scale"] == pytest.approx(ds.axes[1].scale) and scan_x["units"] == "nm"
    assert cal["settings"]["probe"] == "array"


@pytest.mark.parametrize("args, words", [
    (["--reference", "5:2,0:4"], "--reference 5:2,0:4: Y1 must exceed Y0"),
    (["--reference", "0:40,0:4"], "--reference 0:40,0:4: the scan is 12 x 12"),
    (["--reference", "top"], "write Y0:Y1,X0:X1"),
    (["--basis", "1,0", "2,0"], "--basis 1,0 2,0: the two reflections are parallel"),
    (["--basis", "a,b", "0,1"], "--basis a,b 0,1: write two reflections H1,K1 H2,K2"),
    (["--probe", "missing.npy"], "--probe missing.npy: no such file"),
    (["--probe", "probe.png"], "--probe probe.png: give 'auto'"),
    (["--disk-radius", "-3"], "--disk-radius -3.0: give a positive radius"),
])
def test_bad_options_are_named_in_cli_words(scan_file, tmp_path, capsys, args, words):
    path, _, _ = scan_file
    code = main(["strain", str(path), "-o", str(tmp_path / "o.npz"), "--device", "cpu", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stemlab strain: error:") and words in err
    assert not (tmp_path / "o.npz").exists()


def test_output_name_and_input_kind(scan_file, tmp_path, capsys):
    from stemlab.dataset import Axis, Dataset

    path, _, _ = scan_file
    assert main(["strain", str(path), "-o", str(tmp_path / "o.tif")]) == 2
    assert "-o " in capsys.readouterr().err
    image = save_dataset(Dataset(np.zeros((32, 32), np.float32), (Axis("y", 32), Axis("x", 32)), kind="image"),
                         tmp_path / "image.npz")
    assert main(["strain", str(image), "-o", str(tmp_path / "o.npz")]) == 2
    assert "needs a 4D-STEM scan" in capsys.readouterr().err
