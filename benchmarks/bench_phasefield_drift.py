"""Drift estimates of the phase-field fit on explicit-solver videos with known drift (issue 16).

    python benchmarks/bench_phasefield_drift.py

Prints the largest |drift| (px) that ``stemlab.phasefield.align.estimate_drift`` reports on
drift-free 48 x 48 px videos (16 frames; frame intervals 0.3, 0.8, 2 s x interface widths 2,
4, 6 px; plain Z-contrast and 30 % lattice fringes) and its largest error on 64 x 64 px videos
whose window drifts over the sample (0.25, 0.5, 1 px/frame; fringes 0, 15, 30 %; doses 0.3, 1),
and on the lattice video of ``tests/phasefield/test_align.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "phasefield"))


def main():
    from independent_solver import independent_video
    from stemlab.phasefield.align import estimate_drift

    print("| video | frame interval (s) | width (px) | fringes | max abs drift (px) |")
    print("|---|---|---|---|---|")
    for frame_time in (0.3, 0.8, 2.0):
        for width in (2, 4, 6):
            for fringes in (0.0, 0.3):
                ds = independent_video("allen-cahn", shape=(48, 48), n_frames=16, delta=width,
                                       frame_time=frame_time, fringes=fringes)
                drift = estimate_drift(np.asarray(ds.data, dtype=float))
                print(f"| drift-free | {frame_time} | {width} | {fringes} | {np.abs(drift).max():.2f} |")
    print("\n| drift (px/frame) | fringes | dose | max error (px) |")
    print("|---|---|---|---|")
    for fringes in (0.0, 0.15, 0.3):
        for rate in (0.25, 0.5, 1.0):
            for dose in (0.3, 1.0):
                ds = independent_video("allen-cahn", shape=(64, 64), n_frames=16, delta=4.0, frame_time=0.8,
                                       drift_px=rate, fringes=fringes, dose=dose)
                truth = ds.metadata["ground_truth"]["drift"]
                drift = estimate_drift(np.asarray(ds.data, dtype=float))
                print(f"| {rate} | {fringes} | {dose} | {np.abs(drift - truth).max():.2f} |")


if __name__ == "__main__":
    main()
