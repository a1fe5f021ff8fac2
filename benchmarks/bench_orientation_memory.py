"""Peak memory of indexing a large on-disk 4D-STEM file with ``stemlab orient`` (issue: 20 GB < 4 GB).

Writes a float32 .npy scan of 256 x 256 px patterns (default ~20 GB: 280 x 280 positions) by
tiling a simulated 32 x 32 two-phase scan (Al + alpha-Fe, random orientations, thin foil,
0.015 1/A per px), then runs the real command line in a child process,

    stemlab orient FILE --phase Al --phase alpha-Fe --calibration 0.015 -o OUT.h5

and samples the child's memory every 20 ms: peak RSS (VmHWM: everything resident, including the
file pages of the memory-mapped input, which the kernel can drop at any time) and peak anonymous
RSS (what the process itself allocated). Also prints patterns/s and the phase accuracy of the
map against the tiled truth. The file is removed afterwards.

Usage: python benchmarks/bench_orientation_memory.py [--gb 20] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DETECTOR = 256
CALIBRATION = 0.015  # 1/A per px: the detector reaches ~1.9 1/A


def write_scan(path: Path, gb: float):
    """Tile a simulated 32 x 32 scan into a (n, n, 256, 256) float32 .npy of ~``gb`` GB; returns the truth phase map."""
    from stemlab.simulate.fourd import two_phase_scan

    tile = two_phase_scan(scan_shape=(32, 32), pattern_shape=(DETECTOR, DETECTOR), reciprocal_pixel=CALIBRATION,
                          dose=20000, seed=7, s_width=0.025, zone_axis_fraction=0.0, n_grains=85,
                          descan_offset=(0, 0), descan_gradient=((0, 0), (0, 0)), intensity_jitter=0.2)
    patterns = np.asarray(tile.data, dtype=np.float32)
    n = int(np.sqrt(gb * 1e9 / (DETECTOR * DETECTOR * 4)))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, n, DETECTOR, DETECTOR))
    for i in range(n):
        out[i] = patterns[i % 32][np.arange(n) % 32]
    out.flush()
    del out
    truth = tile.metadata["ground_truth"]["phase"]
    return truth[np.ix_(np.arange(n) % 32, np.arange(n) % 32)]


def status_kib(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "RssAnon"):
                fields[key] = int(rest.split()[0])
    return fields


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=20.0)
    ap.add_argument("--dir", default=None, help="where to write the file (default: a temporary folder)")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="stemlab-orient-mem-", dir=args.dir))
    try:
        data = folder / "scan.npy"
        t0 = time.perf_counter()
        truth = write_scan(data, args.gb)
        print(f"wrote {data} ({data.stat().st_size / 1e9:.1f} GB, {truth.size} patterns of {DETECTOR}x{DETECTOR}) "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
        out = folder / "map.h5"
        cmd = [str(Path(sys.executable).with_name("stemlab")), "orient", str(data), "--phase", "Al", "--phase",
               "alpha-Fe", "--calibration", str(CALIBRATION), "-o", str(out)]
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd)
        peak_anon = peak_total = 0
        while child.poll() is None:
            try:
                st = status_kib(child.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            peak_anon = max(peak_anon, st.get("RssAnon", 0))
            peak_total = max(peak_total, st.get("VmHWM", 0))
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        if child.returncode:
            raise SystemExit(f"stemlab orient failed with exit code {child.returncode}")
        from orix.io import load as load_xmap

        xmap = load_xmap(out)
        phase_ok = np.mean(np.asarray(xmap.phase_id).reshape(truth.shape) == truth)
        print(f"{'file GB':>8} {'patterns':>9} {'wall s':>7} {'patterns/s':>10} {'peak RSS GB':>11} "
              f"{'peak anon GB':>12} {'phase ok':>8}")
        print(f"{data.stat().st_size / 1e9:>8.1f} {truth.size:>9} {wall:>7.0f} {truth.size / wall:>10.0f} "
              f"{peak_total / 2**20:>11.2f} {peak_anon / 2**20:>12.2f} {phase_ok * 100:>7.1f}%")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
