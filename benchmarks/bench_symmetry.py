"""Symmetry-descriptor segmentation: speed against the per-patch reference, and accuracy
against ground truth over noise levels. Prints tables (figures go to docs/segmentation.md).

    python benchmarks/bench_symmetry.py speed [--size 1024] [--device cpu|cuda]
    python benchmarks/bench_symmetry.py accuracy [--size 384]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stemlab.simulate.haadf import haadf_image
from stemlab.symmetry import make_operations, match_accuracy, reference_descriptors, segment, symmetry_descriptors


def speed(size: int, device: str, n_ref: int = 100):
    import torch

    ds = haadf_image((size, size), seed=0, dose=40)
    img = np.asarray(ds.data, np.float32)
    spacing = 10.0  # px (Al {200} at 0.02 nm/px)
    ops = make_operations(3 * spacing, n_translations=100, n_mirrors=180)
    sigma = 2 * spacing / 4
    print(f"image {size}x{size}, {len(ops)} operations {ops.counts}, sigma {sigma} px, device {device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'what':<42}{'stride':>7}{'seconds':>10}")
    for families, label in ((("translations",), "fast: translations only"),
                            (("translations", "rotations", "mirrors"), "fast: full set")):
        o = make_operations(3 * spacing, n_translations=100, n_mirrors=180, families=families)
        for stride in (1, 3):
            symmetry_descriptors(img[:128, :128], o, sigma, stride=stride, device=device)  # warm-up
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            symmetry_descriptors(img, o, sigma, stride=stride, device=device)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            print(f"{label + f' ({len(o)} ops)':<42}{stride:>7}{time.perf_counter() - t:>10.2f}")
    rng = np.random.default_rng(0)
    pts = rng.integers(40, size - 40, size=(n_ref, 2))
    t = time.perf_counter()
    ref = reference_descriptors(img, ops, sigma, pts)
    per_px = (time.perf_counter() - t) / n_ref
    print(f"{'reference per-patch (extrapolated)':<42}{1:>7}{per_px * size * size:>10.1f}")
    print(f"{'reference per-patch (extrapolated)':<42}{3:>7}{per_px * (size / 3) ** 2:>10.1f}")
    fast = symmetry_descriptors(img, ops, sigma, stride=1, device=device)[:, pts[:, 0], pts[:, 1]].T
    fam = ops.families
    for name in ("translations", "rotations", "mirrors"):
        k = fam == name
        print(f"max |fast - reference| {name}: {np.abs(fast[:, k] - ref[:, k]).max():.4f}")


def scenario_image(size: int, dose: float, crop: bool = False, **kw):
    """haadf_image of size x size; ``crop``: the top half of a (2 size, size) image (no ellipse)."""
    from stemlab import Axis

    if not crop:
        return haadf_image((size, size), seed=3, dose=dose, **kw)
    full = haadf_image((2 * size, size), seed=3, dose=dose, **kw)
    gt = dict(full.metadata["ground_truth"])
    gt["labels"] = gt["labels"][:size]
    ay = full.axes[0]
    return full.with_data(np.asarray(full.data)[:size], axes=(Axis(ay.name, size, ay.scale, ay.offset, ay.units),
                                                               full.axes[1]), ground_truth=gt)


def accuracy(size: int, doses=(1000.0, 100.0, 40.0, 15.0, 6.0, 3.0, 1.5)):
    from scipy import ndimage

    scenarios = {  # name: (haadf_image arguments, {truth label: merged into})
        "two phases (matrix + precipitate)": (dict(rotations_deg=(12.0, 12.0, 5.0)), {1: 0}),
        "three grains of one phase": (dict(phases=("Al", "Al"), rotations_deg=(12.0, 37.0, 5.0)), {}),
        # top half of a twice-as-tall image: the boundary without the (here same-orientation) ellipse
        "grain boundary (two grains)": (dict(phases=("Al", "Al"), rotations_deg=(12.0, 37.0, 12.0), crop=True), {}),
        "grains + boundary + second phase": (dict(), {}),
    }
    print(f"image {size}x{size}; accuracy after matching labels (accuracy away from boundaries); K found/true")
    print(f"{'scenario':<36}" + "".join(f"{f'dose {d:g}':>22}" for d in doses), flush=True)
    for name, (kw, merge) in scenarios.items():
        row = f"{name:<36}"
        for dose in doses:
            ds = scenario_image(size, dose, **kw)
            truth = ds.metadata["ground_truth"]["labels"].copy()
            for src, dst in merge.items():
                truth[truth == src] = dst
            k_true = len(np.unique(truth))
            res = segment(ds, device="cpu")
            lab = res.labels.data
            acc = match_accuracy(lab, truth)
            edge = ndimage.morphological_gradient(truth, size=3) > 0
            far = ~ndimage.binary_dilation(edge, iterations=int(res.parameters["patch_px"] / 2))
            acc_far = match_accuracy(lab[far], truth[far])
            row += f"{f'{100 * acc:.1f} ({100 * acc_far:.1f}) {res.n_segments}/{k_true}':>22}"
        print(row, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("speed", "accuracy"))
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--doses", default="1000,100,40,15,6,3,1.5", help="electrons per pixel, comma-separated")
    args = parser.parse_args()
    if args.what == "speed":
        speed(args.size or 1024, args.device)
    else:
        accuracy(args.size or 384, tuple(float(d) for d in args.doses.split(",")))
