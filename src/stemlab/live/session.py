"""A live scan: receive every frame, record it, and grow the maps row by row while the detector runs.

Threads, joined by one condition variable:

- the *receiver* pulls frame stacks from the source (:mod:`stemlab.live.sources`) into the spool
  (:class:`~stemlab.live.recorder.FrameSpool`); it never waits for an analysis, so no frame is lost
  to a slow one;
- the *recorder* copies completed scan rows into the recording (``record=``: zarr or ``.mib``);
- the *virtual-detector* thread runs the explorer's one-pass kernel
  (:class:`stemlab.diffraction.virtual.VirtualKernel`) over new frames: detector images, centre of
  mass, mean and max pattern;
- the *orientation* thread indexes chunks with :func:`stemlab.index_orientations` and a template
  library built once (on the first chunk). When it falls behind it takes a coarse subsample of the
  waiting positions first (every 4th row and column, then every 2nd, then the rest) and fills in
  the others later; ``pending`` says which positions are not indexed yet.

The calling thread watches: it reports progress, hands snapshots to ``on_update`` (about 10 per
second), answers Cancel within a second, and assembles the :class:`~stemlab.live.result.LiveResult`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

import numpy as np

from ..backend.progress import CancelToken, ProgressCallback
from ..dataset import Axis, Dataset
from ..errors import Cancelled, ParameterError
from .sources import LiveError, SourceInfo

UPDATE_S = 0.1  # seconds between progress reports / snapshots
VIRTUAL_BLOCK = 256  # frames per virtual-detector kernel call, at most
VIRTUAL_GATHER = 64  # frames a kernel call waits for (at most UPDATE_S): each call costs ~0.5 ms of set-up, a
# 16-frame call twice the CPU per frame of a 64-frame one (256 x 256 frames, measured on 2 cores)
ORIENT_CHUNK = 128  # patterns per orientation chunk and CPU worker (about a second on 2 CPU cores)


@dataclass(frozen=True)
class LiveProgress:
    """Counts of a live scan: frames ``total`` (scan positions), ``received``, ``dropped`` (received but not
    kept: 0 by design), ``recorded`` (in the recording), ``analysed`` (virtual detectors), ``indexed``
    (orientation), and ``elapsed`` seconds since arming."""

    total: int
    received: int
    dropped: int
    recorded: int
    analysed: int
    indexed: int
    elapsed: float

    def line(self) -> str:
        """One line for a person."""
        text = (f"received {self.received}/{self.total}, dropped {self.dropped}, analysed {self.analysed}")
        return text + (f", indexed {self.indexed}" if self.indexed >= 0 else "")


def subsample_levels(scan_shape: tuple[int, int]) -> np.ndarray:
    """Order of indexing when behind, per position (flat): 0 on every 4th row and column, 1 on every 2nd, else 2."""
    rows, cols = np.indices(scan_shape)
    level = np.full(scan_shape, 2, np.int8)
    level[(rows % 2 == 0) & (cols % 2 == 0)] = 1
    level[(rows % 4 == 0) & (cols % 4 == 0)] = 0
    return level.ravel()


def scan_dataset(frames, scan_shape: tuple[int, int], sig_shape: tuple[int, int], name: str,
                 calibration: Optional[dict]) -> Dataset:
    """The live scan as a calibrated 4D Dataset on ``frames`` (the spool), with the user's calibration."""
    from ..calibration import apply_calibration

    ny, nx = scan_shape
    axes = (Axis("scan_y", ny, navigate=True), Axis("scan_x", nx, navigate=True),
            Axis("ky", sig_shape[0]), Axis("kx", sig_shape[1]))
    ds = Dataset(frames.reshape(ny, nx, *sig_shape), axes, kind="4dstem", name=name, source=name)
    return apply_calibration(ds, **calibration) if calibration else ds


class LiveSession:
    """One live scan from a source: receiving, recording, virtual detectors and orientation mapping.

    Parameters
    ----------
    source : MerlinSource or ArraySource
        Where frames come from (:mod:`stemlab.live.sources`).
    scan_shape : (int, int)
        Scan positions (rows, columns); frames arrive row by row.
    detectors : dict, optional
        ``{name: Disk | Annulus | Rectangle | spec}`` in detector pixels, as drawn in the explorer, or as
        text (``'disk:c,c,8'``, :func:`stemlab.diffraction.parse_detector`; 'c' the pattern centre);
        default: a bright-field disk and an annular dark field around the pattern centre.
    phases : list of str or Phase, optional
        Phases to index (:func:`stemlab.index_orientations`); none: no orientation maps.
    record : path, optional
        ``.zarr`` store or Merlin ``.mib`` file (+ ``.hdr``) that receives every frame.
    calibration : dict, optional
        :func:`stemlab.calibration.apply_calibration` options (``scan_step``, ``calibration``,
        ``voltage``, ``scan_rotation``, ...): the stream itself carries none.
    orientation : dict, optional
        Further :func:`stemlab.index_orientations` settings (``resolution``, ``s_width``, ...).
    progress : callable, optional
        ``progress(received, total, message)``.
    cancel : CancelToken, optional
        Stops the scan within a second; :meth:`run` then raises :class:`stemlab.errors.Cancelled`.
    on_update : callable, optional
        ``on_update(session)`` about 10 times a second from the calling thread (read
        :meth:`snapshot` and :attr:`status` there).
    """

    def __init__(self, source, scan_shape, *, detectors: Optional[dict] = None, phases=None, record=None,
                 calibration: Optional[dict] = None, orientation: Optional[dict] = None,
                 progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
                 on_update: Optional[Callable[["LiveSession"], None]] = None):
        self.source = source
        self.scan_shape = _scan_shape(scan_shape)
        self.n_frames = self.scan_shape[0] * self.scan_shape[1]
        self.detectors_given = detectors
        self.phases = list(phases or [])
        if record is not None:
            from .recorder import check_record_path

            record = check_record_path(record)  # refused before the detector is armed
        self.record = record
        self.calibration = dict(calibration or {})
        self.orientation_settings = dict(orientation or {})
        self.progress, self.cancel, self.on_update = progress, cancel or CancelToken(), on_update
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._receiving = True
        self.error: Optional[LiveError] = None
        self.info: Optional[SourceInfo] = None
        self.spool = None
        self.dataset: Optional[Dataset] = None
        self.recorder = None
        self.recording = None
        self.detectors: dict = {}
        self._kernel = None
        self._virtual: dict = {}
        self._orient: dict = {}
        self.pending = np.ones(self.n_frames, bool)
        self.dropped = 0
        self.analysed = 0
        self.indexed = 0
        self._t0 = time.perf_counter()
        self._threads: list[threading.Thread] = []
        self.timings: dict[str, float] = {}  # seconds after arming when receiving / recording / analyses ended
        self._worker_error: Optional[BaseException] = None

    # -- status ------------------------------------------------------------------------------
    @property
    def status(self) -> LiveProgress:
        """The counts now (thread-safe enough for display)."""
        received = self.spool.received if self.spool is not None else 0
        recorded = self.recorder.frames_written if self.recorder is not None else 0
        return LiveProgress(self.n_frames, received, self.dropped, min(recorded, received), self.analysed,
                            self.indexed if self.phases else -1, time.perf_counter() - self._t0)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the maps so far, on the scan shape: one image per detector, 'CoM y' and 'CoM x'
        (detector pixels; NaN where not received), 'mean pattern', and with phases 'phase'
        (0 = pending, else 1 + phase index), 'phase reliability', 'orientation reliability',
        'correlation' and 'pending' (1 where not yet indexed)."""
        from ..diffraction.virtual import images_from_projections

        out: dict[str, np.ndarray] = {}
        if self._kernel is not None:
            v = self._virtual
            images = images_from_projections(v["proj"].copy(), list(self.detectors), self.info.sig_shape,
                                             sum_pattern=v["sum"].copy(), count=max(1, self.analysed))
            for name in self.detectors:
                out[name] = images[name].reshape(self.scan_shape)
            out["CoM y"] = images["com_y"].reshape(self.scan_shape)
            out["CoM x"] = images["com_x"].reshape(self.scan_shape)
            out["mean pattern"] = images["mean_pattern"].reshape(self.info.sig_shape)
        if self.phases:
            pending = self.pending.reshape(self.scan_shape)
            arrays = self._orient.get("arrays")
            if arrays is not None:
                out["phase"] = np.where(pending, 0, arrays["phase"].reshape(self.scan_shape).astype(np.int32) + 1)
                for name, key in (("phase reliability", "phase_reliability"),
                                  ("orientation reliability", "orientation_reliability"), ("correlation", "score")):
                    out[name] = np.where(pending, np.nan, arrays[key].reshape(self.scan_shape).astype(np.float32))
            out["pending"] = pending.astype(np.uint8)
        return out

    # -- the scan ------------------------------------------------------------------------------
    def run(self):
        """Arm the source, receive the whole scan (or until it stops) and return the LiveResult.

        Raises LiveError when the scan cannot start (unreachable detector, wrong port, frame count),
        Cancelled on Cancel. A scan that ends early returns a result with ``error`` set.
        """
        if self.phases:
            from ..orientation import matching  # noqa: F401 - torch loads (seconds) before the detector runs
        from ..backend.streaming import single_threaded_blas

        # BLAS (the virtual detectors' matmuls) single-threaded: OpenBLAS's idle worker otherwise spins a
        # whole core while the detector streams (4.7 CPU-s for a 4.5 s scan at 250 frames/s; 0.7 without)
        with single_threaded_blas(), self.source:
            self.info = self.source.open(self.n_frames)
            self._t0 = time.perf_counter()
            self._start(self._receive, "receiver")
            self._start(self._run_recorder, "recorder")
            self._start(self._run_virtual, "virtual detectors")
            if self.phases:
                self._start(self._run_orientation, "orientation")
            self._watch()
        if self.cancel.cancelled:
            for thread in self._threads[:2]:
                thread.join(2.0)  # the receiver stops, the recorder closes the recording
            self._cleanup()
            raise Cancelled("Live scan cancelled; the frames received so far were recorded"
                            if self.recording else "Live scan cancelled; no result was kept.")
        try:
            if self._worker_error is not None:
                raise self._worker_error
            return self._result()
        finally:
            self._cleanup()

    def _start(self, target, name: str) -> None:
        def guarded():
            try:
                target()
            except Cancelled:
                pass
            except BaseException as error:  # noqa: BLE001 - handed to the calling thread
                self._worker_error = self._worker_error or error
                self._stop.set()
            finally:
                with self._cond:
                    self._cond.notify_all()

        thread = threading.Thread(target=guarded, name=f"stemlab live {name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch(self) -> None:
        while any(t.is_alive() for t in self._threads):
            if self.cancel.cancelled or self._stop.is_set():
                self._stop.set()
                self.source.close()
                with self._cond:
                    self._cond.notify_all()
                deadline = time.perf_counter() + 0.8
                for t in self._threads:
                    t.join(max(0.0, deadline - time.perf_counter()))
                if self.cancel.cancelled:
                    return
            else:
                for t in self._threads:
                    t.join(UPDATE_S / len(self._threads))
            self._report()
        self._report()

    def _report(self) -> None:
        status = self.status
        if self.progress is not None:
            self.progress(status.received, status.total, status.line())
        if self.on_update is not None:
            self.on_update(self)

    # -- receiver and recorder -----------------------------------------------------------------
    def _receive(self) -> None:
        try:
            for stack in self.source.stacks():
                if self._stop.is_set():
                    break
                if self.spool is None:
                    self._allocate(stack.dtype)
                before = self.spool.received
                self.spool.append(stack)
                self.dropped += len(stack) - (self.spool.received - before)
                with self._cond:
                    self._cond.notify_all()
        except LiveError as error:
            self.error = error
        except Exception as error:  # noqa: BLE001 - any receiver failure ends the scan cleanly
            self.error = LiveError(f"Receiving from {getattr(self.source, 'url', self.source.detector)} stopped: "
                                   f"{type(error).__name__}: {error}; the frames received so far are kept.")
        finally:
            with self._cond:
                self._receiving = False
                self._cond.notify_all()
            received = self.spool.received if self.spool is not None else 0
            if self.error is None and received < self.n_frames and not self._stop.is_set():
                self.error = LiveError(f"The scan ended after {received} of {self.n_frames} frames; the frames "
                                       "received so far are kept.")
            self._mark("received")

    def _run_recorder(self) -> None:
        """Copy completed scan rows into the recording while frames arrive; finish it when receiving ends
        (also after Cancel or a dropped connection: every received frame is kept)."""
        if self.record is None:
            return
        while True:
            rows = self.recorder.rows_written if self.recorder is not None else 0
            self._wait_for(self._received, rows * self.scan_shape[1] + self.scan_shape[1] - 1)
            if self.recorder is not None:
                self.recorder.write_rows(self.spool)
            if not self._receiving:
                break
            if self._stop.is_set():
                time.sleep(0.01)  # the receiver is stopping
        if self.recorder is not None and self.spool.received:
            self.recording = self.recorder.finish(self.spool, self._record_info())
            self._mark("recorded")

    def _allocate(self, dtype) -> None:
        from .recorder import FrameSpool, make_recorder

        name = getattr(self.source, "url", self.source.detector)
        recorder = None
        if self.record is not None:  # made first: a zarr recorder's chunk files can be the spool itself
            shape = (self.n_frames, *self.info.sig_shape)
            recorder = make_recorder(self.record, scan_dataset(np.broadcast_to(np.zeros((), dtype), shape),
                                                               self.scan_shape, self.info.sig_shape, name,
                                                               self.calibration))
        segments = getattr(recorder, "spool_segments", lambda: None)()
        try:
            self.spool = FrameSpool(self.n_frames, self.info.sig_shape, dtype, segments)
        except OSError:  # chunk files that cannot be mapped (e.g. a filesystem without shared maps): copy rows
            if segments is None:
                raise
            recorder.direct = False
            self.spool = FrameSpool(self.n_frames, self.info.sig_shape, dtype)
        self.dataset = scan_dataset(self.spool.frames, self.scan_shape, self.info.sig_shape, name, self.calibration)
        self.recorder = recorder  # the recorder thread starts writing once it is set

    def _record_info(self) -> dict:
        return {"frames_received": int(self.spool.received), "frames_expected": self.n_frames,
                "detector": str(self.dataset.name), "complete": self.spool.received == self.n_frames}

    def _wait_for(self, available: Callable[[], int], done: int) -> int:
        """Block until more than ``done`` frames are available or receiving ended; returns what is available."""
        with self._cond:
            while not self._stop.is_set():
                have = available()
                if have > done or not self._receiving:
                    return have
                self._cond.wait(0.2)
        return done

    # -- analyses ------------------------------------------------------------------------------
    def _run_virtual(self) -> None:
        from ..diffraction.virtual import VirtualKernel, _mask_of, named_detectors

        self._wait_for(self._received, 0)
        if self.spool is None:
            return
        sig = self.info.sig_shape
        self.detectors = parsed_detectors(named_detectors(self.detectors_given), sig) or default_detectors(sig)
        masks = [_mask_of(d, sig, 4) for d in self.detectors.values()]
        k = len(self.detectors)
        self._virtual = {"proj": np.full((self.n_frames, k + 3), np.nan, np.float32),
                         "sum": np.zeros(sig, np.float64), "max": None}
        self._kernel = VirtualKernel(masks, sig, com=True, patterns=True)
        done = 0
        while not self._stop.is_set():
            self._wait_for(self._received, done)
            have = self._wait_for_chunk(done, VIRTUAL_GATHER, patience=UPDATE_S)
            if have <= done:
                break
            stop = min(have, done + VIRTUAL_BLOCK)
            out = self._kernel(self.spool.frames[done:stop])
            v = self._virtual
            v["proj"][done:stop] = out["proj"]
            v["sum"] += out["sum_pattern"]
            v["max"] = out["max_pattern"] if v["max"] is None else np.maximum(v["max"], out["max_pattern"])
            done = self.analysed = stop
        self._mark("analysed")

    def _mark(self, event: str) -> None:
        self.timings[event] = time.perf_counter() - self._t0

    def _run_orientation(self) -> None:
        from ..orientation.pipeline import _cpu_workers

        # one chunk per core and call: index_orientations then runs them on single-threaded workers, as
        # offline; one chunk would run on torch's multi-threaded ops, which stall (OpenMP barriers)
        # whenever the receiver or another process takes a core
        chunk = ORIENT_CHUNK * _cpu_workers()
        level = subsample_levels(self.scan_shape)
        taken = np.zeros(self.n_frames, bool)
        n_taken = 0
        while not self._stop.is_set():
            self._wait_for(self._received, n_taken)
            self._wait_for_chunk(n_taken, chunk)
            waiting = np.flatnonzero(~taken[:self._received()])
            if waiting.size == 0:
                if not self._receiving:
                    break
                continue
            chosen = np.sort(waiting[np.lexsort((waiting, level[waiting]))][:chunk])
            taken[chosen] = True
            n_taken += chosen.size
            self._index(chosen)
        self._mark("indexed")

    def _received(self) -> int:
        return self.spool.received if self.spool is not None else 0

    def _wait_for_chunk(self, n_taken: int, chunk: int, patience: float = 0.5) -> int:
        """While the detector runs, wait up to ``patience`` s for a whole chunk of waiting positions; returns
        the frames received."""
        deadline = time.perf_counter() + patience
        with self._cond:
            while (self._receiving and not self._stop.is_set() and self._received() - n_taken < chunk
                   and time.perf_counter() < deadline):
                self._cond.wait(0.05)
            return self._received()

    def _index(self, positions: np.ndarray) -> None:
        from ..orientation import index_orientations

        ds = self.dataset
        frames = np.asarray(self.spool.frames[positions])
        chunk = ds.with_data(frames, axes=(Axis("frame", len(positions), navigate=True),) + ds.sig_axes[-2:],
                             kind="stack")
        result = index_orientations(chunk, self.phases, library=self._orient.get("library"), cancel=self.cancel,
                                    **self.orientation_settings)
        if "arrays" not in self._orient:
            self._orient.update(library=result.library, settings=result.settings, voltage_kv=result.voltage_kv,
                                arrays={k: np.zeros((self.n_frames,) + v.shape[1:], v.dtype)
                                        for k, v in result.arrays.items()})
        for key, value in result.arrays.items():
            self._orient["arrays"][key][positions] = value
        self.pending[positions] = False
        self.indexed += len(positions)

    # -- the result ----------------------------------------------------------------------------
    def _result(self):
        from ..diffraction.analysis import explore_results
        from ..diffraction.virtual import images_from_projections
        from ..orientation.results import OrientationResult
        from .result import LiveResult

        if self.spool is None or self.spool.received == 0:
            raise self.error or LiveError("The detector sent no frames.")
        ds = self.dataset
        v = self._virtual
        raw = images_from_projections(v["proj"].reshape(*self.scan_shape, -1), list(self.detectors),
                                      self.info.sig_shape, sum_pattern=v["sum"], max_pattern=v["max"],
                                      count=self.analysed)
        explored = explore_results(ds, self.detectors, raw)
        orientation = None
        if self.phases and "arrays" in self._orient:
            o = self._orient
            arrays = {k: a.reshape(self.scan_shape + a.shape[1:]) for k, a in o["arrays"].items()}
            orientation = OrientationResult(dataset_axes=tuple(replace(a, navigate=True) for a in ds.nav_axes),
                                            library=o["library"], settings=o["settings"], arrays=arrays,
                                            voltage_kv=o["voltage_kv"], name=ds.name,
                                            metadata=dict(ds.scan_geometry))
        return LiveResult(explore=explored, orientation=orientation, pending=self.pending.reshape(self.scan_shape),
                          status=self.status, scan_axes=ds.nav_axes, metadata={**ds.metadata, **ds.scan_geometry},
                          recording=self.recording, error=str(self.error) if self.error else None,
                          timings=dict(self.timings))

    def _cleanup(self) -> None:
        if self.recorder is not None and self.recording is None:
            self.recorder.discard()
        if self.spool is not None:
            self.spool.close()


def parsed_detectors(detectors: dict, sig_shape: tuple[int, int]) -> dict:
    """Detectors given as text (``disk:CY,CX,R``, ... as ``stemlab virtual --detector`` takes them; 'c' is the
    pattern centre) turned into detector objects; others pass through."""
    from ..diffraction import parse_detector

    centre = ((sig_shape[0] - 1) / 2, (sig_shape[1] - 1) / 2)
    return {name: parse_detector(d, centre) if isinstance(d, str) else d for name, d in detectors.items()}


def default_detectors(sig_shape: tuple[int, int]) -> dict:
    """A bright-field disk (radius 5 % of the pattern) and an annular dark field (12-45 %) around the centre,
    as :func:`stemlab.demo` draws them."""
    from ..diffraction import Annulus, Disk

    size = min(sig_shape)
    cy, cx = (sig_shape[0] - 1) / 2, (sig_shape[1] - 1) / 2
    return {"BF": Disk(cy, cx, size * 0.05), "ADF": Annulus(cy, cx, size * 0.12, size * 0.45)}


def _scan_shape(value) -> tuple[int, int]:
    try:
        shape = tuple(int(n) for n in value)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise ParameterError(f"scan shape {value!r}: give the scan's rows and columns, e.g. (256, 256) "
                             "(--scan 256,256).")
    return shape


def acquire(source: Any, scan, **options):
    """Receive, record and analyse one live scan; the maps grow while the detector runs.

    Parameters
    ----------
    source : str or source
        A detector URL (``merlin://HOST[:DATA_PORT][?api_port=N]``) or a source object
        (:mod:`stemlab.live.sources`).
    scan : (int, int)
        Scan shape, rows x columns.
    **options
        :class:`LiveSession` options: ``detectors``, ``phases``, ``record``, ``calibration``,
        ``orientation``, ``progress``, ``cancel``, ``on_update``.

    Returns
    -------
    LiveResult
        Explorer images (detectors, CoM, DPC/iDPC, mean and max pattern), orientation/phase/reliability
        maps with the ``pending`` mask, the counts and the recording's path; ``error`` names the cause
        when the scan ended early.

    Examples
    --------
    >>> import stemlab.live
    >>> result = stemlab.live.acquire("merlin://127.0.0.1:6342", (64, 64), phases=["Al"], record="scan.zarr",
    ...                               calibration={"calibration": "0.0127/angstrom"})  # doctest: +SKIP
    """
    from .sources import parse_source

    if isinstance(source, str):
        source = parse_source(source)
    return LiveSession(source, scan, **options).run()
