"""Where to scan next: rank the positions of a (partial) orientation/phase map by what a denser or
repeated scan would resolve.

Each position gets a score in [0, 1] (the largest of the weighted criteria below) and the name of
the criterion that gave it:

``phase boundary``
    share (2x, capped at 1) of the inverse-square-distance weight of its indexed neighbours whose
    phase differs from the position's (filled) phase: 1 halfway between two phases, 0 inside a
    grain. For a pending position this is the chance that the fill is wrong, so the score is the
    expected reduction of the map's error by measuring it (the idea of SLADS, Godaliyadda et al.,
    IEEE Trans. Comput. Imaging 4 (2018) 1, here with fixed features instead of a trained
    regression).
``grain boundary``
    the same among the neighbours of the same phase, counting those misoriented by more than
    ``boundary_deg`` from the position's orientation (one of the two reliable at least: the
    inside of a kinematically ambiguous grain is no boundary).
``low orientation reliability`` / ``low phase reliability``
    indexed positions whose reliability (percent, 100 (1 - Q2/Q1)) is below ``low_reliability``,
    rising linearly to 1 at 0: a repeated (longer) exposure may resolve them.
``high uncertainty``
    a classifier uncertainty map, normalised to its largest value.
``pending``
    not yet indexed: distance to the nearest indexed position over the largest such distance
    (explores the unvisited parts of the scan once the boundaries are resolved).

The weights (:data:`WEIGHTS`) order the criteria when they compete: boundaries first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset import Axis, Dataset
from ..errors import ParameterError
from .misorientation import pair_misorientation_deg
from .neighbours import Neighbours, fill_phase, nearest_indexed

WEIGHTS = {"phase boundary": 1.0, "grain boundary": 0.8, "high uncertainty": 0.6, "low phase reliability": 0.6,
           "low orientation reliability": 0.4, "pending": 0.25}
REASONS = ("none",) + tuple(WEIGHTS)
CSV_COLUMNS = ("row", "column", "score", "reason", "y", "x")


@dataclass
class WhereNext:
    """Scores of every scan position for a denser or repeated scan (:func:`where_next`).

    Attributes
    ----------
    score : float array (ny, nx)
        0-1, higher = more worth scanning again or more densely.
    reason : str array (ny, nx)
        The criterion behind each score (one of :data:`REASONS`).
    scan_axes : tuple of Axis
        The scan's (y, x) axes: positions in physical units for :meth:`to_csv` and :meth:`datasets`.
    nearest_distance : float array (ny, nx)
        Distance to the nearest indexed position (smaller scan steps): breaks ties between equal
        scores in favour of the least explored position.
    """

    score: np.ndarray
    reason: np.ndarray
    scan_axes: tuple = ()
    nearest_distance: np.ndarray | None = field(default=None, repr=False)

    def suggest(self, n: int, *, among=None, min_distance: int = 2) -> list[dict]:
        """The ``n`` best positions, spread out, best first.

        A position is taken only when no position already taken lies within ``min_distance``
        scan steps (along rows or columns); when that leaves fewer than ``n``, the spacing is
        relaxed step by step down to 0. Positions with score 0 are never suggested.

        Parameters
        ----------
        n : int
            How many positions at most.
        among : bool array (ny, nx), optional
            Only these positions may be suggested (a replay passes the unvisited ones).
        min_distance : int
            Smallest spacing of suggested positions, scan steps.

        Returns
        -------
        list of dict
            ``{'row', 'column', 'score', 'reason'}`` per position (row, column: scan indices).
        """
        n = int(n)
        if n < 0:
            raise ParameterError(f"Number of suggested positions {n}: give a count of 0 or more (--suggest N).")
        allowed = self.score > 0
        if among is not None:
            allowed &= np.asarray(among, bool)
        candidates = np.flatnonzero(allowed)
        tie = (self.nearest_distance.ravel()[candidates] if self.nearest_distance is not None
               else np.zeros(candidates.size))
        order = candidates[np.lexsort((-tie, -self.score.ravel()[candidates]))]
        chosen = _spread(order, self.score.shape, n, int(min_distance))
        chosen.sort(key=lambda p: -self.score.flat[p])  # stable: equal scores keep the tie-break order
        rows, cols = np.divmod(np.asarray(chosen, dtype=np.int64), self.score.shape[1])
        return [{"row": int(r), "column": int(c), "score": float(self.score[r, c]), "reason": str(self.reason[r, c])}
                for r, c in zip(rows, cols)]

    def to_csv(self, path, n: int, scan_axes=None) -> Path:
        """Write the :meth:`suggest` list as CSV, atomically: columns ``row,column,score,reason,y,x``.

        ``row``, ``column`` are scan indices; ``y``, ``x`` the positions in the scan's physical
        coordinates (offset + index x scale of the scan axes), in the unit of those axes
        (``scan_axes[0].units``, e.g. nm), scan steps when the scan is uncalibrated.
        ``scan_axes`` (default: the result's) are the scan's y and x :class:`~stemlab.Axis`
        (or a dataset's axes: the navigating ones are used).
        """
        from ..io.writers import atomic_write

        ay, ax = _scan_axes(scan_axes if scan_axes is not None else self.scan_axes, self.score.shape)
        lines = [",".join(CSV_COLUMNS)]
        for s in self.suggest(n):
            y = ay.offset + s["row"] * ay.scale
            x = ax.offset + s["column"] * ax.scale
            lines.append(f"{s['row']},{s['column']},{s['score']:.6g},{s['reason']},{y:.9g},{x:.9g}")
        path = Path(path)
        with atomic_write(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        return path

    def datasets(self) -> dict[str, Dataset]:
        """``where_next`` (the score, float) and ``where_next_reason`` (labels: k = ``REASONS[k]``)
        on the scan's axes."""
        ay, ax = _scan_axes(self.scan_axes, self.score.shape)
        axes = (ay, ax)
        code = np.zeros(self.score.shape, np.int32)
        for k, name in enumerate(REASONS):
            code[self.reason == name] = k
        meta = {"reasons": list(REASONS), "weights": dict(WEIGHTS)}
        return {"where_next": Dataset(self.score.astype(np.float32), axes, kind="image", name="where next",
                                      metadata=meta),
                "where_next_reason": Dataset(code, axes, kind="image", name="where next reason",
                                             metadata={**meta, "label_names": list(REASONS)})}

    def save(self, path) -> Path:
        """``.csv``: every position with a positive score (:meth:`to_csv`); otherwise the
        :meth:`datasets` maps (``.npz`` or a folder of ``.tif``)."""
        from ..results import save_datasets

        if Path(path).suffix.lower() == ".csv":
            return self.to_csv(path, int(np.count_nonzero(self.score > 0)))
        return save_datasets(self.datasets(), path)

    def summary(self) -> str:
        """How many positions are worth a look, and why, in one line."""
        flagged = self.score > 0.5
        counts = {r: int(np.count_nonzero(flagged & (self.reason == r))) for r in WEIGHTS}
        parts = ", ".join(f"{r} {c}" for r, c in counts.items() if c)
        return f"{int(flagged.sum())} of {self.score.size} positions score above 0.5" + (f" ({parts})" if parts else "")


def where_next(result, *, pending=None, uncertainty=None, neighbours: int = 8, boundary_deg: float = 5.0,
               low_reliability: float = 10.0) -> WhereNext:
    """Rank the positions of a (partial) orientation/phase map for a denser or repeated scan.

    Parameters
    ----------
    result : OrientationResult
        From :func:`stemlab.index_orientations` on a 2D scan; its maps may be partial
        (values at ``pending`` positions are ignored).
    pending : bool array (ny, nx), optional
        Positions not indexed yet (default: none).
    uncertainty : float array (ny, nx), optional
        Classifier uncertainty (e.g. mutual information, nats); NaN where unknown.
    neighbours : int
        Indexed neighbours each position is compared with.
    boundary_deg : float
        Misorientation, degrees, above which two neighbours of one phase lie in different grains.
    low_reliability : float
        Orientation / phase reliability, percent, below which a position is flagged.

    Returns
    -------
    WhereNext
        ``.score``, ``.reason``, ``.suggest(n)``, ``.to_csv(path, n, scan_axes)``, ``.datasets()``.

    Examples
    --------
    >>> advice = where_next(result, pending=~done)  # doctest: +SKIP
    >>> advice.to_csv("next_positions.csv", 100, dataset.nav_axes)  # doctest: +SKIP

    References
    ----------
    Godaliyadda et al., "A framework for dynamic image sampling based on supervised learning"
    (SLADS), IEEE Trans. Comput. Imaging 4 (2018) 1; docs/live.md.
    """
    phase = np.asarray(result.arrays["phase"])
    if phase.ndim != 2:
        raise ParameterError(f"where_next needs the map of a 2D scan (ny, nx); this one has shape {phase.shape}.")
    shape = phase.shape
    indexed = np.ones(shape, bool) if pending is None else ~_mask(pending, shape, "pending")
    if neighbours < 1:
        raise ParameterError(f"neighbours={neighbours}: compare with at least 1 indexed neighbour.")
    axes = _scan_axes(result.dataset_axes, shape)
    if not indexed.any():
        ones = np.ones(shape)
        return WhereNext(ones * WEIGHTS["pending"], np.full(shape, "pending", dtype=object), axes, ones)
    nb = nearest_indexed(indexed, neighbours + 1, (axes[0].scale, axes[1].scale))
    filled, source = fill_phase(phase, indexed, nb)
    terms = _boundary_terms(result, nb, filled.ravel(), source.ravel(), boundary_deg, low_reliability)
    for name, key in (("low orientation reliability", "orientation_reliability"),
                      ("low phase reliability", "phase_reliability")):
        reliability = np.asarray(result.arrays[key], float).reshape(shape)
        terms[name] = np.where(indexed, np.clip(1.0 - reliability / low_reliability, 0.0, 1.0), 0.0).ravel()
    if uncertainty is not None:
        u = np.nan_to_num(np.asarray(uncertainty, float), nan=0.0)
        if u.shape != shape:
            raise ParameterError(f"uncertainty map of shape {u.shape} does not match the scan {shape}.")
        terms["high uncertainty"] = (u / u.max() if u.max() > 0 else u).ravel()
    nearest = nb.distance[:, 0]
    far = nearest.max()
    terms["pending"] = np.where(~indexed.ravel(), nearest / far if far > 0 else 0.0, 0.0)
    names = list(terms)
    weighted = np.stack([WEIGHTS[k] * terms[k] for k in names])
    best = np.argmax(weighted, axis=0)
    score = weighted.max(axis=0)
    reason = np.array(names, dtype=object)[best]
    reason[score <= 0] = "none"
    return WhereNext(score.reshape(shape), reason.reshape(shape), axes, nearest.reshape(shape))


def _boundary_terms(result, nb: Neighbours, filled, source, boundary_deg, low_reliability) -> dict:
    """Weighted share of neighbours across a phase / grain boundary from each position (module docstring).

    Grain boundaries need a reliable orientation (reliability >= ``low_reliability``) at one end at
    least: a kinematically ambiguous grain (every orientation reliability ~0) shows a different
    orientation at every position, which no denser scan resolves."""
    n = filled.size
    flat_phase = np.asarray(result.arrays["phase"]).reshape(-1).astype(np.int64)
    others = nb.index != np.arange(n)[:, None]  # the position itself is no neighbour
    with np.errstate(divide="ignore"):
        w = np.where(others & np.isfinite(nb.distance), 1.0 / np.maximum(nb.distance, 1e-12) ** 2, 0.0)
    nb_phase = flat_phase[nb.index]
    differs = nb_phase != filled[:, None]
    total = np.maximum(w.sum(axis=1), 1e-300)
    phase_term = np.clip(2.0 * (w * differs).sum(axis=1) / total, 0.0, 1.0)
    reliable = np.asarray(result.arrays["orientation_reliability"], float).reshape(-1) >= low_reliability
    same = ~differs & (w > 0)
    R = result.rotations.reshape(-1, 3, 3)
    rows, cols = np.nonzero(same)
    mis = np.zeros(nb.index.shape, bool)
    if rows.size:
        angle = pair_misorientation_deg(R[nb.index[rows, cols]], R[source[rows]], filled[rows],
                                        result.library.phases)
        mis[rows, cols] = (angle > boundary_deg) & (reliable[nb.index[rows, cols]] | reliable[source[rows]])
    same_total = np.maximum((w * same).sum(axis=1), 1e-300)
    grain_term = np.clip(2.0 * (w * mis).sum(axis=1) / same_total, 0.0, 1.0)
    return {"phase boundary": phase_term, "grain boundary": grain_term}


def _spread(order, shape, n, min_distance) -> list[int]:
    """Greedy pick from ``order`` (best first) keeping chosen positions ``min_distance`` apart,
    relaxing the spacing until ``n`` are chosen or the candidates run out."""
    chosen: list[int] = []
    taken = np.zeros(len(order), bool)
    ny, nx = shape
    for spacing in range(max(min_distance, 0), -1, -1):
        blocked = np.zeros(shape, bool)
        for p in chosen:
            r, c = divmod(p, nx)
            blocked[max(r - spacing, 0):r + spacing + 1, max(c - spacing, 0):c + spacing + 1] = True
        for i, p in enumerate(order):
            if len(chosen) >= n:
                return chosen
            r, c = divmod(int(p), nx)
            if taken[i] or blocked[r, c]:
                continue
            chosen.append(int(p))
            taken[i] = True
            blocked[max(r - spacing, 0):r + spacing + 1, max(c - spacing, 0):c + spacing + 1] = True
    return chosen


def _mask(mask, shape, name) -> np.ndarray:
    mask = np.asarray(mask, bool)
    if mask.shape != shape:
        raise ParameterError(f"{name} mask of shape {mask.shape} does not match the scan {shape}.")
    return mask


def _scan_axes(axes, shape) -> tuple[Axis, Axis]:
    """The (y, x) scan axes among ``axes`` (the navigating ones of a dataset's), checked against ``shape``."""
    axes = tuple(axes or ())
    nav = tuple(a for a in axes if a.navigate) or axes
    if not nav:
        return Axis("scan_y", shape[0], navigate=True), Axis("scan_x", shape[1], navigate=True)
    if len(nav) != 2 or (nav[0].size, nav[1].size) != tuple(shape):
        raise ParameterError(f"Scan axes {[a.name for a in nav]} of sizes {[a.size for a in nav]} do not match "
                             f"the scan {tuple(shape)}: pass the (y, x) axes of the scanned dataset.")
    return nav[0], nav[1]
