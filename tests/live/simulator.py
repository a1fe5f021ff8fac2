"""Test helpers: a Merlin .mib writer and LiberTEM-live's Merlin simulator as a subprocess.

The writer follows the Merlin file layout (a 384-byte ``MQ1`` header before every big-endian
frame, an ``.hdr`` acquisition header) as the real files in ``../shared/data/4dstem/merlin``
show it; frames are stored upside down, the way rosettasciio's reader expects them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIM = Path(sys.executable).with_name("libertem-live-mib-sim")
_DEPTH = {np.dtype(np.uint8): ("U08", 6), np.dtype(np.uint16): ("U16", 12), np.dtype(np.uint32): ("U32", 24)}


def write_mib(path, frames: np.ndarray, frames_per_trigger: int = 1) -> Path:
    """Write ``frames (n, h, w)`` (uint8/16/32) as ``path`` (.mib) + the .hdr beside it; returns the .hdr."""
    path = Path(path)
    frames = np.asarray(frames)
    n, h, w = frames.shape
    code, depth = _DEPTH[frames.dtype]
    big = frames[:, ::-1, :].astype(frames.dtype.newbyteorder(">"))
    with open(path, "wb") as fh:
        for i in range(n):
            head = (f"MQ1,{i + 1:06d},00384,01,{w:04d},{h:04d},{code},   1x1,01,2026-12-02 07:00:00.000000,"
                    f"0.001000,0,0,0,2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
                    f"0.000000E+0,0.000000E+0,3RX,011,511,000,000,000,000,000,000,175,010,200,125,100,100,093,100,"
                    f"099,030,128,004,255,140,128,191,179,511,511,MQ1A,2026-12-02T07:00:00.{i:09d}Z,1000000ns,"
                    f"{depth},").encode("ascii")
            fh.write(head.ljust(384, b"\0"))
            fh.write(big[i].tobytes())
    hdr = path.with_suffix(".hdr")
    text = ("HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t02/12/2026 07:00:00\n"
            "Chip ID:\tW000_A0, - , - , - \nChip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n"
            "Assembly Size (NX1, 2X2):\t   1x1\nChip Mode  (SPM, CSM, CM, CSCM):\tSPM\n"
            f"Counter Depth (number):\t{depth}\nGain:\tSLGM\nActive Counters:\tCounter 0\n"
            "Acquisition Type (Normal, Th_scan, Config):\tNormal\n"
            f"Frames in Acquisition (Number):\t{n}\nFrames per Trigger (Number):\t{frames_per_trigger}\n"
            "Trigger Start (Positive, Negative, Internal):\tInternal\n"
            "Trigger Stop (Positive, Negative, Internal):\tInternal\nSoftware Version:\t0.77\nEnd\t")
    hdr.write_bytes(text.encode("ascii").ljust(2048, b" "))
    return hdr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MerlinSimulator:
    """``libertem-live-mib-sim HDR --nav-shape NY NX`` on free ports, waiting for STARTACQUISITION."""

    def __init__(self, hdr, nav_shape, *, dwelltime_us: int | None = None, extra=()):
        self.data_port, self.control_port, self.trigger_port = free_port(), free_port(), free_port()
        cmd = [str(SIM), str(hdr), "--nav-shape", str(nav_shape[0]), str(nav_shape[1]), "--host", "127.0.0.1",
               "--data-port", str(self.data_port), "--control-port", str(self.control_port),
               "--trigger-port", str(self.trigger_port), "--cached", "mem", "--wait-trigger", *extra]
        if dwelltime_us:
            cmd += ["--dwelltime", str(dwelltime_us)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self._wait_listening(60.0)

    @property
    def url(self) -> str:
        return f"merlin://127.0.0.1:{self.data_port}?api_port={self.control_port}"

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"libertem-live-mib-sim exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.control_port), timeout=0.2).close()
                socket.create_connection(("127.0.0.1", self.data_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("libertem-live-mib-sim did not start listening")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def simulator_available() -> bool:
    return SIM.exists() and shutil.which(str(SIM)) is not None
