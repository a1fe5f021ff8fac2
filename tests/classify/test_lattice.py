"""Rotation and lattice constant against simulated truth (windows of known lattice)."""

import numpy as np
import pytest

from stemlab.classify import descriptor as D
from stemlab.classify import lattice as L
from stemlab.classify import synthetic as S
from stemlab.simulate.projections import CLASS_PROJECTIONS


@pytest.mark.parametrize("proj", CLASS_PROJECTIONS, ids=lambda p: p.name)
def test_rotation_and_lattice_constant(proj):
    rng = np.random.default_rng(7)
    wins, rot, a = [], [], []
    for _ in range(6):
        p = S.sample_parameters(proj, rng)
        p.update(strain=np.zeros((2, 2)), window=12.0)
        wins.append(S.simulate_window(proj, p, rng))
        rot.append(p["rotation"])
        a.append(p["a"])
    wins = np.stack(wins)
    r, a_fit = L.measure(wins, D.descriptors(wins), proj.name)
    sym = 360.0 / proj.rotation_symmetry
    err = (r - np.array(rot) % sym + sym / 2) % sym - sym / 2
    assert np.abs(err).max() < 1.0
    assert np.abs(a_fit / np.array(a) - 1).max() < 0.02
