"""Symmetry segmentation of the real images in ../shared/data/images, with figures for
docs/segmentation.md (docs/images/segmentation_<name>.png). Prints a summary table.

    python benchmarks/segment_real_images.py [--out docs/images] [--only hea,mos2]

Automatic defaults (patch, window, stride from the lattice spacing; automatic segment
count) except where FILES says otherwise; the 2048 x 2048 Au image is binned 2 x 2 first.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "images"
FILES = {  # name: (file, binning, parameters other than the defaults)
    # lattice fringes of 4.5 px: the default patch (2 spacings, 9 px) sees too little of the
    # twin/lamella structure; 20 px patches on a stride of 3 px
    "high_entropy_alloy": ("haadf_high_entropy_alloy.npy", 1, dict(patch="20px", window="20px", stride=3)),
    "mos2": ("gatan_adf_se_mos2.dm3", 1, {}),
    "srtio3": ("hspy_adf_srtio3.hdf5", 1, {}),
    "au_nanoparticle": ("velox_haadf_au_nanoparticle.emd", 2, {}),
}


def binned(ds, b: int):
    from stemlab import Axis

    if b == 1:
        return ds
    a = np.asarray(ds.data, np.float32)
    h, w = (a.shape[0] // b) * b, (a.shape[1] // b) * b
    a = a[:h, :w].reshape(h // b, b, w // b, b).mean((1, 3))
    axes = tuple(Axis(ax.name, n, ax.scale * b, ax.offset, ax.units) for ax, n in zip(ds.axes, a.shape))
    return ds.with_data(a, axes=axes)


def figure(image, labels, title, path, max_px: int = 320):
    """Image and labels overlay side by side; saved as a 128-colour PNG (a few 100 KB at most)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    step = max(1, int(np.ceil(max(image.shape) / max_px)))
    img = np.asarray(image, np.float32)
    h, w = (img.shape[0] // step) * step, (img.shape[1] // step) * step
    img = img[:h, :w].reshape(h // step, step, w // step, step).mean((1, 3))  # binned for display
    lab = np.asarray(labels)[:h:step, :w:step]
    lo, hi = np.percentile(img, (0.5, 99.5))
    fig, axs = plt.subplots(1, 2, figsize=(8.0, 4.3), dpi=80)
    for ax in axs:
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_axis_off()
    K = int(lab.max())
    cmap = plt.get_cmap("tab10", 10)
    axs[1].imshow(np.ma.masked_less(lab, 1), cmap=cmap, vmin=0.5, vmax=10.5, alpha=0.45, interpolation="nearest")
    if K > 1:
        axs[1].contour(lab, levels=np.arange(1.5, K + 0.5), colors="yellow", linewidths=0.6)
    axs[0].set_title("image", fontsize=9)
    axs[1].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)


def main(argv=None):
    from stemlab.io import load_one
    from stemlab.symmetry import segment

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "images"))
    ap.add_argument("--only", default="", help="comma-separated names")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = [s for s in args.only.split(",") if s]
    print(f"{'image':<22}{'shape':>12}{'spacing px':>12}{'stride':>8}{'K':>4}  {'fractions':<28}{'seconds':>8}")
    for name, (fname, b, kwargs) in FILES.items():
        if only and name not in only:
            continue
        path = SHARED / fname
        if not path.exists():
            print(f"{name:<22} missing {path}")
            continue
        ds = binned(load_one(path, lazy=False), b)
        t = time.perf_counter()
        res = segment(ds, device=args.device, **kwargs)
        dt = time.perf_counter() - t
        p = res.parameters
        frac = ", ".join(f"{f:.2f}" for f in res.fractions[0])
        print(f"{name:<22}{str(ds.shape):>12}{p['lattice_spacing_px']:>12.1f}{p['stride']:>8}{res.n_segments:>4}  "
              f"{frac:<28}{dt:>8.1f}", flush=True)
        title = (f"{res.n_segments} segments (auto), patch {p['patch_px']:.0f} px, "
                 f"{p['n_operations']} operations, {dt:.0f} s")
        figure(np.asarray(ds.data), res.labels.data, title, out / f"segmentation_{name}.png")


if __name__ == "__main__":
    main()
