"""Cheap generators of big instrument-like files for laziness tests and benchmarks.

Files are sparse: only headers are written, so a multi-GB file costs milliseconds and no
disk blocks beyond the headers (on file systems with sparse-file support).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIB_HEADER_BYTES = 384


def write_sparse_npy(path: Path, shape: tuple[int, ...], dtype="uint8") -> Path:
    """A .npy of ``shape`` whose data are never written (reads as zeros)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=shape)
    out.flush()
    del out
    return path


def mib_header(frame: int, width: int = 256, height: int = 256, depth: int = 8) -> bytes:
    """One Merlin single-chip frame header (ASCII, comma separated, padded to 384 bytes)."""
    dtype = {1: "U08", 6: "U08", 8: "U08", 12: "U16", 24: "U32"}[depth]
    fields = [
        "MQ1", f"{frame:06d}", f"{MIB_HEADER_BYTES:05d}", "01", f"{width:04d}", f"{height:04d}", dtype,
        "   1x1", "01", "2024-01-01 00:00:00.000000", "0.001000", "0", "0", "0",
        "1.000000E+1", "5.110000E+2", *(["0.000000E+0"] * 6), "3RX", *(["000"] * 27),
        "MQ1A", "2024-01-01T00:00:00.000000000Z", "1000000ns", str(depth),
    ]
    text = ",".join(fields) + ","
    return text.encode("ascii").ljust(MIB_HEADER_BYTES, b" ")


def write_sparse_mib(path: Path, scan: tuple[int, int], detector: int = 256) -> Path:
    """A Merlin .mib (+ .hdr) with ``scan`` frames of 8-bit ``detector``^2 pixels; data left sparse."""
    frames = scan[0] * scan[1]
    frame_bytes = MIB_HEADER_BYTES + detector * detector
    with open(path, "wb") as fh:
        for i in range(frames):
            fh.seek(i * frame_bytes)
            fh.write(mib_header(i + 1, detector, detector, 8))
        fh.truncate(frames * frame_bytes)
    hdr = (
        "HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t01/01/2024 00:00:00\n"
        "Chip ID:\tW000_A00, - , - , - \nChip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n"
        "Assembly Size (NX1, 2X2):\t   1x1\nChip Mode  (SPM, CSM, CM, CSCM):\tSPM\nCounter Depth (number):\t8\n"
        "Gain:\tSLGM\nActive Counters:\tCounter 0\n"
        f"Frames in Acquisition (Number):\t{frames}\nFrames per Trigger (Number):\t{scan[1]}\n"
        "Software Version:\t0.76.1.101\nEnd\t"
    )
    path.with_suffix(".hdr").write_bytes(hdr.encode("ascii").ljust(2048, b" "))
    return path
