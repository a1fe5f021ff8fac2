"""Symmetry-aware misorientation of pairs of crystal->lab rotations, vectorised in numpy.

The angle between R_a and R_b of one phase is the smallest rotation angle of R_a S R_b^T over
the proper rotations S of the phase's Laue group (kinematic patterns obey Friedel's law, as the
matcher assumes): cos(angle) = (max_S tr(S R_b^T R_a) - 1) / 2. It is the orix angle of
:func:`stemlab.orientation.evaluate.disorientation_deg` (tests/live compare them) at a cost that
allows it on every neighbour pair of a scan at every step of a replay.
"""

from __future__ import annotations

import numpy as np


def pair_misorientation_deg(Ra: np.ndarray, Rb: np.ndarray, phase: np.ndarray, phases) -> np.ndarray:
    """Misorientation angle (degrees) of each pair (Ra[i], Rb[i]) of crystal->lab matrices (n, 3, 3),
    both of phase ``phase[i]`` (index into ``phases``, objects with ``proper_laue_rotations``)."""
    Ra, Rb = np.asarray(Ra, float), np.asarray(Rb, float)
    phase = np.asarray(phase).reshape(-1)
    angle = np.zeros(len(phase))
    M = np.einsum("nji,njk->nik", Rb, Ra)  # R_b^T R_a
    for p, ph in enumerate(phases):
        sel = phase == p
        if not np.any(sel):
            continue
        S = np.asarray(ph.proper_laue_rotations, float)
        trace = np.einsum("sij,nji->ns", S, M[sel]).max(axis=1)
        angle[sel] = np.degrees(np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)))
    return angle
