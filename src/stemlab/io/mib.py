"""Writing Quantum Detectors Merlin ``.mib`` + ``.hdr`` files, as rosettasciio's reader reads them.

The layout, as the real files in ``../shared/data/4dstem/merlin`` show it: every frame is a 384-byte
``MQ1`` header (single chip) followed by the big-endian pixels, rows stored bottom first (the reader
turns them upside down); the ``.hdr`` beside it is the acquisition header (frames in the acquisition,
frames per trigger = the scan's row length, counter depth). Used by the live recorder
(:class:`stemlab.live.recorder.MibRecorder`) and by the tests that feed the Merlin simulator.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HEADER_BYTES = 384  # one-chip frame header
DEPTHS = {np.dtype(np.uint8): ("U08", 6), np.dtype(np.uint16): ("U16", 12), np.dtype(np.uint32): ("U32", 24)}


def _depth(dtype) -> tuple[str, int]:
    from ..errors import FileFormatError

    try:
        return DEPTHS[np.dtype(dtype)]
    except KeyError:
        raise FileFormatError(f"Merlin .mib files hold uint8, uint16 or uint32 frames, not {np.dtype(dtype)}; "
                              "record to .zarr instead.") from None


def frame_header(sequence: int, sig_shape: tuple[int, int], dtype, stamp: datetime) -> bytes:
    """The 384-byte ``MQ1`` header of frame ``sequence`` (1-based), ``sig_shape`` (rows, columns) pixels."""
    code, depth = _depth(dtype)
    h, w = sig_shape
    date = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    head = (f"MQ1,{sequence:06d},{HEADER_BYTES:05d},01,{w:04d},{h:04d},{code},   1x1,01,{date},"
            f"0.001000,0,0,0,2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
            f"0.000000E+0,0.000000E+0,3RX,011,511,000,000,000,000,000,000,175,010,200,125,100,100,093,100,"
            f"099,030,128,004,255,140,128,191,179,511,511,MQ1A,{iso}.{sequence:09d}Z,1000000ns,{depth},")
    return head.encode("ascii").ljust(HEADER_BYTES, b"\0")


def frames_bytes(frames: np.ndarray, first: int, stamp: datetime) -> bytes:
    """Frames ``(n, h, w)`` (as the reader returns them) with their headers, numbered from ``first`` (0-based)."""
    frames = np.asarray(frames)
    n, h, w = frames.shape
    pixels = frames[:, ::-1, :].astype(frames.dtype.newbyteorder(">"))
    out = np.empty((n, HEADER_BYTES + pixels[0].nbytes), np.uint8)
    for i in range(n):
        out[i, :HEADER_BYTES] = np.frombuffer(frame_header(first + i + 1, (h, w), frames.dtype, stamp), np.uint8)
    out[:, HEADER_BYTES:] = pixels.reshape(n, -1).view(np.uint8)
    return out.tobytes()


def acquisition_header(n_frames: int, frames_per_trigger: int, dtype, stamp: datetime,
                       received: int | None = None) -> bytes:
    """The ``.hdr`` text (2048 bytes) of an acquisition of ``n_frames`` frames, ``frames_per_trigger`` per row;
    ``received`` (when fewer) adds a ``Frames Received (Number)`` line: the frames after it are padding."""
    _, depth = _depth(dtype)
    note = f"Frames Received (Number):\t{received}\n" if received is not None and received < n_frames else ""
    text = (f"HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t{stamp.strftime('%d/%m/%Y %H:%M:%S')}\n"
            "Chip ID:\tW000_A0, - , - , - \nChip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n"
            "Assembly Size (NX1, 2X2):\t   1x1\nChip Mode  (SPM, CSM, CM, CSCM):\tSPM\n"
            f"Counter Depth (number):\t{depth}\nGain:\tSLGM\nActive Counters:\tCounter 0\n"
            "Acquisition Type (Normal, Th_scan, Config):\tNormal\n"
            f"Frames in Acquisition (Number):\t{n_frames}\nFrames per Trigger (Number):\t{frames_per_trigger}\n"
            "Trigger Start (Positive, Negative, Internal):\tInternal\n"
            "Trigger Stop (Positive, Negative, Internal):\tInternal\nSoftware Version:\t0.77\n" + note + "End\t")
    return text.encode("ascii").ljust(2048, b" ")


def write_mib(path, frames: np.ndarray, frames_per_trigger: int = 1, stamp: datetime | None = None) -> Path:
    """Write ``frames (n, h, w)`` (uint8/16/32, as the reader returns them) as ``path`` (.mib) + the .hdr beside it.

    Parameters
    ----------
    path : path
        The ``.mib`` file (the ``.hdr`` gets the same name).
    frames : array (n, h, w)
        Frames in scan order.
    frames_per_trigger : int
        Frames per scan row (the reader's scan width).
    stamp : datetime, optional
        Acquisition time written into the headers; default now (UTC).

    Returns
    -------
    Path
        The ``.hdr`` file.
    """
    path = Path(path)
    frames = np.asarray(frames)
    stamp = stamp or datetime.now(timezone.utc)
    path.write_bytes(frames_bytes(frames, 0, stamp))
    hdr = path.with_suffix(".hdr")
    hdr.write_bytes(acquisition_header(len(frames), frames_per_trigger, frames.dtype, stamp))
    return hdr
