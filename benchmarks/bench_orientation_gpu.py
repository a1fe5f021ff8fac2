"""Orientation mapping on a CUDA GPU: patterns/s of the batched matcher, and agreement with the CPU.

The same code path as on the CPU (:class:`stemlab.orientation.Matcher` on torch tensors; batches
of 1024 patterns on CUDA), fed from host memory (numpy) and, when cupy is installed, from cupy
arrays already on the GPU (shared with torch through ``__cuda_array_interface__``, no copy to the
host). Prints one row per input kind; without CUDA it says so and exits 0.

    python benchmarks/bench_orientation_gpu.py [--scan 64] [--file patterns.npy --calibration 0.02]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--scan", type=int, default=64, help="side of the simulated scan (patterns = scan^2)")
    ap.add_argument("--file", help="a .npy of patterns (..., ky, kx) instead of the simulated scan")
    ap.add_argument("--calibration", type=float, default=0.03, help="1/A per px (with --file)")
    ap.add_argument("--check", type=int, default=256, help="patterns also indexed on the CPU and compared")
    args = ap.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print(f"no CUDA device (torch {torch.__version__}): nothing to measure")
        return 0
    from stemlab.orientation import Matcher, MatchSettings, build_library

    if args.file:
        data = np.load(args.file, mmap_mode="r")
        patterns = np.ascontiguousarray(data.reshape((-1,) + data.shape[-2:]), dtype=np.float32)
        cal, phases, s_width = args.calibration, ["Al"], 0.02
    else:
        from stemlab.simulate.fourd import two_phase_scan

        cal, phases, s_width = 0.03, ["Al", "alpha-Fe"], 0.025
        ds = two_phase_scan(scan_shape=(args.scan, args.scan), seed=7, descan_offset=(0, 0),
                            descan_gradient=((0, 0), (0, 0)), reciprocal_pixel=cal, s_width=s_width,
                            zone_axis_fraction=0.0, n_grains=max(14, args.scan ** 2 // 12))
        patterns = np.asarray(ds.data, np.float32).reshape((-1,) + ds.data.shape[-2:])
    shape = patterns.shape[-2:]
    lib = build_library(phases, resolution_deg=1.0, g_max=float(np.hypot(*shape)) / 2 * cal, s_width=s_width)
    settings = MatchSettings(calibration=cal)
    centre = (shape[0] // 2, shape[1] // 2)
    gpu = Matcher(lib, settings, shape, "cuda", centre)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {len(patterns)} patterns of {shape}, "
          f"{len(lib)} templates, batch {gpu.batch}")
    inputs = [("numpy (host)", patterns)]
    try:
        import cupy

        inputs.append(("cupy (on the GPU)", cupy.asarray(patterns)))
    except ImportError:
        print("cupy not installed: host input only")
    for name, x in inputs:
        gpu.match(x[:gpu.batch])  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        res = {}
        for i in range(0, len(x), gpu.batch):
            part = gpu.match(x[i:i + gpu.batch])
            for k, v in part.items():
                res.setdefault(k, []).append(v)
        torch.cuda.synchronize()
        t = time.perf_counter() - t0
        print(f"{name:<20} {len(x) / t:>10.0f} patterns/s")
    res = {k: np.concatenate(v) for k, v in res.items()}
    n = min(args.check, len(patterns))
    cpu = Matcher(lib, settings, shape, "cpu", centre).match(patterns[:n])
    same = np.mean(cpu["template"] == res["template"][:n])
    print(f"CPU vs CUDA on {n} patterns: same template {same * 100:.1f} %, "
          f"score difference max {np.abs(cpu['score'] - res['score'][:n]).max():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
