"""Test helpers: LiberTEM-live's Merlin simulator as a subprocess, and the .mib writer that feeds it
(:func:`stemlab.io.mib.write_mib`, the one the live recorder uses)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from stemlab.io.mib import write_mib  # noqa: F401 - the tests' .mib writer

SIM = Path(sys.executable).with_name("libertem-live-mib-sim")


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

    def report_frame_time(self, milliseconds: float) -> None:
        """Set ACQUISITIONTIME on the control port, the frame time a Merlin reports (the simulator only stores it:
        its ``--dwelltime`` sets the rate it sends at)."""
        from libertem_live.detectors.merlin.control import MerlinControl

        with MerlinControl(host="127.0.0.1", port=self.control_port) as control:
            control.set("ACQUISITIONTIME", milliseconds)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def simulator_available() -> bool:
    return SIM.exists() and shutil.which(str(SIM)) is not None
