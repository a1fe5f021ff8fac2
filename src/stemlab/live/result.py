"""The result of a live scan, with the result protocol (:mod:`stemlab.results`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..dataset import Dataset


@dataclass
class LiveResult:
    """Maps of a live scan: the explorer's images, the orientation maps and what is still pending.

    Attributes
    ----------
    explore : ExploreResult
        Detector images, CoM / DPC / iDPC, mean and max pattern (:func:`stemlab.explore`'s names);
        NaN at positions never received.
    orientation : OrientationResult or None
        Phase, orientation and reliabilities per position (with phases given); positions where
        ``pending`` is True hold no indexing (phase 0 there, all scores 0).
    pending : bool array (ny, nx)
        Positions not indexed (yet, or never received).
    status : LiveProgress
        Frames received, dropped, recorded, analysed and indexed, and the elapsed time.
    scan_axes : tuple of Axis
        The scan's calibrated navigation axes.
    recording : Path or None
        The recording (zarr store or ``.mib`` file) holding every received frame.
    error : str or None
        Why the scan ended early (dropped connection, aborted scan); None for a complete scan.
    timings : dict
        Seconds after arming when receiving, recording, virtual detectors and indexing ended.
    """

    explore: dict
    orientation: object
    pending: np.ndarray
    status: object
    scan_axes: tuple
    metadata: dict = field(default_factory=dict)
    recording: Optional[Path] = None
    error: Optional[str] = None
    timings: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every scan position was received and analysed."""
        return self.error is None and self.status.received == self.status.total

    def datasets(self) -> dict[str, Dataset]:
        """Explorer images, orientation maps (phase, ipf_x/y/z, correlation, reliabilities) and 'pending'."""
        out = dict(self.explore)
        if self.orientation is not None:
            out.update(self.orientation.datasets())
            axes = tuple(a for a in self.scan_axes)
            out["pending"] = Dataset(self.pending.astype(np.uint8), axes, kind="image", name="pending",
                                     metadata=dict(self.metadata))
        return out

    def save(self, path) -> Path:
        """A folder of calibrated ``.tif`` maps plus ``orientation.h5`` (orix) and ``live.json`` (the
        counts and the error), or one ``.npz`` of every map; atomic per file."""
        from ..io.writers import atomic_write
        from ..results import save_datasets

        path = Path(path)
        save_datasets(self.datasets(), path)
        if path.suffix.lower() != ".npz":
            if self.orientation is not None:
                self.orientation.save(path / "orientation.h5")
            with atomic_write(path / "live.json") as tmp:
                tmp.write_text(json.dumps(self.report(), indent=1))
        return path

    def report(self) -> dict:
        """The counts, the recording and the error, JSON-serialisable."""
        s = self.status
        return {"frames": s.total, "received": s.received, "dropped": s.dropped, "recorded": s.recorded,
                "analysed": s.analysed, "indexed": max(s.indexed, 0), "seconds": round(s.elapsed, 3),
                "recording": str(self.recording) if self.recording else None, "error": self.error,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()}}

    def summary(self) -> str:
        """One line: the counts, the phase shares, and the error if the scan ended early."""
        text = self.status.line() + f" in {self.status.elapsed:.1f} s"
        if self.orientation is not None:
            text += f"; {self.orientation.summary()}"
        return text + (f"; ended early: {self.error}" if self.error else "")
