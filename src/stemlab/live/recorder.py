"""Recording a live scan: every frame on disk as it arrives, then a chunked zarr store or a Merlin ``.mib``.

Frames first land in a spool (:class:`FrameSpool`, memory-mapped files the page cache absorbs), in
scan order, where the analyses can read any position again. :class:`ZarrRecorder` writes a zarr
store the way :func:`stemlab.io.save_dataset` writes one (group with a ``data`` array and the
calibration record), so ``stemlab.load`` opens the recording as the same calibrated dataset; its
uncompressed chunks (runs of a scan row) are the spool's own files where it can (zarr 2 on Linux,
frames of whole memory pages: 256 x 256 of 8, 16 or 32 bits), else it copies every completed scan
row from the spool. :class:`MibRecorder` appends every received frame to a ``.mib`` file in the
Merlin layout (:mod:`stemlab.io.mib`) and writes its ``.hdr`` at the end; a ``.mib`` holds no
calibration, so ``stemlab.load(path, calibration=..., scan_step=...)`` gives it back. Both are
written under hidden temporary names and renamed when the scan ends, also when it ended early (the
zarr store's ``stemlab_live`` attributes then say how many frames arrived, positions never received
hold 0; the ``.mib`` holds the frames received, its last row completed with zero frames, and its
``.hdr`` says how many arrived).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..dataset import Dataset

CHUNK_BYTES = 16 * 2**20  # zarr chunk: a run of frames of one scan row, ~16 MB


class FrameSpool:
    """Every frame of a scan in scan order, in memory-mapped files the page cache absorbs.

    By default one file in a temporary folder. ``segments`` (what :meth:`ZarrRecorder.spool_segments` gives)
    instead lays the scan over the recording's own chunk files, mapped one after the other into one array
    (Linux): every frame then reaches the page cache once, and the recording needs no copy of it.

    Stacks are appended with ``write`` on the files and read back through the memory map (the same page cache):
    writing into the map instead took twice the CPU (a page fault for every 4 KiB page; 113 against 55 us for
    a 256 x 256 uint16 frame, measured on 2 cores).

    Parameters
    ----------
    n_frames : int
        Frames of the whole scan.
    sig_shape : tuple of int
        Pattern shape (ky, kx).
    dtype : numpy dtype
        The detector's dtype (frames are stored exactly as received).
    segments : list of (path, n_frames, file_bytes), optional
        Files that hold the scan's frames in order, each its ``n_frames`` frames from its start, in a file of
        ``file_bytes`` bytes; frame bytes must be a multiple of the page size.
    """

    def __init__(self, n_frames: int, sig_shape: tuple[int, int], dtype, segments=None):
        self.folder = Path(tempfile.mkdtemp(prefix="stemlab-live-"))
        dtype = np.dtype(dtype)
        frame_bytes = int(np.prod(sig_shape)) * dtype.itemsize
        if segments is None:
            path = self.folder / "frames.raw"
            self.frames = np.memmap(path, dtype=dtype, mode="w+", shape=(n_frames, *sig_shape))
            segments = [(path, n_frames, n_frames * frame_bytes)]
        else:
            try:
                self.frames = _mapped_frames(segments, n_frames, sig_shape, dtype)
            except OSError:
                shutil.rmtree(self.folder, ignore_errors=True)
                raise
        self._starts = np.cumsum([0] + [n for _, n, _ in segments])  # first frame of each segment
        self._paths = [path for path, _, _ in segments]
        self._fd, self._segment = None, -1  # the segment file being written
        self._frame_bytes = frame_bytes
        self._staging = None  # a contiguous copy of strided stacks (the receiver's upside-down view), reused
        self.received = 0

    def append(self, stack: np.ndarray) -> int:
        """Store a stack after the frames received so far; returns the new count. Frames beyond the
        scan are refused (a detector sending more than announced)."""
        n = min(len(stack), len(self.frames) - self.received)
        block = stack[:n]
        if n and not block.flags.c_contiguous:
            if self._staging is None or len(self._staging) < n:
                self._staging = np.empty((n, *self.frames.shape[1:]), self.frames.dtype)
            np.copyto(self._staging[:n], block)
            block = self._staging[:n]
        data = memoryview(np.ascontiguousarray(block, self.frames.dtype)).cast("B")
        first = self.received
        while first < self.received + n:
            segment = int(np.searchsorted(self._starts, first, side="right")) - 1
            if segment != self._segment:
                self._close_segment()
                self._fd = os.open(self._paths[segment], os.O_WRONLY | getattr(os, "O_BINARY", 0))
                os.lseek(self._fd, (first - self._starts[segment]) * self._frame_bytes, os.SEEK_SET)
                self._segment = segment
            count = min(self.received + n, self._starts[segment + 1]) - first
            offset = (first - self.received) * self._frame_bytes
            view = data[offset:offset + count * self._frame_bytes]
            while view:
                view = view[os.write(self._fd, view):]
            first += count
        self.received += n
        return self.received

    def _close_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._segment = None, -1

    def close(self) -> None:
        """Release the files (the spool's own folder is deleted; a recording's chunk files stay)."""
        self._close_segment()
        del self.frames
        shutil.rmtree(self.folder, ignore_errors=True)


def _mapped_frames(segments, n_frames: int, sig_shape, dtype) -> np.ndarray:
    """One ``(n_frames, *sig_shape)`` array over the ``segments`` files, mapped back to back (MAP_FIXED) into one
    reserved address range; unmapped when the last view of it goes."""
    import ctypes
    import mmap
    import weakref

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    frame_bytes = int(np.prod(sig_shape)) * dtype.itemsize
    total = n_frames * frame_bytes
    failed = ctypes.c_void_p(-1).value
    base = libc.mmap(None, total, _PROT_NONE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0)
    if base in (None, failed):
        raise OSError(ctypes.get_errno(), "cannot reserve the spool's address range")
    offset = 0
    try:
        for path, count, file_bytes in segments:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                os.ftruncate(fd, file_bytes)
                size = count * frame_bytes
                if libc.mmap(base + offset, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED | _MAP_FIXED,
                             fd, 0) != base + offset:
                    raise OSError(ctypes.get_errno(), f"cannot map {path}")
            finally:
                os.close(fd)
            offset += size
    except BaseException:
        libc.munmap(base, total)
        raise
    buffer = (ctypes.c_char * total).from_address(base)
    weakref.finalize(buffer, libc.munmap, base, total)
    return np.frombuffer(buffer, dtype).reshape(n_frames, *sig_shape)


_PROT_NONE, _MAP_FIXED, _MAP_NORESERVE = 0, 0x10, 0x4000  # Linux mmap constants (not in Python 3.11's mmap module)


RECORD_FORMATS = (".zarr", ".mib")


def check_record_path(path) -> Path:
    """The recording's path, refused (FileFormatError naming the fix) unless it is a ``.zarr`` or ``.mib`` in an
    existing folder."""
    from ..errors import FileFormatError

    path = Path(path)
    if path.suffix.lower() not in RECORD_FORMATS:
        raise FileFormatError(f"--record {path}: recordings are zarr stores or Merlin .mib files; name it e.g. "
                              "scan.zarr or scan.mib.")
    if not path.parent.exists():
        raise FileFormatError(f"--record {path}: folder {path.parent} does not exist; create it first.")
    return path


def _uncompressed_array(group, shape, dtype, chunks):
    """The 'data' array, stored uncompressed: a recorder on 2 cores must not spend them compressing."""
    if hasattr(group, "create_array"):  # zarr 3
        return group.create_array("data", shape=shape, dtype=dtype, chunks=chunks, compressors=None)
    return group.create_dataset("data", shape=shape, dtype=dtype, chunks=chunks, compressor=None)


class ZarrRecorder:
    """Writes the spooled frames of a scan into a chunked zarr store, row by row.

    Parameters
    ----------
    path : path
        The ``.zarr`` store to create (replaced atomically when the scan ends).
    template : Dataset
        The calibrated scan (axes, name, voltage, scan geometry) whose frames are recorded.
    """

    def __init__(self, path, template: Dataset):
        import zarr

        from ..io.writers import calibration_record

        self.path = check_record_path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.recording{self.path.suffix}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        ny, nx, ky, kx = template.shape
        frame_bytes = ky * kx * np.dtype(template.dtype).itemsize
        chunks = (1, max(1, min(nx, CHUNK_BYTES // frame_bytes)), ky, kx)
        self.group = zarr.open_group(str(self.tmp), mode="w")
        self.array = _uncompressed_array(self.group, template.shape, template.dtype, chunks)
        self.record = calibration_record(template)
        self.nx = nx
        self.rows_written = 0
        self.direct = False  # the spool writes the chunk files itself (spool_segments)

    def spool_segments(self):
        """The store's chunk files as :class:`FrameSpool` segments, so frames land in the recording as they arrive
        (no copy); None where that cannot be: not zarr 2's uncompressed directory layout, not Linux, or frames
        that are not a whole number of memory pages (then :meth:`write_rows` copies the rows)."""
        import mmap
        import sys

        import zarr

        a = self.array
        ny, nx, ky, kx = a.shape
        frame_bytes = ky * kx * a.dtype.itemsize
        if (not sys.platform.startswith("linux") or not isinstance(a.store, getattr(zarr.storage, "DirectoryStore", ()))
                or not hasattr(a, "_chunk_key") or a.compressor is not None or a.filters or a.order != "C"
                or not a.dtype.isnative or frame_bytes % mmap.PAGESIZE):
            return None
        cx = a.chunks[1]
        segments = []
        for row in range(ny):
            for column in range(-(-nx // cx)):
                path = Path(a.store.path) / a._chunk_key((row, column, 0, 0))
                path.parent.mkdir(parents=True, exist_ok=True)
                segments.append((path, min(cx, nx - column * cx), cx * frame_bytes))
        self.direct = True
        return segments

    @property
    def frames_written(self) -> int:
        """Frames in the store (complete rows)."""
        return self.rows_written * self.nx

    def write_rows(self, spool: FrameSpool) -> None:
        """Copy every scan row the spool completed since the last call (count them where the spool writes the
        chunk files)."""
        full = spool.received // self.nx
        for row in range(self.rows_written, full if not self.direct else 0):
            self.array[row] = spool.frames[row * self.nx:(row + 1) * self.nx]
        self.rows_written = max(self.rows_written, full)

    def finish(self, spool: FrameSpool, info: dict) -> Path:
        """Write what is left (a partial last row too), the calibration and ``info``; rename into place."""
        from ..io.plain import CALIBRATION_KEY
        from ..io.writers import _replace

        self.write_rows(spool)
        rest = spool.received - self.rows_written * self.nx
        if rest and self.rows_written < self.array.shape[0] and not self.direct:
            self.array[self.rows_written, :rest] = spool.frames[self.rows_written * self.nx:spool.received]
        self.group.attrs[CALIBRATION_KEY] = self.record
        self.group.attrs["stemlab_live"] = info
        _replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary store (nothing was received)."""
        shutil.rmtree(self.tmp, ignore_errors=True)



def make_recorder(path, template: Dataset):
    """The recorder for ``path``'s format: :class:`MibRecorder` for ``.mib``, else :class:`ZarrRecorder`."""
    path = check_record_path(path)
    return MibRecorder(path, template) if path.suffix.lower() == ".mib" else ZarrRecorder(path, template)


class MibRecorder:
    """Appends every received frame of a scan to a Merlin ``.mib`` file; writes the ``.hdr`` when the scan ends.

    Parameters
    ----------
    path : path
        The ``.mib`` file to create; its ``.hdr`` goes beside it (both replaced when the scan ends).
    template : Dataset
        The scan (shape and dtype: uint8, uint16 or uint32) whose frames are recorded.
    """

    def __init__(self, path, template: Dataset):
        from datetime import datetime, timezone

        from ..io.mib import _depth

        self.path = check_record_path(path)
        self.hdr = self.path.with_suffix(".hdr")
        self.tmp = self.path.with_name(f".{self.path.stem}.recording.mib")
        self.tmp_hdr = self.tmp.with_suffix(".hdr")
        _depth(template.dtype)  # refuse other dtypes before any frame arrives
        self.nx = template.shape[1]
        self.dtype = template.dtype
        self.stamp = datetime.now(timezone.utc)
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - open for the whole scan, closed by finish/discard
        self.frames_written = 0

    @property
    def rows_written(self) -> int:
        """Complete scan rows in the file."""
        return self.frames_written // self.nx

    def write_rows(self, spool: FrameSpool) -> None:
        """Append every frame the spool received since the last call (a partial row too)."""
        from ..io.mib import frames_bytes

        end = spool.received
        if end > self.frames_written:
            self.file.write(frames_bytes(spool.frames[self.frames_written:end], self.frames_written, self.stamp))
            self.frames_written = end

    def finish(self, spool: FrameSpool, info: dict) -> Path:
        """Append what is left, write the ``.hdr`` (a row of the scan per trigger) and rename both into place.

        A scan that ended inside a row gets that row completed with zero frames (readers take whole rows) and a
        ``Frames Received (Number)`` line in the ``.hdr``; ``info`` is not stored otherwise.
        """
        import os

        from ..io.mib import acquisition_header, frames_bytes

        self.write_rows(spool)
        received = self.frames_written
        rest = -received % self.nx
        if rest:
            padding = np.zeros((rest, *spool.frames.shape[1:]), self.dtype)
            self.file.write(frames_bytes(padding, received, self.stamp))
            self.frames_written += rest
        self.file.close()
        self.tmp_hdr.write_bytes(acquisition_header(self.frames_written, self.nx, self.dtype, self.stamp, received))
        os.replace(self.tmp, self.path)
        os.replace(self.tmp_hdr, self.hdr)
        return self.path

    def discard(self) -> None:
        """Remove the temporary files (nothing was received)."""
        self.file.close()
        for tmp in (self.tmp, self.tmp_hdr):
            tmp.unlink(missing_ok=True)
