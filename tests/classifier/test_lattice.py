"""Rotation and lattice constant against simulated truth (windows of known lattice)."""

import numpy as np
import pytest

from stemlab.classifier import lattice as L
from stemlab.simulate.projections import CLASS_PROJECTIONS


@pytest.mark.parametrize("proj", CLASS_PROJECTIONS, ids=lambda p: p.name)
def test_rotation_and_lattice_constant(proj):
    # hcp at the template's c/a: with c in the plane the fitted a is biased by a c/a far from it
    # (hcp [10-10]: 3.5 % at c/a 1.63, 5 % at Zn's 1.86; docs/classification.md, open problems)
    ca = proj.c_over_a_reference if proj.family == "hcp" else None
    err, a_err = L.errors_against_truth(proj, 6, np.random.default_rng(7), c_over_a=ca)
    assert np.abs(err).max() < 1.0
    assert np.abs(a_err).max() < 0.02
