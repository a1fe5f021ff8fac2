"""Nearest indexed positions of a partly indexed scan, and maps filled in from them.

A scan position is *indexed* when its pattern has been analysed; the others are filled from
their indexed neighbours. Distances are physical (scan steps times the axes' scales), so a scan
with unequal steps fills along the shorter step first.

Fill rule (:func:`fill_phase`): an indexed position keeps its own phase; any other takes the
phase with the largest inverse-square-distance weight (Shepard weights, 1/d^2) among its ``k``
nearest indexed positions, and its orientation and reliabilities from the nearest indexed
position of that phase. A vote cannot be swayed by one mis-indexed pattern the way the nearest
neighbour is, and the 1/d^2 weight keeps the nearest neighbour decisive where it is much closer
than the rest (docs/live.md measures the rule against the plain nearest neighbour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest indexed positions of every scan position (flat indices, nearest first).

    ``index`` (n_positions, k) int and ``distance`` (n_positions, k) float in units of the
    smaller scan step; for an indexed position the first neighbour is the position itself.
    """

    index: np.ndarray
    distance: np.ndarray


def nearest_indexed(indexed: np.ndarray, k: int, spacing=(1.0, 1.0)) -> Neighbours:
    """The ``k`` nearest indexed positions of every position of a 2D scan.

    Parameters
    ----------
    indexed : bool array (ny, nx)
        True where a pattern has been analysed; at least one must be.
    k : int
        Neighbours per position (fewer indexed positions than ``k``: all of them, then repeats
        of the farthest at infinite distance).
    spacing : (float, float)
        Scan steps along y and x (any one unit); distances come out in units of the smaller one.
    """
    from scipy.spatial import cKDTree

    indexed = np.asarray(indexed, bool)
    if indexed.ndim != 2:
        raise ParameterError(f"The indexed/pending mask must be a 2D scan (ny, nx), got shape {indexed.shape}.")
    known = np.flatnonzero(indexed)
    if known.size == 0:
        raise ParameterError("No scan position is indexed yet: nothing to fill from.")
    sy, sx = (float(s) for s in spacing)
    unit = min(sy, sx)
    rows, cols = np.divmod(np.arange(indexed.size), indexed.shape[1])
    points = np.column_stack([rows * sy / unit, cols * sx / unit])
    kk = min(int(k), known.size)
    distance, nearest = cKDTree(points[known]).query(points, k=kk)
    distance, nearest = distance.reshape(indexed.size, kk), nearest.reshape(indexed.size, kk)
    if kk < k:
        pad = k - kk
        nearest = np.concatenate([nearest, np.repeat(nearest[:, -1:], pad, axis=1)], axis=1)
        distance = np.concatenate([distance, np.full((indexed.size, pad), np.inf)], axis=1)
    return Neighbours(index=known[nearest], distance=distance)


def fill_phase(phase: np.ndarray, indexed: np.ndarray, neighbours: Neighbours) -> tuple[np.ndarray, np.ndarray]:
    """Phase of every position by the 1/d^2-weighted vote of its indexed neighbours (module docstring).

    Returns
    -------
    filled : int array (ny, nx)
        The indexed phase where indexed, the vote elsewhere.
    source : int array (ny, nx)
        Flat index of the indexed position each value comes from: the position itself where
        indexed, else its nearest indexed neighbour of the filled phase (orientation and
        reliabilities are copied from there).
    """
    flat = np.asarray(phase).reshape(-1).astype(np.int64)
    nb_phase = flat[neighbours.index]  # (n, k)
    with np.errstate(divide="ignore"):
        weight = 1.0 / np.maximum(neighbours.distance, 1e-12) ** 2
    weight[~np.isfinite(neighbours.distance)] = 0.0
    n_phases = int(flat[neighbours.index].max()) + 1
    votes = np.zeros((flat.size, n_phases))
    np.add.at(votes, (np.repeat(np.arange(flat.size), nb_phase.shape[1]), nb_phase.ravel()), weight.ravel())
    filled = np.argmax(votes, axis=1)
    own = np.asarray(indexed, bool).reshape(-1)
    filled[own] = flat[own]
    first_match = np.argmax(nb_phase == filled[:, None], axis=1)  # the vote's phase is always among them
    source = neighbours.index[np.arange(flat.size), first_match]
    source[own] = np.flatnonzero(own)
    shape = np.asarray(phase).shape
    return filled.reshape(shape), source.reshape(shape)
