"""Throughput of virtual detectors vs a plain numpy sum, preview latency and peak RSS.

Run: ``python benchmarks/bench_virtual.py [--gb 2] [--dir /tmp]``. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np

from stemlab.diffraction import Annulus, Disk, Rectangle, preview_virtual_image, virtual_images


def best(f, rep=3):
    t = []
    for _ in range(rep):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    sig = (128, 128)
    four = [Disk(64, 64, 10), Annulus(64, 64, 20, 40), Annulus(64, 64, 40, 60), Rectangle(10, 10, 30, 30)]
    print(f"{'dtype':8} {'where':10} {'np.sum GB/s':>12} {'1 det GB/s':>11} {'4det+CoM+mean/max GB/s':>23} {'ratio':>6}")
    for dtype in (np.uint8, np.uint16, np.float32):
        n = int(args.gb * 1e9 / (np.dtype(dtype).itemsize * sig[0] * sig[1]))
        nav = (n // 128, 128)
        x = make(nav + sig, dtype)
        path = os.path.join(args.dir, f"bench_virtual_{np.dtype(dtype).name}.raw")
        x.tofile(path)
        mm = np.memmap(path, dtype=dtype, mode="r", shape=x.shape)
        for where, arr in (("memory", x), ("pagecache", mm)):
            nb = arr.nbytes
            t_sum = best(lambda: np.sum(arr))
            t1 = best(lambda: virtual_images(arr, Disk(64, 64, 10), com=False, patterns=False))
            t4 = best(lambda: virtual_images(arr, four))
            print(f"{np.dtype(dtype).name:8} {where:10} {nb / t_sum / 1e9:12.2f} {nb / t1 / 1e9:11.2f} "
                  f"{nb / t4 / 1e9:23.2f} {t_sum / t4:6.2f}", flush=True)
        drop_cache(path)
        t0 = time.perf_counter()
        virtual_images(np.memmap(path, dtype=dtype, mode="r", shape=x.shape), four)
        cold = time.perf_counter() - t0
        drop_cache(path)
        t0 = time.perf_counter()
        np.sum(np.memmap(path, dtype=dtype, mode="r", shape=x.shape))
        cold_sum = time.perf_counter() - t0
        print(f"{np.dtype(dtype).name:8} {'cold(fadv)':10} {x.nbytes / cold_sum / 1e9:12.2f} {'':>11} "
              f"{x.nbytes / cold / 1e9:23.2f}", flush=True)
        del x, mm
        os.remove(path)
    print()
    for dtype in (np.uint8, np.uint16):
        x = make((256, 256) + sig, dtype)
        dets = [Disk(64 + 3 * i, 60 + 2 * i, 8 + i) for i in range(5)] + [Annulus(64, 64, 20 + 4 * i, 50 + 4 * i)
                                                                            for i in range(5)]
        lat, strides = [], []
        for d in dets:
            t0 = time.perf_counter()
            _, s = preview_virtual_image(x, d)
            lat.append((time.perf_counter() - t0) * 1e3)
            strides.append(s)
        print(f"preview 256x256x128x128 {np.dtype(dtype).name}: median {np.median(lat):.1f} ms, "
              f"max {np.max(lat):.1f} ms, strides {sorted(set(strides))}")
        del x
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (includes the in-memory copies)")


if __name__ == "__main__":
    main()
