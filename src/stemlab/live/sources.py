"""Where live frames come from: detector sources behind one small interface.

A source is a context manager. ``open(n_frames)`` connects, arms the detector and returns a
:class:`SourceInfo` (pattern shape, dtype, frames announced); ``stacks()`` yields numpy stacks
``(n, ky, kx)`` in scan order until the acquisition ends (each valid until the next is asked for);
``close()`` may be called from another thread and makes ``stacks()`` return. The live session
(:mod:`stemlab.live.session`) only sees this interface, so a DECTRIS SIMPLON or ASI Timepix source
is one more class here (LiberTEM-live has receivers for both) and the analyses stay untouched.

:class:`MerlinSource` receives a Quantum Detectors Merlin/Medipix over its TCP data port with
LiberTEM-live's receiver (``libertem-qd-mpx``, through
``libertem_live``'s Merlin connection) and arms it over the control port. Frames are turned
upside down on arrival (row 0 last), the orientation rosettasciio's ``.mib`` reader gives, so a
live map equals the offline map of the same ``.mib`` file.

The receiver hands frames over in stacks, and a stack only once the frame after it arrives, so a map
lags the detector by one stack. :func:`stack_frames` sizes the stack from the time between frames
(given, or read from the detector's control port): at most 0.1 s of the scan and at most 16 frames,
one frame when the time is unknown.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..errors import StemlabError

MERLIN_DATA_PORT = 6342
MERLIN_API_PORT = 6341
URL_FORM = "merlin://HOST[:DATA_PORT][?api_port=N]"
URL_EXAMPLE = "merlin://127.0.0.1:6342?api_port=6341"
STACK_SECONDS = 0.1  # a stack holds at most this much of the scan (the maps' lag, plus one frame)
MAX_STACK = 16  # frames per stack at high frame rates (fewer, larger hand-overs)
ARM_TIMEOUT_S = 30.0  # default wait for the first frame after arming: a reachable detector may take seconds
BUFFERED_FRAMES = 2000 * 16  # frames the receiver's shared memory holds (its default: 2000 slots of 16)


class LiveError(StemlabError):
    """A live acquisition could not start or ended early; the message names the cause and the fix."""


@dataclass(frozen=True)
class SourceInfo:
    """What a source announces once armed: pattern shape (ky, kx), dtype (None: known from the first
    frames), frames to come (None: unknown)."""

    sig_shape: tuple[int, int]
    dtype: np.dtype | None
    n_frames: int | None
    detector: str


def parse_source(url: str, **options):
    """The source a detector URL names (``merlin://HOST[:DATA_PORT][?api_port=N]``).

    Parameters
    ----------
    url : str
        Detector address; the data port defaults to 6342 and the control (api) port to 6341.
    **options
        Passed to the source class (e.g. ``arm_timeout`` seconds).

    Returns
    -------
    MerlinSource
    """
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise LiveError(f"Detector {text!r}: {error}; write it as {URL_FORM}, e.g. {URL_EXAMPLE}.") from None
    if parts.scheme.lower() != "merlin":
        scheme = parts.scheme or "(none)"
        raise LiveError(f"Detector {text!r}: unknown detector type {scheme!r}; stemlab live receives Merlin/Medipix "
                        f"detectors: write {URL_FORM}, e.g. {URL_EXAMPLE}.")
    if not parts.hostname:
        raise LiveError(f"Detector {text!r} names no host; write {URL_FORM}, e.g. {URL_EXAMPLE}.")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"api_port"})
    if unknown:
        raise LiveError(f"Detector {text!r}: unknown setting {unknown[0]!r}; the only one is api_port "
                        f"(the control port, default {MERLIN_API_PORT}): {URL_EXAMPLE}.")
    api_port = MERLIN_API_PORT
    if "api_port" in query:
        value = query["api_port"][-1]
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise LiveError(f"Detector {text!r}: api_port={value!r} is not a port number (1-65535); "
                            f"the Merlin control port is {MERLIN_API_PORT} by default.")
        api_port = int(value)
    return MerlinSource(parts.hostname, port or MERLIN_DATA_PORT, api_port, **options)


def stack_frames(frame_time: float | None) -> int:
    """Frames per receiver stack for a detector sending one frame every ``frame_time`` seconds.

    The receiver hands a stack over when the frame after it arrives, so the first frame of a stack
    waits ``n * frame_time``: ``n`` is the most frames in :data:`STACK_SECONDS` (0.1 s), between 1 and
    :data:`MAX_STACK` (16). Unknown (None or not positive): 1, the shortest lag at any rate.

    Parameters
    ----------
    frame_time : float or None
        Seconds between frames (the dwell time of the scan).

    Returns
    -------
    int
    """
    if not frame_time or frame_time <= 0:
        return 1
    return int(min(MAX_STACK, max(1, STACK_SECONDS / frame_time + 1e-9)))


def _check_reachable(host: str, port: int, role: str, timeout: float) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise LiveError(
            f"Cannot reach the Merlin {role} port {host}:{port} ({reason}): check that the Merlin software runs "
            f"and the host and port are right (data port {MERLIN_DATA_PORT} and control port {MERLIN_API_PORT} "
            f"by default; {URL_FORM}).") from None


class MerlinSource:
    """A Merlin/Medipix detector on TCP: LiberTEM-live's receiver on the data port, arming on the control port.

    Parameters
    ----------
    host : str
        Host of the Merlin software (data and control port).
    data_port, api_port : int
        TCP data port (default 6342) and control port (default 6341).
    arm : bool
        Send ``STARTACQUISITION`` and ``SOFTTRIGGER`` on the control port (False: something else, e.g. the
        scan generator, arms and triggers).
    arm_timeout : float
        Seconds to wait for the acquisition header after arming.
    stack_size : int, optional
        Frames per stack handed over by the receiver (the maps lag the detector by one stack); default:
        :func:`stack_frames` of ``frame_time``.
    frame_time : float, optional
        Seconds between frames (the scan's dwell time); default: the detector's ACQUISITIONPERIOD or
        ACQUISITIONTIME (the larger; ms on the control port), unknown when it answers neither.

    Attributes
    ----------
    stack : int
        Frames per stack chosen when the source was opened.
    """

    detector = "Merlin"

    def __init__(self, host: str = "127.0.0.1", data_port: int = MERLIN_DATA_PORT, api_port: int = MERLIN_API_PORT,
                 *, arm: bool = True, arm_timeout: float = ARM_TIMEOUT_S, stack_size: int | None = None,
                 frame_time: float | None = None):
        self.host, self.data_port, self.api_port = host, int(data_port), int(api_port)
        self.arm, self.arm_timeout = arm, float(arm_timeout)
        self.stack_size, self.frame_time = stack_size, frame_time
        self.stack: int | None = None
        self._conn = None
        self._client = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._receiving = False
        self.info: SourceInfo | None = None

    @property
    def url(self) -> str:
        return f"merlin://{self.host}:{self.data_port}?api_port={self.api_port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self, n_frames: int | None = None) -> SourceInfo:
        """Connect, arm and read the acquisition header; check it announces ``n_frames`` frames."""
        try:
            import libertem_live  # noqa: F401
        except ImportError:
            raise LiveError("Live acquisition needs LiberTEM-live: pip install 'napari-stemlab[live]'.") from None
        _check_reachable(self.host, self.api_port, "control (api_port)", 2.0)
        _check_reachable(self.host, self.data_port, "data", 2.0)  # the receiver would retry a refused port forever
        with MerlinControl(self.host, self.api_port) as control:
            frame_bytes = control.frame_bytes()
            frame_time = self.frame_time or control.frame_time()
        self.stack = int(self.stack_size or stack_frames(frame_time))
        self._conn = _merlin_connection(self.host, self.data_port, self.api_port, self.stack, frame_bytes)
        header = self._wait_for_header()
        announced = int(header.frames_in_acquisition())
        sig_shape = tuple(int(n) for n in header.detector_shape())
        self._client = _cam_client(self._conn)
        self.info = SourceInfo(sig_shape, None, announced or None, self.detector)
        if n_frames is not None and announced and announced != n_frames:
            self.close()
            raise LiveError(f"The scan shape gives {n_frames} frames but the Merlin at {self.url} announces "
                            f"{announced} frames for this acquisition: give --scan NY,NX with NY x NX = {announced}, "
                            "or set the number of frames on the detector to the scan's.")
        return self.info

    def _wait_for_header(self):
        data = self._conn.get_data_socket()
        box: dict = {}

        def wait():
            try:
                box["header"] = data.wait_for_arm(timeout=self.arm_timeout)
            except Exception as error:  # noqa: BLE001 - reported below
                box["error"] = error

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        if self.arm:
            time.sleep(0.2)  # the receiver is connected before the detector starts sending
            with self._conn.control() as control:
                control.cmd("STARTACQUISITION")
                control.cmd("SOFTTRIGGER")
        waiter.join(self.arm_timeout + 1.0)
        header = box.get("header")
        if header is None:
            self.close()
            cause = f" ({box['error']})" if "error" in box else ""
            raise LiveError(f"No acquisition started on the Merlin at {self.url} within {self.arm_timeout:g} s"
                            f"{cause}: check that the data port is right and the detector is not busy"
                            + ("" if self.arm else ", and arm it (or let stemlab arm it)") + ".")
        return header

    def stacks(self) -> Iterator[np.ndarray]:
        """Frame stacks ``(n, ky, kx)`` as they arrive (upside down like rosettasciio's reader), until the end.

        A stack is a view of the receiver's decoding buffer, valid until the next stack is asked for: copy
        what you keep (the session's spool does).
        Raises LiveError naming the cause when the connection drops before the announced frames arrived.
        The receiver is used from this generator's thread only (it cannot be shared between threads):
        :meth:`close` from another thread takes effect when the next stack (or the end) arrives.
        """
        data = self._conn.get_data_socket()
        received = 0
        buffer = None  # decoded frames, reused for every stack (a fresh array costs its page faults every time)
        self._receiving = True
        try:
            while not self._closed.is_set():
                try:
                    stack = data.get_next_stack(max_size=self.stack)
                except Exception as error:  # noqa: BLE001 - the receiver reports a dropped connection this way
                    if self._closed.is_set():
                        return
                    raise LiveError(f"The connection to the Merlin at {self.url} dropped after {received} frames "
                                    f"({error}); the frames received so far are kept.") from None
                if stack is None or len(stack) == 0:
                    break
                shape, dtype = (len(stack), *stack.get_shape()), np.dtype(stack.get_dtype_string())
                if buffer is None or len(buffer) < shape[0] or buffer.shape[1:] != shape[1:] or buffer.dtype != dtype:
                    buffer = np.empty((max(shape[0], self.stack), *shape[1:]), dtype)
                frames = buffer[:shape[0]]
                self._client.decode_range_into_buffer(stack, frames, 0, len(stack))
                self._client.done(stack)
                received += len(frames)
                yield frames[:, ::-1, :]
        finally:
            self._receiving = False
            self._disconnect()
        announced = self.info.n_frames if self.info else None
        if announced and received < announced and not self._closed.is_set():
            raise LiveError(f"The Merlin at {self.url} stopped sending after {received} of {announced} frames "
                            "(connection closed or scan aborted); the frames received so far are kept.")

    def close(self) -> None:
        """Stop receiving and disconnect (safe from any thread, repeatable; see :meth:`stacks`)."""
        self._closed.set()
        if not self._receiving:
            self._disconnect()

    def _disconnect(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_BYTES = {1: 1, 6: 1, 12: 2, 24: 4}  # Merlin counter depth -> bytes per pixel on the wire (at most)


def _merlin_connection(host: str, data_port: int, api_port: int, stack: int, frame_bytes: int | None):
    """LiberTEM-live's Merlin connection, its receiver's shared-memory slots holding ``stack`` frames.

    ``MerlinDetectorConnection`` sizes the receiver (``libertem_qd_mpx.QdConnection``) for 16 of the largest
    frames (256 x 256 x 2 bytes), and the receiver fills a slot by bytes: 256 frames of 64 x 64 then arrived all
    at once at the end of a 2.6 s scan (measured with the simulator). Sized by the frame's payload (the slot holds
    no headers; ``frame_bytes`` from the control port, as ``read_sig_shape`` reads it), a slot holds ``stack``
    frames (more when the detector sends fewer bytes than its counter depth suggests, e.g. raw 1-bit frames) and
    is handed over when the next frame arrives. The receiver buffers :data:`BUFFERED_FRAMES` frames.
    """
    import libertem_qd_mpx
    from libertem_live.detectors.merlin.connection import MerlinDetectorConnection

    class SizedMerlinConnection(MerlinDetectorConnection):
        def connect(self):
            if self._data_socket is not None:
                return self._data_socket
            self._shm_handle_path = self._make_socket_path()
            self._data_socket = libertem_qd_mpx.QdConnection(
                data_host=self._data_host, data_port=self._data_port, frame_stack_size=stack,
                shm_handle_path=self._shm_handle_path, drain=self._drain, recovery_strategy=self._recovery_strategy,
                huge=self._huge_pages, bytes_per_frame=frame_bytes, num_slots=-(-BUFFERED_FRAMES // stack))
            self._data_socket.start_passive()
            return self._data_socket

    return SizedMerlinConnection(api_host=host, api_port=api_port, data_host=host, data_port=data_port)


class MerlinControl:
    """The Merlin control port (LiberTEM-live's ``MerlinControl``), asked for the frame size and frame time."""

    def __init__(self, host: str, port: int):
        from libertem_live.detectors.merlin.control import MerlinControl as Control

        self._control = Control(host=host, port=port)

    def __enter__(self):
        self._control.__enter__()
        return self

    def __exit__(self, *exc):
        self._control.__exit__(*exc)

    def frame_bytes(self) -> int | None:
        """Bytes of one frame's pixels, from IMAGEX, IMAGEY and COUNTERDEPTH (None: not answered)."""
        try:
            values = [int(self._control.get(name)) for name in ("IMAGEX", "IMAGEY", "COUNTERDEPTH")]
        except (ValueError, TypeError):
            return None
        width, height, depth = values
        return width * height * _BYTES.get(depth, 4)

    def frame_time(self) -> float | None:
        """Seconds between frames: the larger of ACQUISITIONPERIOD and ACQUISITIONTIME (ms; None: neither answered)."""
        times = []
        for name in ("ACQUISITIONPERIOD", "ACQUISITIONTIME"):
            try:
                times.append(float(self._control.get(name)) / 1000.0)
            except Exception:  # noqa: BLE001 - not a number, or a detector that does not know the command
                continue
        return max(times) if times and max(times) > 0 else None


def _cam_client(conn):
    from libertem_qd_mpx import CamClient

    return CamClient(conn.get_data_socket().get_socket_path())


class ArraySource:
    """Frames from an array in memory, sent in stacks: a stand-in detector for tests and demonstrations.

    Parameters
    ----------
    frames : array (n, ky, kx) or nav_shape + (ky, kx)
        The frames, in scan order.
    stack_size : int
        Frames per stack.
    delay : float
        Seconds between stacks (a slow detector).
    """

    detector = "array"

    def __init__(self, frames, *, stack_size: int = 16, delay: float = 0.0):
        arr = np.asarray(frames)
        self.frames = arr.reshape(-1, *arr.shape[-2:])
        self.stack_size, self.delay = int(stack_size), float(delay)
        self._closed = threading.Event()
        self.info = SourceInfo(tuple(self.frames.shape[1:]), self.frames.dtype, len(self.frames), self.detector)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self, n_frames: int | None = None) -> SourceInfo:
        if n_frames is not None and n_frames != len(self.frames):
            raise LiveError(f"The scan shape gives {n_frames} frames but the source holds {len(self.frames)}: "
                            f"give a scan shape with {len(self.frames)} positions.")
        return self.info

    def stacks(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self.frames), self.stack_size):
            if self._closed.wait(self.delay) if self.delay else self._closed.is_set():
                return
            yield self.frames[start:start + self.stack_size]

    def close(self) -> None:
        self._closed.set()
