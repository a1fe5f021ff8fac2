"""Relrod width measured on the data (s_width='auto') against the default library width.

For simulated Al + alpha-Fe scans (24 x 24 patterns, 48 grains, seed 11, 128 px detector at
0.03 1/A per px, dose 20000, intensity jitter 0.2) of several relrod widths and the three
orientation kinds of bench_orientation.py, prints the measured width and the accuracy
(< 2 deg / phase, refined) and time of index_orientations with s_width='auto' and with the
default 0.02 (docs/orientation.md, 'Relrod width'). ~3 min on 2 cores:
    python benchmarks/bench_relrod.py [--widths 0.012 0.018 0.025 0.035] [--kinds zone tilted random]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_orientation import SCAN_KINDS, accuracy, setup_two_phases


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", type=float, nargs="+", default=[0.012, 0.018, 0.025, 0.035])
    ap.add_argument("--kinds", nargs="+", default=["random", "tilted", "zone"], choices=list(SCAN_KINDS))
    ap.add_argument("--scan", type=int, default=24)
    args = ap.parse_args(argv)
    from orix.quaternion import Rotation

    from stemlab.orientation import index_orientations
    from stemlab.simulate.fourd import two_phase_scan

    phases = setup_two_phases()
    print(f"{'kind':<7} {'data':>6} {'measured':>8} {'auto <2deg/phase':>17} {'s':>5} "
          f"{'0.02 <2deg/phase':>17} {'s':>5}")
    for kind in args.kinds:
        for width in args.widths:
            ds = two_phase_scan(scan_shape=(args.scan, args.scan), dose=20000, seed=11, descan_offset=(0, 0),
                                descan_gradient=((0, 0), (0, 0)), intensity_jitter=0.2, s_width=width,
                                reciprocal_pixel=0.03, n_grains=args.scan * args.scan // 12, **SCAN_KINDS[kind])
            cells = []
            for library_width in ("auto", 0.02):
                t = time.perf_counter()
                res = index_orientations(ds, phases, s_width=library_width, device="cpu", centre="fixed", cache=False)
                t = time.perf_counter() - t
                R = res.rotations.reshape(-1, 3, 3)
                acc, pacc, _ = accuracy(Rotation.from_matrix(np.transpose(R, (0, 2, 1))), res.arrays["phase"].ravel(),
                                        ds.metadata["ground_truth"], phases)
                cells.append((res.library.params["s_width"], f"{acc * 100:.1f} / {pacc * 100:.1f}", t))
            print(f"{kind:<7} {width:>6.3f} {cells[0][0]:>8.4f} {cells[0][1]:>17} {cells[0][2]:>5.1f} "
                  f"{cells[1][1]:>17} {cells[1][2]:>5.1f}", flush=True)


if __name__ == "__main__":
    main()
