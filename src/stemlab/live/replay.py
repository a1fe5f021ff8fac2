"""Replay an adaptive acquisition on a recorded scan and compare it with a uniform one.

The whole scan is indexed once (the reference, "full scan"); an acquisition is then simulated
by revealing reference positions only: it starts from a coarse raster (every ``s``-th row and
column, ``1/s^2 <= coarse``), asks :func:`~stemlab.live.advice.where_next` for the best
unvisited positions (``step`` of the scan at a time, spread out) and visits them, until each
budget (share of positions visited) is reached. At each budget the map is filled in between the
visited positions (:func:`~stemlab.live.neighbours.fill_phase`: phase by the 1/d^2-weighted vote
of the ``fill_neighbours`` nearest visited positions, orientation from the nearest visited
position of that phase) and compared with the full scan, position by position; the same is done
for a uniform subsample of the same budget: a regular raster of spacing 1/sqrt(budget) (exact
for 0.25: every second row and column), topped up or thinned at random positions to the same
count. Where the scan carries simulated ground truth (``metadata['ground_truth']``, phases in the
order given), accuracies against the truth are reported too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .advice import where_next
from .misorientation import pair_misorientation_deg
from .neighbours import fill_phase, nearest_indexed

DEFAULT_BUDGETS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def replay(data, phases, *, budget: float = 0.25, budgets=None, seed: int = 0, progress=None, cancel=None,
           reference=None, coarse: float = 1 / 16, step: float = 0.02, fill_neighbours: int = 4,
           orientation_tolerance_deg: float = 2.0, **orient_settings) -> dict:
    """Simulate an adaptive acquisition on a recorded scan and compare it with a uniform subsample.

    Parameters
    ----------
    data : Dataset, array or path
        The recorded 2D scan (4D-STEM); a path is read with :func:`stemlab.load`.
    phases : list of str or Phase
        Phases to index, as for :func:`stemlab.index_orientations`.
    budget : float
        Share of the scan positions visited (0-1] for the headline figures (``--budget``).
    budgets : sequence of float, optional
        Budgets of the accuracy curve (default 0.1-0.5; ``budget`` is always included).
    seed : int
        Seed of the raster offsets and of the uniform subsample's top-up.
    progress, cancel
        ``progress(done, total, message)`` and a :class:`~stemlab.backend.progress.CancelToken`.
    reference : OrientationResult, optional
        The full scan already indexed (then ``data`` only supplies the ground truth, if any).
    coarse : float
        Largest share of the scan in the starting raster.
    step : float
        Share of the scan asked of :func:`where_next` per round.
    fill_neighbours : int
        Visited neighbours in the phase vote of the fill.
    orientation_tolerance_deg : float
        Filled and full-scan orientations agree within this misorientation, degrees.
    **orient_settings
        Passed to :func:`stemlab.index_orientations` (``resolution``, ``s_width``, ``device`` ...).

    Returns
    -------
    dict
        JSON-ready: ``budget``, ``adaptive_phase_agreement``, ``uniform_phase_agreement`` (share of
        positions whose filled-in phase equals the full scan's), ``adaptive_orientation_agreement``,
        ``uniform_orientation_agreement`` (same phase and orientation within the tolerance), the
        ``curve`` (one such record per budget), ``settings``; with ground truth also
        ``full_phase_accuracy``, ``adaptive_phase_accuracy``, ``uniform_phase_accuracy`` and the
        ``..._orientation_accuracy`` twins (share of positions right against the truth; an
        orientation is right within the tolerance or when kinematically indistinguishable from
        the truth, as :func:`stemlab.orientation.evaluate.evaluate_map` counts it).

    Examples
    --------
    >>> report = replay(stemlab.sample_4dstem(), ["Al", "alpha-Fe"], budget=0.25)  # doctest: +SKIP
    >>> write_replay("replay.json", report)  # doctest: +SKIP

    References
    ----------
    Godaliyadda et al., IEEE Trans. Comput. Imaging 4 (2018) 1 (SLADS); docs/live.md.
    """
    from ..backend.progress import report as tell, steps

    budgets = _budgets(budget, budgets)
    _check_share("coarse", coarse)
    _check_share("step", step)
    if fill_neighbours < 1:
        raise ParameterError(f"fill_neighbours={fill_neighbours}: vote among at least 1 visited neighbour.")
    data = _as_scan(data) if data is not None else None
    sub = steps(progress, {"indexing": 0 if reference is not None else 9, "replay": 1})
    if reference is None:
        if data is None:
            raise ParameterError("replay needs the recorded scan (data) or an indexed reference (reference=).")
        from ..orientation import index_orientations

        reference = index_orientations(data, phases, progress=sub["indexing"], cancel=cancel, **orient_settings)
    shape = tuple(np.asarray(reference.arrays["phase"]).shape)
    if len(shape) != 2:
        raise ParameterError(f"Replay needs a 2D scan (ny, nx); this one has navigation shape {shape}.")
    scoring = _Scoring(reference, data, orientation_tolerance_deg, fill_neighbours)
    rng = np.random.default_rng(seed)
    curve = []
    adaptive = adaptive_masks(reference, budgets, coarse=coarse, step=step, rng=rng, cancel=cancel)
    for i, (b, visited) in enumerate(adaptive):
        record = {"budget": b, "visited": int(visited.sum())}
        record.update(scoring.score("adaptive", visited))
        record.update(scoring.score("uniform", uniform_mask(shape, b, rng)))
        curve.append(record)
        tell(sub["replay"], i + 1, len(budgets), "replaying the acquisition")
    head = next(r for r in curve if r["budget"] == float(budget))
    report = {"budget": float(budget)}
    report.update({k: v for k, v in head.items() if k not in ("budget", "visited")})
    report.update(scoring.full())
    report["curve"] = curve
    report["settings"] = {"scan_shape": list(shape), "positions": int(np.prod(shape)), "seed": int(seed),
                          "coarse": float(coarse), "step": float(step), "fill_neighbours": int(fill_neighbours),
                          "orientation_tolerance_deg": float(orientation_tolerance_deg),
                          "phases": [str(getattr(p, "name", p)) for p in phases] if phases is not None else [],
                          "orientation": _json_settings(orient_settings)}
    return report


def write_replay(path, report: dict) -> Path:
    """Write a :func:`replay` report as JSON, atomically (a failed write leaves nothing)."""
    from ..io.writers import atomic_write

    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    return path


def adaptive_masks(reference, budgets, *, coarse: float = 1 / 16, step: float = 0.02, rng=None, cancel=None):
    """Yield ``(budget, visited mask)`` of one adaptive acquisition at each budget (ascending).

    Starts from the coarse raster, then visits the :meth:`~stemlab.live.advice.WhereNext.suggest`
    list of :func:`where_next` on the reference revealed so far, ``step`` of the scan per round.
    """
    shape = tuple(np.asarray(reference.arrays["phase"]).shape)
    total = int(np.prod(shape))
    rng = rng or np.random.default_rng(0)
    stride = max(2, math.ceil(1 / math.sqrt(min(coarse, min(budgets)))))
    visited = raster_mask(shape, stride, rng)
    per_round = max(1, round(step * total))
    for b in budgets:
        target = max(int(visited.sum()), round(b * total))
        while visited.sum() < target:
            if cancel is not None:
                cancel.check()
            advice = where_next(reference, pending=~visited)
            todo = min(per_round, target - int(visited.sum()))
            picks = advice.suggest(todo, among=~visited)
            if not picks:  # nothing left worth visiting: the rest of the scan
                picks = [{"row": r, "column": c} for r, c in np.argwhere(~visited)[:todo]]
            for p in picks:
                visited[p["row"], p["column"]] = True
        yield float(b), visited.copy()


def raster_mask(shape, stride: int, rng) -> np.ndarray:
    """Every ``stride``-th row and column, from a random offset in [0, stride)."""
    mask = np.zeros(shape, bool)
    oy, ox = (int(v) for v in rng.integers(0, stride, 2))
    mask[oy % shape[0]::stride, ox % shape[1]::stride] = True
    return mask


def uniform_mask(shape, fraction: float, rng) -> np.ndarray:
    """A regular raster of spacing 1/sqrt(fraction) positions, topped up or thinned at random to exactly
    round(fraction x positions) visited positions."""
    total = int(np.prod(shape))
    target = max(1, round(fraction * total))
    spacing = 1.0 / math.sqrt(fraction)
    mask = np.zeros(shape, bool)
    offset = rng.random(2) * spacing
    rows = np.unique(np.round(np.arange(offset[0], shape[0], spacing)).astype(int).clip(0, shape[0] - 1))
    cols = np.unique(np.round(np.arange(offset[1], shape[1], spacing)).astype(int).clip(0, shape[1] - 1))
    mask[np.ix_(rows, cols)] = True
    count = int(mask.sum())
    if count > target:
        mask.flat[rng.choice(np.flatnonzero(mask), count - target, replace=False)] = False
    elif count < target:
        mask.flat[rng.choice(np.flatnonzero(~mask), target - count, replace=False)] = True
    return mask


class _Scoring:
    """Agreement of filled maps with the full scan, and accuracy against the truth when it is known.

    Accuracy counts an orientation right when it is within the tolerance of the truth or, like the
    full scan's own orientation at its source position in the same grain, kinematically
    indistinguishable from it (:func:`stemlab.orientation.evaluate.evaluate_map`: every visible
    reflection in one plane of higher symmetry; no template matcher can tell those apart).
    """

    def __init__(self, reference, data, tolerance_deg, fill_neighbours):
        self.phase = np.asarray(reference.arrays["phase"]).astype(np.int64)
        self.R = reference.rotations.reshape(-1, 3, 3)
        self.phases = reference.library.phases
        self.tolerance = float(tolerance_deg)
        self.k = int(fill_neighbours)
        self.truth = _truth(data, self.phase.shape)
        if self.truth is not None:
            from ..orientation.evaluate import evaluate_map

            self.equivalent = np.asarray(evaluate_map(reference, data)["equivalent"], bool)

    def _angles(self, phase, R, want_phase, want_R):
        ok = phase == want_phase
        angle = np.full(ok.size, 180.0)
        angle[ok] = pair_misorientation_deg(R[ok], want_R[ok], phase[ok], self.phases)
        return ok, angle

    def score(self, name, visited) -> dict:
        filled, source = fill_phase(self.phase, visited, nearest_indexed(visited, self.k))
        filled, source = filled.ravel(), source.ravel()
        ok, angle = self._angles(filled, self.R[source], self.phase.ravel(), self.R)
        out = {f"{name}_phase_agreement": float(ok.mean()),
               f"{name}_orientation_agreement": float(np.mean(angle <= self.tolerance))}
        if self.truth is not None:
            phase, R_true, grain = self.truth
            ok, angle = self._angles(filled, self.R[source], phase, R_true)
            same_grain = grain[source] == grain
            right = ok & ((angle <= self.tolerance) | (self.equivalent[source] & same_grain))
            out.update({f"{name}_phase_accuracy": float(ok.mean()),
                        f"{name}_orientation_accuracy": float(right.mean())})
        return out

    def full(self) -> dict:
        if self.truth is None:
            return {}
        ok = self.phase.ravel() == self.truth[0]
        return {"full_phase_accuracy": float(ok.mean()),
                "full_orientation_accuracy": float((ok & self.equivalent).mean())}


def _truth(data, shape):
    """(phase, rotations, grain), flat, of simulated ground truth matching the scan, else None."""
    gt = (getattr(data, "metadata", None) or {}).get("ground_truth") if data is not None else None
    if not gt or not all(k in gt for k in ("phase", "orientation", "grain")):
        return None
    phase = np.asarray(gt["phase"])
    if phase.shape != shape:
        return None
    return (phase.astype(np.int64).ravel(), np.asarray(gt["orientation"], float).reshape(-1, 3, 3),
            np.asarray(gt["grain"]).ravel())


def _as_scan(data):
    """The recorded scan, checked to be a 2D scan of 2D patterns before anything is indexed: a path
    is read (its first such dataset), a Dataset or a 4D array passes through."""
    from ..dataset import Dataset

    if isinstance(data, (str, Path)):
        from ..io import load

        found = [d for d in load(data) if len(d.nav_axes) == 2 and len(d.sig_axes) == 2]
        if not found:
            raise ParameterError(f"{data} holds no 2D scan of 2D patterns to replay (--replay FILE); "
                                 "replay needs a scan of ny x nx positions.")
        return found[0]
    nav = data.nav_shape if isinstance(data, Dataset) else np.shape(data)[:-2]
    if len(nav) != 2:
        raise ParameterError(f"Replay needs a 2D scan (ny, nx) of patterns; the data has navigation shape "
                             f"{tuple(nav)}.")
    return data


def _budgets(budget, budgets) -> list[float]:
    _check_share("budget", budget)
    values = [float(budget)] + [float(b) for b in (DEFAULT_BUDGETS if budgets is None else budgets)]
    for b in values:
        _check_share("budget", b)
    return sorted(set(values))


def _check_share(name, value) -> None:
    if not (isinstance(value, (int, float)) and 0 < float(value) <= 1):
        flag = {"budget": " (--budget)"}.get(name, "")
        raise ParameterError(f"{name}={value!r}{flag}: give the share of scan positions, a number in (0, 1], "
                             "e.g. 0.25 for a quarter.")


def _json_settings(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if isinstance(v, (bool, int, float, str)) or v is None}
