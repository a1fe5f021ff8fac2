"""Virtual-detector throughput against numpy's plain sum, live-preview latency, streaming memory.

    python benchmarks/bench_virtual.py [--gb 2] [--dir /tmp]

For each dtype it writes a ``--gb`` file of 128 x 128 patterns, then times in one run:
``np.sum`` over the whole array (the memory-bandwidth baseline), the four detectors of an
explorer session in one pass, and the same plus centre of mass and mean/max pattern —
in memory, from the page cache (np.memmap of the file just written) and from a cold file
(pages dropped with posix_fadvise). Then the preview latency on a 256 x 256 x 128 x 128
scan in memory, and the peak RSS growth while streaming the on-disk file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from memory_probe import peak_rss_growth  # noqa: E402
from stemlab.diffraction import Annulus, Disk, Rectangle, preview_virtual_image, virtual_images  # noqa: E402

SIG = (128, 128)
DETECTORS = {"BF": Disk(64, 64, 10), "ADF": Annulus(64, 64, 20, 40), "HAADF": Annulus(64, 64, 40, 60),
             "DF": Rectangle(10, 10, 30, 30)}


def best(func, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def make(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    out = np.empty(shape, dtype)
    for i in range(shape[0]):
        out[i] = (rng.random(shape[1:], dtype=np.float32) * 200).astype(dtype)
    return out


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def throughput(gb, folder):
    print(f"{'dtype':8} {'where':10} {'np.sum':>8} {'4 detectors':>12} {'ratio':>6} "
          f"{'+CoM+mean/max':>14} {'ratio':>6}   (GB/s, ratio = rate / np.sum rate)")
    for dtype in (np.uint8, np.uint16, np.float32):
        n = int(gb * 1e9 / (np.dtype(dtype).itemsize * SIG[0] * SIG[1]))
        data = make((n // 128, 128) + SIG, dtype)
        path = os.path.join(folder, f"bench_virtual_{np.dtype(dtype).name}.raw")
        data.tofile(path)
        mapped = np.memmap(path, dtype=dtype, mode="r", shape=data.shape)
        virtual_images(data[:1], DETECTORS)  # compile once
        for where, array in (("memory", data), ("pagecache", mapped)):
            size = array.nbytes
            t_sum = best(lambda: np.sum(array))
            t_det = best(lambda: virtual_images(array, DETECTORS, com=False, patterns=False))
            t_all = best(lambda: virtual_images(array, DETECTORS))
            print(f"{np.dtype(dtype).name:8} {where:10} {size / t_sum / 1e9:8.2f} {size / t_det / 1e9:12.2f} "
                  f"{t_sum / t_det:6.2f} {size / t_all / 1e9:14.2f} {t_sum / t_all:6.2f}", flush=True)
        drop_cache(path)
        start = time.perf_counter()
        np.sum(np.memmap(path, dtype=dtype, mode="r", shape=data.shape))
        t_sum = time.perf_counter() - start
        drop_cache(path)
        start = time.perf_counter()
        shape = data.shape
        _, growth = peak_rss_growth(lambda: virtual_images(np.memmap(path, dtype=dtype, mode="r", shape=shape),
                                                           DETECTORS))
        t_all = time.perf_counter() - start
        print(f"{np.dtype(dtype).name:8} {'cold file':10} {data.nbytes / t_sum / 1e9:8.2f} {'':>12} {'':>6} "
              f"{data.nbytes / t_all / 1e9:14.2f} {t_sum / t_all:6.2f}   "
              f"peak anonymous RSS growth {growth / 2**20:.0f} MiB for a {data.nbytes / 2**30:.1f} GiB file", flush=True)
        del data, mapped
        os.remove(path)


def preview_latency():
    print()
    for dtype in (np.uint8, np.uint16):
        scan = make((256, 256) + SIG, dtype)
        detectors = ([Disk(64 + 3 * i, 60 + 2 * i, 8 + i) for i in range(5)]
                     + [Annulus(64, 64, 20 + 4 * i, 50 + 4 * i) for i in range(5)])
        preview_virtual_image(scan, detectors[0])  # compile once
        for budget in (48e6, 16e6):
            latencies, strides = [], []
            for detector in detectors:
                start = time.perf_counter()
                _, stride = preview_virtual_image(scan, detector, budget_bytes=budget)
                latencies.append((time.perf_counter() - start) * 1e3)
                strides.append(stride)
            print(f"preview 256x256x128x128 {np.dtype(dtype).name}, budget {budget / 1e6:.0f} MB: median "
                  f"{np.median(latencies):.1f} ms, max {np.max(latencies):.1f} ms, strides {sorted(set(strides))}")
        del scan


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="size of each test file (GB)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="folder for the test files")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    throughput(args.gb, args.dir)
    preview_latency()


if __name__ == "__main__":
    main()
