"""A real dask cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1, started as a
user starts them; `stemlab orient` and `stemlab virtual` run on it with --scheduler and give the
local result. The client is not the default one (the bug of issue 14: distributed's as_completed
looked for a default client and raised 'No clients found')."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers as separate processes; always stopped afterwards."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("cluster")
    dask = [sys.executable, "-m", "dask"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = []
    try:
        procs.append(subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT, env=env))
        for i in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--memory-limit", "2GB", "--death-timeout", "60", "--local-directory", str(logs / f"w{i}")],
                stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT, env=env))
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            assert len(client.scheduler_info()["workers"]) == 2
        yield address
    finally:
        from stemlab.backend import close_clients

        close_clients()
        _stop(procs)


def _stemlab(*args, env=None):
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", *args], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory):
    from stemlab.io import save_dataset
    from stemlab.simulate.fourd import two_phase_scan

    ds = two_phase_scan((6, 6), (64, 64), reciprocal_pixel=0.04, n_grains=3, seed=3, dose=3000)
    return save_dataset(ds, tmp_path_factory.mktemp("scan") / "scan.zarr")


def test_virtual_on_the_cluster_matches_local(cluster, scan_file, tmp_path):
    args = ["virtual", str(scan_file), "--detector", "BF=disk:c,c,5", "--detector", "ADF=annulus:c,c,8,30"]
    _stemlab(*args, "-o", str(tmp_path / "local.npz"))
    _stemlab(*args, "--scheduler", cluster, "-o", str(tmp_path / "remote.npz"))
    with np.load(tmp_path / "local.npz") as local, np.load(tmp_path / "remote.npz") as remote:
        for key in ("BF", "ADF"):
            assert local[key].shape == (6, 6) and local[key].std() > 0
            np.testing.assert_allclose(remote[key], local[key], rtol=1e-6)


def test_orient_on_the_cluster_matches_local(cluster, scan_file, tmp_path):
    from orix.io import load

    env = {**os.environ, "STEMLAB_CACHE_DIR": str(tmp_path / "cache")}
    args = ["orient", str(scan_file), "--phase", "Al", "--resolution", "3", "--device", "cpu"]
    _stemlab(*args, "-o", str(tmp_path / "local.h5"), env=env)
    out = _stemlab(*args, "--scheduler", cluster, "-o", str(tmp_path / "remote.h5"), env=env)
    assert "wrote" in out.stdout
    local, remote = load(str(tmp_path / "local.h5")), load(str(tmp_path / "remote.h5"))
    np.testing.assert_array_equal(remote.phase_id, local.phase_id)
    angles = remote.rotations.angle_with(local.rotations, degrees=True)
    assert np.max(angles) < 0.1


def test_unreachable_scheduler_is_a_clear_error(scan_file, tmp_path):
    port = _free_port()  # nothing listens there
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", "virtual", str(scan_file), "--detector",
                             "BF=disk:c,c,5", "--scheduler", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path / "x.npz")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"tcp://127.0.0.1:{port}" in result.stderr and "dask scheduler" in result.stderr
    assert not (tmp_path / "x.npz").exists()
