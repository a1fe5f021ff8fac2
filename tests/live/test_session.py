"""The live session without a detector: an in-memory source, cancel, the subsample-first order of indexing,
and bad input in the words of the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stemlab.errors import Cancelled, StemlabError


def _frames(n=64, shape=(16, 16), seed=0):
    return np.random.default_rng(seed).poisson(5.0, (n, *shape)).astype(np.uint16)


def test_cancel_ends_the_scan_and_keeps_no_result():
    from stemlab.backend.progress import CancelToken
    from stemlab.live import ArraySource, LiveSession

    token = CancelToken()
    seen = []

    def cancel_after_first_frames(session):
        seen.append(session.status.received)
        if session.status.received:
            token.cancel()

    source = ArraySource(_frames(), stack_size=4, delay=0.2)  # 3 s in all
    with pytest.raises(Cancelled):
        LiveSession(source, (8, 8), cancel=token, on_update=cancel_after_first_frames).run()
    assert 0 < seen[-1] < 64


def test_orientation_behind_the_detector_indexes_a_coarse_grid_first(monkeypatch):
    from stemlab.live import ArraySource, LiveSession, session as live_session

    monkeypatch.setattr(live_session, "ORIENT_CHUNK", 8)
    chunks = []

    def record_chunk(self, positions):
        chunks.append(list(positions))
        self.pending[positions] = False
        self.indexed += len(positions)

    monkeypatch.setattr(LiveSession, "_index", record_chunk)
    result = LiveSession(ArraySource(_frames(), stack_size=64), (8, 8), phases=["Al"]).run()
    assert sorted(p for chunk in chunks for p in chunk) == list(range(64))  # everything filled in at the end
    first = {(p // 8, p % 8) for p in chunks[0]}
    assert {(0, 0), (0, 4), (4, 0), (4, 4)} <= first  # every 4th row and column first
    assert all(r % 2 == 0 and c % 2 == 0 for r, c in first)  # then every 2nd, before any other position
    assert not result.pending.any()


def test_live_maps_of_an_array_source_match_explore():
    import stemlab
    from stemlab.dataset import as_dataset
    from stemlab.diffraction import Disk
    from stemlab.live import ArraySource, acquire

    frames = _frames()
    result = acquire(ArraySource(frames, stack_size=5), (8, 8), detectors={"BF": "disk:c,c,3"})
    offline = stemlab.explore(as_dataset(frames.reshape(8, 8, 16, 16)), {"BF": Disk(7.5, 7.5, 3)})
    np.testing.assert_allclose(np.asarray(result.explore["BF"].data), np.asarray(offline["BF"].data), rtol=1e-6)
    assert result.complete and "received 64/64, dropped 0, analysed 64" in result.summary()


def test_live_without_a_detector_never_imports_libertem():
    code = ("import sys, numpy as np, stemlab.live as live;"
            "live.acquire(live.ArraySource(np.ones((4, 8, 8), np.uint8)), (2, 2));"
            "print('libertem_live' in sys.modules, 'libertem_qd_mpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("shape", [(0, 4), (4,), "4x4", None])
def test_bad_scan_shape_names_it(shape):
    from stemlab.live import ArraySource, LiveSession

    with pytest.raises(StemlabError, match="scan shape"):
        LiveSession(ArraySource(_frames(16)), shape)


def test_scan_shape_that_does_not_match_the_frames():
    from stemlab.live import ArraySource, LiveError, acquire

    with pytest.raises(LiveError, match="16 frames but the source holds 64"):
        acquire(ArraySource(_frames()), (4, 4))


@pytest.mark.parametrize("url, words", [
    ("merlin://127.0.0.1:notaport", ["notaport", "merlin://HOST[:DATA_PORT][?api_port=N]"]),
    ("dectris://127.0.0.1", ["'dectris'", "merlin://HOST"]),
    ("merlin://127.0.0.1?api_port=x", ["api_port='x'", "6341"]),
    ("merlin://127.0.0.1:{closed}?api_port={closed}", ["127.0.0.1:{closed}", "control", "6341"]),
])
def test_cli_bad_detector_address_names_the_value_and_the_fix(url, words, capsys):
    from simulator import free_port
    from stemlab.cli.main import main

    if "{closed}" in url:
        pytest.importorskip("libertem_live")
    closed = free_port()
    url = url.format(closed=closed)
    assert main(["live", url, "--scan", "2,4"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word.format(closed=closed) in err




@pytest.mark.parametrize("frame_time, frames", [(None, 1), (0.0, 1), (0.5, 1), (0.1, 1), (0.05, 2), (0.01, 10),
                                                (1e-3, 16), (1e-5, 16)])
def test_receiver_stacks_hold_at_most_a_tenth_of_a_second(frame_time, frames):
    from stemlab.live.sources import stack_frames

    assert stack_frames(frame_time) == frames  # unknown rate: one frame, the shortest lag


def _cancelled_mid_row(frames, scan_shape, record):
    """Record ``frames`` and cancel once 11 arrived (inside the second row of 8); the scan ends in Cancelled."""
    from stemlab.backend.progress import CancelToken
    from stemlab.live import ArraySource, LiveSession

    token = CancelToken()

    def cancel_mid_row(session):
        if session.status.received >= 11:
            token.cancel()

    source = ArraySource(frames, stack_size=11, delay=0.3)
    with pytest.raises(Cancelled, match="recorded"):
        LiveSession(source, scan_shape, record=record, on_update=cancel_mid_row, cancel=token).run()


def test_mib_recording_of_a_cancelled_scan_keeps_the_frames_received(tmp_path):
    import stemlab

    frames = _frames()
    _cancelled_mid_row(frames, (8, 8), tmp_path / "part.mib")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.hdr", "part.mib"]  # no temporary file left
    header = (tmp_path / "part.hdr").read_text()
    received = int(header.split("Frames Received (Number):\t")[1].split()[0])
    assert 11 <= received < 64 and received % 8
    ds = stemlab.load(tmp_path / "part.mib", scan_step="2nm")[0]
    rows = -(-received // 8)
    assert ds.shape == (rows, 8, 16, 16) and ds.axes[0].units == "nm"
    data = np.asarray(ds.data).reshape(-1, 16, 16)
    assert np.array_equal(data[:received], frames[:received]) and not data[received:].any()


def test_record_path_names_both_formats():
    from stemlab.live import ArraySource, LiveSession

    with pytest.raises(StemlabError, match=r"scan\.zarr or scan\.mib"):
        LiveSession(ArraySource(_frames()), (8, 8), record="scan.h5")


def test_cli_frame_time_must_be_positive(capsys):
    from stemlab.cli.main import main

    assert main(["live", "merlin://127.0.0.1:6342", "--scan", "2,4", "--frame-time", "0"]) == 2
    err = capsys.readouterr().err
    assert "--frame-time 0" in err and "Traceback" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the recording's chunk files are the spool on Linux")
def test_zarr_recording_is_the_spool_itself_without_a_copy(tmp_path, monkeypatch):
    """Frames of whole memory pages land in the zarr chunk files as they arrive: no frame goes through zarr's
    write path (a copy of every frame), also when the scan is cancelled inside a row; the recording opens as
    the frames received, zeros after them."""
    import zarr

    import stemlab
    from stemlab.live import ArraySource

    def no_copy(self, *args):
        raise AssertionError("a frame was copied into the zarr recording")

    monkeypatch.setattr(zarr.Array, "__setitem__", no_copy)
    frames = _frames(48, shape=(32, 64))  # 4 KiB frames: one memory page each
    result = stemlab.live.acquire(ArraySource(frames, stack_size=5), (6, 8), record=tmp_path / "scan.zarr")
    assert result.status.recorded == 48
    assert np.array_equal(np.asarray(stemlab.load(tmp_path / "scan.zarr")[0].data).reshape(-1, 32, 64), frames)

    _cancelled_mid_row(frames, (6, 8), tmp_path / "part.zarr")
    part = stemlab.load(tmp_path / "part.zarr")[0]
    received = zarr.open_group(str(tmp_path / "part.zarr"), mode="r").attrs["stemlab_live"]["frames_received"]
    data = np.asarray(part.data).reshape(-1, 32, 64)
    assert 11 <= received < 48 and part.shape == (6, 8, 32, 64)
    assert np.array_equal(data[:received], frames[:received]) and not data[received:].any()


def test_zarr_recording_falls_back_to_copying_rows_when_chunk_files_cannot_be_mapped(tmp_path, monkeypatch):
    """A filesystem that refuses shared maps of the chunk files costs a copy of every row, not the recording."""
    import stemlab
    from stemlab.live import ArraySource, recorder

    def refuse(*args):
        raise OSError(19, "no shared maps here")

    monkeypatch.setattr(recorder, "_mapped_frames", refuse)
    frames = _frames(48, shape=(32, 64))
    result = stemlab.live.acquire(ArraySource(frames, stack_size=5), (6, 8), record=tmp_path / "scan.zarr")
    assert result.status.recorded == 48
    assert np.array_equal(np.asarray(stemlab.load(tmp_path / "scan.zarr")[0].data).reshape(-1, 32, 64), frames)
