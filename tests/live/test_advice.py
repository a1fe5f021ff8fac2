"""Where next: scores peak at the boundaries and weak positions of a map laid out by hand; the
suggestion list is spread out; the CSV carries the scan's own calibration; the fast
misorientation agrees with orix."""

import csv
from types import SimpleNamespace

import numpy as np
import pytest

from stemlab import Axis
from stemlab.crystal import resolve_phase
from stemlab.crystal.rotations import random_rotations, rotation_about_z
from stemlab.errors import ParameterError
from stemlab.live.advice import CSV_COLUMNS, REASONS, where_next
from stemlab.live.misorientation import pair_misorientation_deg
from stemlab.orientation import OrientationResult

N = 20
AXES = (Axis("scan_y", N, 0.5, 10.0, "nm", True), Axis("scan_x", N, 0.5, -3.0, "nm", True))
STRETCHED = (Axis("scan_y", N, 0.5, 10.0, "nm", True), Axis("scan_x", N, 0.25, -3.0, "nm", True))


@pytest.fixture(scope="module")
def phases():
    return [resolve_phase("Al"), resolve_phase("alpha-Fe")]


def constructed(phases):
    """20 x 20 map: Al left of column 10, Fe right; the Al half is two grains 30 degrees apart
    (about the beam) split at row 10; orientation reliability 0 at (15, 4), phase reliability 0 at (4, 15)."""
    phase = np.zeros((N, N), np.int64)
    phase[:, 10:] = 1
    R = np.empty((N, N, 3, 3))
    R[:] = np.eye(3)
    R[10:, :10] = rotation_about_z(30.0)
    orientation_reliability = np.full((N, N), 80.0)
    phase_reliability = np.full((N, N), 60.0)
    orientation_reliability[15, 4] = 0.0
    phase_reliability[4, 15] = 0.0
    arrays = {"phase": phase, "rotation": R.reshape(N, N, 9), "orientation_reliability": orientation_reliability,
              "phase_reliability": phase_reliability, "score": np.ones((N, N))}
    library = SimpleNamespace(phases=phases, phase_names=["Al", "Fe"])
    return OrientationResult(dataset_axes=AXES, library=library, settings=None, arrays=arrays)


def test_scores_peak_at_the_known_boundaries_and_weak_positions(phases):
    advice = where_next(constructed(phases))
    score, reason = advice.score, advice.reason
    assert reason[5, 9] == reason[5, 10] == "phase boundary" and score[5, 9] > 0.5
    assert reason[9, 4] == reason[10, 4] == "grain boundary" and score[9, 4] > 0.4
    assert reason[15, 4] == "low orientation reliability" and reason[4, 15] == "low phase reliability"
    # inside a grain, far from all of them: nothing to do
    assert score[3, 3] == 0 and reason[3, 3] == "none" and score[16, 16] == 0
    # the phase boundary ranks above the grain boundary, both above the flat interior
    assert score[5, 9] > score[9, 4] > score[3, 3]
    # the 1/d^2 weights: the boundary columns are the maxima of each row away from the grain boundary
    assert set(np.argmax(score[2:8, :], axis=1)) <= {9, 10}
    assert set(np.unique(reason)) <= set(REASONS)


def test_pending_positions_score_by_their_indexed_neighbours_only(phases):
    result = constructed(phases)
    pending = np.ones((N, N), bool)
    pending[::4, ::4] = False  # a coarse raster has been indexed
    advice = where_next(result, pending=pending)
    # values at pending positions are ignored: scrambling them changes nothing
    scrambled = constructed(phases)
    rng = np.random.default_rng(1)
    scrambled.arrays["phase"][pending] = rng.integers(0, 2, pending.sum())
    scrambled.arrays["orientation_reliability"][pending] = 0.0
    again = where_next(scrambled, pending=pending)
    assert np.array_equal(advice.score, again.score) and np.array_equal(advice.reason, again.reason)
    # between indexed Al (column 8) and Fe (column 12) the fill is most uncertain
    assert advice.reason[2, 10] == "phase boundary" and advice.score[2, 10] > 0.9
    assert np.argmax(advice.score[2]) == 10
    assert advice.reason[2, 2] == "pending" and 0 < advice.score[2, 2] < advice.score[2, 10]
    # nothing indexed yet: every position pending
    nothing = where_next(result, pending=np.ones((N, N), bool))
    assert set(np.unique(nothing.reason)) == {"pending"}


def test_uncertainty_map_is_a_reason(phases):
    u = np.zeros((N, N))
    u[16, 16] = 0.7
    advice = where_next(constructed(phases), uncertainty=u)
    assert advice.reason[16, 16] == "high uncertainty" and advice.score[16, 16] == pytest.approx(0.6)
    with pytest.raises(ParameterError, match="uncertainty"):
        where_next(constructed(phases), uncertainty=np.zeros((3, 3)))


def test_suggestions_best_first_spread_out_and_within_among(phases):
    advice = where_next(constructed(phases))
    picks = advice.suggest(12)
    assert len(picks) == 12 and list(picks[0]) == ["row", "column", "score", "reason"]
    scores = [p["score"] for p in picks]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert picks[0]["reason"] == "phase boundary"
    rc = np.array([(p["row"], p["column"]) for p in picks])
    gaps = np.abs(rc[:, None] - rc[None]).max(-1) + 99 * np.eye(len(rc), dtype=int)
    assert gaps.min() > 2  # no two suggested positions within 2 scan steps
    among = np.zeros((N, N), bool)
    among[:, :5] = True
    assert all(p["column"] < 5 for p in advice.suggest(5, among=among))
    # more asked than positive scores exist: all of them, none with score 0
    everything = advice.suggest(N * N)
    assert len(everything) == np.count_nonzero(advice.score > 0)
    assert advice.suggest(0) == []


def test_csv_columns_and_physical_positions(phases, tmp_path):
    advice = where_next(constructed(phases))
    path = advice.to_csv(tmp_path / "next_positions.csv", 7, STRETCHED)  # the axes passed win
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS == ("row", "column", "score", "reason", "y", "x")
    assert len(rows) == 8
    for r in rows[1:]:
        row, col = int(r[0]), int(r[1])
        assert float(r[4]) == pytest.approx(10.0 + 0.5 * row) and float(r[5]) == pytest.approx(-3.0 + 0.25 * col)
        assert float(r[2]) == pytest.approx(advice.score[row, col], abs=1e-5) and r[3] == advice.reason[row, col]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next_positions.csv"]  # no temporary left behind
    # the axes of a 4D dataset: its navigating ones are used
    four = STRETCHED + (Axis("ky", 8, 0.01, 0, "1/angstrom"), Axis("kx", 8, 0.01, 0, "1/angstrom"))
    advice.to_csv(tmp_path / "b.csv", 7, four)
    assert (tmp_path / "b.csv").read_text() == path.read_text()
    with pytest.raises(ParameterError, match="do not match the scan"):
        advice.to_csv(tmp_path / "c.csv", 3, (Axis("scan_y", 5, navigate=True), Axis("scan_x", 5, navigate=True)))
    assert not (tmp_path / "c.csv").exists()


def test_datasets_keep_the_scan_calibration(phases):
    maps = where_next(constructed(phases)).datasets()
    score, reason = maps["where_next"], maps["where_next_reason"]
    assert [(a.scale, a.offset, a.units) for a in score.axes] == [(0.5, 10.0, "nm"), (0.5, -3.0, "nm")]
    assert score.data.shape == (N, N) and reason.axes == score.axes
    assert reason.metadata["label_names"][int(reason.data[5, 9])] == "phase boundary"


def test_fast_misorientation_equals_orix(phases):
    from stemlab.orientation.evaluate import disorientation_deg

    rng = np.random.default_rng(3)
    phases = [phases[0], resolve_phase("Ti")]
    for p, ph in enumerate(phases):
        A, B = random_rotations(50, rng), random_rotations(50, rng)
        ours = pair_misorientation_deg(A, B, np.full(50, p), phases)
        assert np.abs(ours - disorientation_deg(A, B, ph)).max() < 1e-3
        assert ours.max() > 30


def test_where_next_follows_the_result_protocol(phases, tmp_path):
    from stemlab.results import AnalysisResult

    advice = where_next(constructed(phases))
    assert isinstance(advice, AnalysisResult) and "positions score above 0.5" in advice.summary()
    rows = advice.save(tmp_path / "all.csv").read_text().splitlines()
    assert len(rows) == 1 + np.count_nonzero(advice.score > 0)
    with np.load(advice.save(tmp_path / "maps.npz")) as saved:
        assert np.allclose(saved["where_next"], advice.score) and "calibration" in saved.files
