"""Phase and orientation mapping of a nitride + carbide scan end to end (shipped TiN and Cr23C6 CIFs,
read by gemmi; scattering factors of N, C, Ti and Cr), on a Poisson-noisy simulated scan with known
grains. Measured: phase 94 %, within 2 degrees 83 %, kinematically equivalent 90 % (10 x 10 scan)."""

import numpy as np
import pytest

from stemlab.crystal import resolve_phase
from stemlab.orientation import index_orientations
from stemlab.orientation.evaluate import evaluate_map
from stemlab.simulate.fourd import two_phase_scan


@pytest.mark.slow
def test_tin_and_cr23c6_scan(tmp_path):
    names = ("TiN", "Cr23C6")
    scan = two_phase_scan(scan_shape=(10, 10), n_grains=6, phases=tuple(resolve_phase(n).structure for n in names),
                          seed=1)
    result = index_orientations(scan, list(names), cache=tmp_path)
    accuracy = evaluate_map(result, scan)
    assert set(np.unique(result.arrays["phase"])) == {0, 1}
    assert np.mean(accuracy["phase"]) >= 0.9
    assert np.mean(accuracy["within_2deg"]) >= 0.75
