"""Time and memory to open a ~20 GB 4D-STEM file lazily (.npy, Merlin .mib, zarr); prints a table.

Files are sparse (headers only), written under /tmp (or --dir) and removed afterwards.
Each open runs in a fresh subprocess; "load s" and "RSS +MB" include the first import of
dask/rosettasciio inside load() (~100 MB), so the data itself adds almost nothing.
Usage: python benchmarks/bench_open_large.py [--gb 20] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "io"))

from io_fakes import write_sparse_mib, write_sparse_npy  # noqa: E402

CHILD = """
import json, resource, sys, time
import psutil
t0 = time.perf_counter()
import stemlab.io as sio
t1 = time.perf_counter()
rss0 = psutil.Process().memory_info().rss
ds = sio.load(sys.argv[1])[0]
t2 = time.perf_counter()
rss1 = psutil.Process().memory_info().rss
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "rss_growth": rss1 - rss0, "peak_rss": peak,
                  "shape": list(ds.shape), "chunks": list(ds.data.chunksize), "nbytes": ds.nbytes}))
"""


def make_zarr(path: Path, shape) -> Path:
    """A zarr store with metadata only: missing chunks read as fill value, so nothing is written."""
    import zarr

    from stemlab.io.chunks import nav_chunks

    group = zarr.open_group(str(path), mode="w")
    group.create_dataset("data", shape=shape, dtype="uint16", chunks=nav_chunks(shape, 2, 2))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=20.0)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    side = max(2, int((args.gb * 1e9 / (256 * 256 * 2)) ** 0.5))  # uint16 npy/zarr
    side_mib = max(2, int((args.gb * 1e9 / (256 * 256 + 384)) ** 0.5))  # 8-bit mib
    work = Path(tempfile.mkdtemp(prefix="stemlab-bench-", dir=args.dir))
    rows = []
    try:
        cases = [
            ("npy", lambda: write_sparse_npy(work / "big.npy", (side, side, 256, 256), "uint16")),
            ("mib+hdr", lambda: write_sparse_mib(work / "big.mib", (side_mib, side_mib))),
            ("zarr", lambda: make_zarr(work / "big.zarr", (side, side, 256, 256))),
        ]
        for name, make in cases:
            t = time.perf_counter()
            path = make()
            made = time.perf_counter() - t
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((name, result, made))
            path.unlink() if path.is_file() else shutil.rmtree(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'format':<9}{'size GB':>9}{'shape':>24}{'chunk':>22}{'write s':>9}{'load s':>8}"
          f"{'RSS +MB':>9}{'peak MB':>9}")
    for name, r, made in rows:
        print(f"{name:<9}{r['nbytes'] / 1e9:>9.1f}{str(tuple(r['shape'])):>24}{str(tuple(r['chunks'][:2])):>22}"
              f"{made:>9.2f}{r['load_s']:>8.3f}{r['rss_growth'] / 2**20:>9.1f}{r['peak_rss'] / 2**20:>9.0f}")


if __name__ == "__main__":
    main()
