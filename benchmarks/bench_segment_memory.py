"""Time and peak memory of `stemlab segment --segments auto` on the real 1024 x 1024
high-entropy-alloy image (../shared/data/images), run as a user runs it (start-up included).

    python benchmarks/bench_segment_memory.py [--repeat 1]

Prints one table row per run: wall time, CPU time (user + system) of the command, its peak
resident memory (RSS) and the segment count; the machine's load average beside it (the CPU
is shared: CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "images" / "haadf_high_entropy_alloy.npy"


def run_once(threads: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-m", "stemlab.cli", "segment", str(IMAGE), "--segments", "auto",
                              "-o", str(Path(tmp) / "labels.tif")], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_rss_mb": after.ru_maxrss / 1024, "summary": out.stdout.strip().splitlines()[-1],
            "load": os.getloadavg()[0]}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    if not IMAGE.exists():
        raise SystemExit(f"{IMAGE} not found")
    print(f"{'run':>4}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'load':>7}  result")
    for i in range(args.repeat):
        row = run_once()
        print(f"{i + 1:>4}{row['wall_s']:>9.1f}{row['cpu_s']:>9.1f}{row['peak_rss_mb']:>13.0f}{row['load']:>7.1f}  "
              f"{row['summary']}", flush=True)


if __name__ == "__main__":
    main()
