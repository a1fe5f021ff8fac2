"""A bare install works: the wheel installed with no extras into a fresh venv (no site packages) runs
`stemlab info` and `stemlab orient` on the real blockfile and `stemlab phasefield` on a tiny video.
This is what a user gets from the README's first `pip install`; it catches a dependency that the test
extra (napari) pulls in by chance, such as scikit-image for drift correction and the .blo reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, env, timeout=1200):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_wheel_without_extras_runs_info_orient_and_phasefield(tmp_path, shared_data):
    from stemlab.simulate.video import phase_transformation_video

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["STEMLAB_CACHE_DIR"] = str(tmp_path / "cache")
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT], env)
    wheel = next(wheels.glob("napari_stemlab-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env)
    python, stemlab = venv / "bin" / "python", venv / "bin" / "stemlab"
    _run([python, "-m", "pip", "install", "-q", "torch==2.13.0"], env)  # the CPU build, pinned
    _run([python, "-m", "pip", "install", "-q", wheel], env)
    installed = {line.split()[0].lower() for line in _run([python, "-m", "pip", "list"], env).stdout.splitlines()[2:]}
    assert "napari" not in installed and "napari-stemlab" in installed  # no extras came along
    _run([python, "-m", "pip", "check"], env)

    blo = shared_data / "4dstem" / "astar_sped_3x2.blo"
    info = _run([stemlab, "info", blo], env).stdout
    assert "(3, 2, 144, 144)" in info and "1/angstrom" in info
    out = tmp_path / "map.h5"
    orient = _run([stemlab, "orient", blo, "--phase", "alpha-Fe", "--resolution", "4", "--device", "cpu", "-o", out],
                  env).stdout
    assert "wrote" in orient and out.stat().st_size > 1000

    video = phase_transformation_video(n_frames=6, shape=(32, 32), dose=50.0, seed=1, n_nuclei=1, nucleus_radius=0.5)
    src = tmp_path / "video.npy"
    np.save(src, np.asarray(video.data))
    fit = tmp_path / "fit.npz"
    _run([stemlab, "phasefield", src, "--steps", "10", "--frame-time", "0.5", "--scan-step", "0.04nm", "-o", fit], env)
    with np.load(fit) as f:
        assert f["order_parameter"].shape[0] == 6
