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


def test_known_c_over_a_removes_the_hcp_in_plane_c_bias():
    # Zn's c/a 1.86, far from the hcp [10-10] template's: biased with the reference template,
    # right when the measurement is given the c/a (as an hcp prior with c does)
    from stemlab.simulate.projections import projection

    proj = projection("hcp [10-10]")
    _, biased = L.errors_against_truth(proj, 6, np.random.default_rng(3), c_over_a=1.86)
    err, a_err = L.errors_against_truth(proj, 6, np.random.default_rng(3), c_over_a=1.86, known_c_over_a=True)
    assert np.median(np.abs(biased)) > 0.03
    assert np.abs(a_err).max() < 0.01
    assert np.abs(err).max() < 1.0
