"""Run the crystal classifier on the real images in ../shared/data/images and draw the maps
for docs/classification.md (docs/images/classify_<name>.png). Prints a summary table.

    python benchmarks/classify_real_images.py [--out docs/images]

The high-entropy-alloy image stores no calibration: its pixel size is estimated here from the
image's own FFT, assuming an fcc lattice constant of 3.6 angstrom (see the docs).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "images"
FILES = {
    "au_nanoparticle": ("velox_haadf_au_nanoparticle.emd", None),
    "srtio3": ("hspy_adf_srtio3.hdf5", None),
    "mos2": ("gatan_adf_se_mos2.dm3", None),
    "high_entropy_alloy": ("haadf_high_entropy_alloy.npy", "estimate"),
}


def estimate_pixel_size_fcc(image, a=3.6) -> float:
    """Pixel size (angstrom) that puts the strongest FFT ring of ``image`` at an fcc {111}/{200} spacing.

    A rough calibration for an uncalibrated fcc image: the strongest non-central peak of the
    azimuthally averaged power spectrum is taken as {111} (d = a / sqrt 3).
    """
    img = np.asarray(image, dtype=np.float64)
    n = min(img.shape)
    img = img[:n, :n] - img[:n, :n].mean()
    p = np.abs(np.fft.fftshift(np.fft.fft2(img * np.outer(np.hanning(n), np.hanning(n))))) ** 2
    yy, xx = np.indices(p.shape) - n // 2
    r = np.hypot(yy, xx).astype(int)
    prof = np.bincount(r.ravel(), p.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    lo, hi = n // 50, n // 6  # lattice fringes 6-50 pixels apart
    k = lo + int(np.argmax(prof[lo:hi] * np.arange(lo, hi) ** 2))  # k^2 flattens the 1/k^2 background
    d_px = n / k
    return (a / np.sqrt(3)) / d_px


def main(argv=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stemlab.classifier.inference import classify
    from stemlab.io import load_one

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "images"))
    ap.add_argument("--passes", type=int, default=30)
    ap.add_argument("--only", nargs="*", default=None, help="image keys to run")
    ap.add_argument("--weights", default=None, help="classifier weights folder (default: shipped)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("| image | pixel size (A) | windows | seconds | top classes (not unknown, not ambiguous) | unknown | "
          "ambiguous | unknown or ambiguous | median a (A) |\n|---|---|---|---|---|---|---|---|---|")
    for key, (fname, calib) in FILES.items():
        if args.only and key not in args.only:
            continue
        path = SHARED / fname
        if not path.exists():
            print(f"| {key} | missing | | | | | | | |")
            continue
        ds = load_one(path)
        data = np.asarray(ds.data, dtype=np.float32)
        ds = ds.with_data(data)
        pixel_size = None
        if calib == "estimate":
            pixel_size = estimate_pixel_size_fcc(data)
        t0 = time.perf_counter()
        res = classify(ds, pixel_size=pixel_size, passes=args.passes, weights=args.weights)
        dt = time.perf_counter() - t0
        names = np.array(res.class_names)
        ok = ~res.unknown & ~res.ambiguous
        counts = np.bincount(res.labels[ok].ravel() - 1, minlength=len(names))
        top = ", ".join(f"{names[i]} {counts[i] / res.labels.size:.0%}" for i in np.argsort(-counts)[:3] if counts[i])
        med_a = float(np.nanmedian(res.lattice_constant[ok])) if ok.any() else float("nan")
        amb = "; ".join(f"{t} {v:.0%}" for t, v in res.ambiguities()[:2])
        print(f"| {key} | {res.info['pixel_size_angstrom']:.4f} | {res.info['windows']} | {dt:.1f} | {top or '-'} | "
              f"{res.unknown.mean():.0%} | {res.ambiguous.mean():.0%} {amb} | "
              f"{(res.unknown | res.ambiguous).mean():.0%} | {med_a:.2f} |")

        fig, axes = plt.subplots(1, 5, figsize=(22, 4.6))
        ext_img = [0, data.shape[1], data.shape[0], 0]
        lo, hi = np.percentile(data, [1, 99.5])
        axes[0].imshow(data, cmap="gray", vmin=lo, vmax=hi, extent=ext_img)
        axes[0].set_title(f"{key} ({res.info['pixel_size_angstrom']:.3f} Å/px)")
        ay, ax = res.axes
        f = res.info["pixel_size_angstrom"]
        from stemlab.units import convert

        def to_px(axis, base_axis):
            start = convert(axis.offset - base_axis.offset, axis.units, "angstrom") / f if base_axis.units else 0
            step = convert(axis.scale, axis.units, "angstrom") / f
            return start - step / 2, start + step * (axis.size - 0.5)

        y0, y1 = to_px(ay, ds.axes[0]) if ds.axes[0].units else (0, data.shape[0])
        x0, x1 = to_px(ax, ds.axes[1]) if ds.axes[1].units else (0, data.shape[1])
        ext = [x0, x1, y1, y0]
        cmap = plt.get_cmap("tab10", len(names))
        shown = np.ma.masked_where(res.unknown | res.ambiguous, res.labels - 1)
        axes[1].imshow(data, cmap="gray", vmin=lo, vmax=hi, extent=ext_img)
        im = axes[1].imshow(shown, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, alpha=0.55, extent=ext,
                            interpolation="nearest")
        cb = fig.colorbar(im, ax=axes[1], ticks=range(len(names)))
        cb.ax.set_yticklabels(names, fontsize=7)
        axes[1].set_title("class (unknown and ambiguous masked)")
        im = axes[2].imshow(res.uncertainty, cmap="magma", extent=ext, vmin=0, vmax=max(0.3, res.threshold * 3))
        fig.colorbar(im, ax=axes[2])
        axes[2].set_title("uncertainty (MI, bits)")
        rot = np.where(res.unknown, np.nan, res.rotation)
        period = res.rotation_period()  # a cyclic map over one symmetry period: no false edge at the wrap
        im = axes[3].imshow(rot, cmap="twilight", extent=ext, vmin=0, vmax=period)
        fig.colorbar(im, ax=axes[3])
        axes[3].set_title(f"rotation (deg, mod {period:g})")
        lat = np.where(res.unknown, np.nan, res.lattice_constant)
        finite = lat[np.isfinite(lat)]
        v = np.percentile(finite, [5, 95]) if finite.size else (0, 1)
        im = axes[4].imshow(lat, cmap="viridis", extent=ext, vmin=v[0], vmax=v[1])
        fig.colorbar(im, ax=axes[4])
        axes[4].set_title("lattice constant (Å)")
        for a in axes:
            a.set_xticks([])
            a.set_yticks([])
        fig.tight_layout()
        fig.savefig(out / f"classify_{key}.png", dpi=70)
        plt.close(fig)


if __name__ == "__main__":
    main()
