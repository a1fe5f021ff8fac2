"""Rotation and lattice constant against simulated truth (windows of known lattice)."""

import numpy as np
import pytest

from stemlab.classifier import lattice as L
from stemlab.simulate.projections import CLASS_PROJECTIONS


@pytest.mark.parametrize("proj", CLASS_PROJECTIONS, ids=lambda p: p.name)
def test_rotation_and_lattice_constant(proj):
    err, a_err = L.errors_against_truth(proj, 6, np.random.default_rng(7))
    assert np.abs(err).max() < 1.0
    assert np.abs(a_err).max() < 0.02
