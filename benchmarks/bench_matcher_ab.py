"""CPU time per pattern of ``Matcher.match`` for two source trees, interleaved (one torch thread).

Each round runs one subprocess per tree (``PYTHONPATH=<tree>/src``), one after the other, on the
same diffsims patterns written by ``bench_orientation_cli.py --workdir DIR`` (fcc Al, 128 x 128 px,
0.02 1/A per px, 200 kV, the library of ``stemlab orient --relrod 0.0204``). Prints per run the
thread CPU time of the matching in ms per pattern, the share within 2 deg of the truth and the load:
on a shared machine compare the runs of one round, and the medians over rounds.

    python benchmarks/bench_matcher_ab.py DIR/al_128_16384_20000.npy --src /path/a /path/b --n 2048 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = r"""
import os, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
from stemlab.crystal import resolve_phase
from stemlab.orientation.evaluate import disorientation_deg
from stemlab.orientation.library import build_library
from stemlab.orientation.matching import Matcher, MatchSettings
path, start, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lib = build_library(["Al"], voltage_kv=200, resolution_deg=1.0, g_max=min(128 * 2 ** 0.5 / 2 * 0.02, 4.0),
                    s_width=0.0204, cache=True)
data = np.ascontiguousarray(np.load(path, mmap_mode="r").reshape(-1, 128, 128)[start:start + n])
truth = np.load(path.replace(".npy", "_truth.npy")).reshape(-1, 3, 3)[start:start + n]
m = Matcher(lib, MatchSettings(calibration=0.02), (128, 128), "cpu", (64, 64))
m.match(data[:64])  # warm-up
t0 = time.thread_time()
r = m.match(data)
ms = (time.thread_time() - t0) / n * 1e3
# diffsims' beam travels along -z, ours along +z: the truth turned 180 deg about y
ok = disorientation_deg(r["rotation"].reshape(-1, 3, 3).astype(float), np.diag([-1.0, 1, -1]) @ truth,
                        resolve_phase("Al")) < 2
print(f"{ms:.3f} {100 * ok.mean():.2f} {os.getloadavg()[0]:.1f}")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("patterns", help="the .npy file of bench_orientation_cli.py (its _truth.npy beside it)")
    ap.add_argument("--src", nargs="+", required=True, help="source trees (each with src/stemlab)")
    ap.add_argument("--start", type=int, default=0, help="first pattern")
    ap.add_argument("--n", type=int, default=2048, help="patterns per run")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"{'round':>5} {'tree':40s} {'ms/pattern':>10} {'<2 deg %':>9} {'load':>5}")
    for k in range(args.rounds):
        for tree in args.src:
            env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"))
            out = subprocess.run([sys.executable, "-c", CHILD, args.patterns, str(args.start), str(args.n)],
                                 env=env, capture_output=True, text=True, check=True).stdout.split()
            print(f"{k + 1:5d} {tree[-40:]:40s} {out[0]:>10} {out[1]:>9} {out[2]:>5}", flush=True)


if __name__ == "__main__":
    main()
