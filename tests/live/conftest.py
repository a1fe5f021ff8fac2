"""Fixtures: LiberTEM-live's Merlin simulator replaying real and generated .mib files over TCP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator import MerlinSimulator, simulator_available, write_mib

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
REAL_MIB = "4dstem/merlin/001_4x2_6bit"


def _need_simulator():
    pytest.importorskip("libertem_live", reason="live tests need LiberTEM-live (pip install 'napari-stemlab[live]')")
    if not simulator_available():
        pytest.skip("libertem-live-mib-sim not found beside the Python interpreter")


@pytest.fixture(scope="module")
def real_sim(request):
    """The simulator replaying the real 4 x 2 Merlin scan of ../shared/data (6-bit, 256 x 256)."""
    _need_simulator()
    hdr = SHARED_DATA / f"{REAL_MIB}.hdr"
    if not hdr.exists():
        pytest.skip(f"real test file not found: {hdr.resolve()}")
    sim = MerlinSimulator(hdr, (2, 4))
    request.addfinalizer(sim.stop)
    sim.mib = hdr.with_suffix(".mib")
    return sim


@pytest.fixture(scope="module")
def two_phase_mib(tmp_path_factory):
    """A simulated two-phase (Al + Fe) 8 x 8 scan of 128 x 128 uint16 patterns written as .mib + .hdr;
    returns (hdr path, calibration options the stream lacks)."""
    from stemlab.simulate.fourd import two_phase_scan

    ds = two_phase_scan(scan_shape=(8, 8), n_grains=5, zone_axis_fraction=1.0, seed=3)
    hdr = write_mib(tmp_path_factory.mktemp("mib") / "two_phase.mib", np.asarray(ds.data).reshape(-1, 128, 128), 8)
    calibration = {"calibration": f"{ds.axes[-1].scale}/angstrom", "scan_step": f"{ds.axes[0].scale}nm",
                   "voltage": "200kV"}
    return hdr, calibration


@pytest.fixture(scope="module")
def two_phase_sim(request, two_phase_mib):
    _need_simulator()
    sim = MerlinSimulator(two_phase_mib[0], (8, 8))
    request.addfinalizer(sim.stop)
    sim.mib, sim.calibration = two_phase_mib[0].with_suffix(".mib"), two_phase_mib[1]
    return sim
