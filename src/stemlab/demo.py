"""`stemlab demo`: every analysis run headless on the bundled sample data.

Writes result files (.npz with calibration) and PNG figures to one folder and returns a
printable summary that compares the results with the samples' ground truth.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def run_demo(output: str | Path, progress=None) -> str:
    """Run the demo into ``output``; returns the summary text."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"stemlab demo -> {out.resolve()}"]
    lines += _demo_4dstem(out, progress)
    lines += _demo_orientation(out, progress)
    lines += _demo_images(out)
    lines += _demo_haadf_analyses(out, progress)
    return "\n".join(lines)


def _demo_4dstem(out: Path, progress) -> list[str]:
    """Sample 4D-STEM scan: centre + descan, virtual BF/ADF, CoM, iDPC, mean/max pattern."""
    from .diffraction.analysis import explore
    from .diffraction.centre import find_direct_beam
    from .diffraction.detectors import Annulus, Disk
    from .samples import sample_4dstem

    start = time.perf_counter()
    ds = sample_4dstem()
    generated = time.perf_counter() - start

    start = time.perf_counter()
    centre = find_direct_beam(ds, progress=progress)
    centred = time.perf_counter() - start
    truth = ds.metadata["ground_truth"]["descan"]
    centre_error = float(np.sqrt(np.mean(np.sum((centre.fitted - truth) ** 2, axis=-1))))
    cy, cx = centre.median
    size = min(ds.sig_shape)
    detectors = {"BF": Disk(cy, cx, size * 0.05), "ADF": Annulus(cy, cx, size * 0.12, size * 0.45)}
    start = time.perf_counter()
    results = explore(ds, detectors, centre=centre, progress=progress)
    analysed = time.perf_counter() - start
    rate = ds.nbytes / analysed / 1e9

    results.save(out / "4dstem_results.npz")
    _figure_4dstem(ds, results, out / "4dstem.png")
    nav = ds.nav_axes
    return [
        "",
        f"4D-STEM sample: {ds.shape} {ds.dtype}, scan step {nav[0].scale:g} {nav[0].units}, "
        f"detector {ds.sig_axes[0].scale:g} {ds.sig_axes[0].units}/px (made in {generated:.1f} s)",
        f"  direct-beam centre + descan fit: {centred:.2f} s, rms error {centre_error:.3f} px against the truth",
        f"  virtual BF, ADF, CoM, DPC, iDPC, mean/max pattern in one pass: {analysed:.2f} s "
        f"({rate:.2f} GB/s)",
        f"  wrote 4dstem_results.npz ({results.summary()}) and 4dstem.png",
    ]


def _demo_orientation(out: Path, progress) -> list[str]:
    """Phase and orientation map of a 16 x 16 corner of the sample scan, against its truth."""
    from .orientation import index_orientations
    from .orientation.evaluate import evaluate_map
    from .samples import sample_4dstem

    full = sample_4dstem()
    corner = full.subset(scan_y=slice(0, 16), scan_x=slice(0, 16))
    truth = full.metadata["ground_truth"]
    corner.metadata = {**full.metadata, "ground_truth": {
        **truth, **{key: np.asarray(truth[key])[:16, :16] for key in ("phase", "orientation", "grain", "descan")}}}
    start = time.perf_counter()
    result = index_orientations(corner, ["Al", "alpha-Fe"], progress=progress)
    elapsed = time.perf_counter() - start
    result.save(out / "orientation_map.h5")
    scores = evaluate_map(result, corner)
    return [
        "",
        f"orientation map of a 16 x 16 corner ({corner.data.shape[0] * corner.data.shape[1]} patterns, Al + alpha-Fe, "
        f"1 degree library): {elapsed:.1f} s including the library",
        f"  phase correct {100 * scores['phase']:.1f} %, within 2 degrees {100 * scores['within_2deg']:.1f} %, "
        f"kinematically equivalent {100 * scores['equivalent_fraction']:.1f} % (limits: docs/orientation.md)",
        "  wrote orientation_map.h5 (orix CrystalMap with correlation and reliabilities)",
    ]


def _demo_haadf_analyses(out: Path, progress) -> list[str]:
    """Symmetry segmentation and CNN classification of the HAADF sample, against its truth."""
    import matplotlib.pyplot as plt

    from .classifier import classify
    from .results import save_datasets
    from .samples import sample_haadf
    from .symmetry import match_accuracy, segment

    image = sample_haadf()
    truth = image.metadata["ground_truth"]["labels"]
    start = time.perf_counter()
    segmentation = segment(image, progress=progress)
    segmented = time.perf_counter() - start
    accuracy = match_accuracy(np.asarray(segmentation.labels.data), truth)
    start = time.perf_counter()
    classes = classify(image, progress=progress)
    classified = time.perf_counter() - start
    class_maps = classes.datasets(image)
    save_datasets({"segmentation": segmentation.datasets()["labels"], "class": class_maps["labels"],
                   "uncertainty": class_maps["uncertainty"]}, out / "haadf_results.npz")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    axes[0].imshow(np.asarray(image.data), cmap="gray")
    axes[0].set_title("HAADF sample")
    axes[1].imshow(np.asarray(segmentation.labels.data), cmap="tab10", interpolation="nearest")
    axes[1].set_title(f"symmetry segmentation ({segmentation.n_segments} segments, {100 * accuracy:.0f} %)")
    shown = axes[2].imshow(classes.uncertainty, cmap="magma")
    axes[2].set_title("CNN uncertainty (bits)")
    fig.colorbar(shown, ax=axes[2], shrink=0.8)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out / "haadf_analyses.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return [
        "",
        f"symmetry segmentation of the HAADF sample: {segmentation.n_segments} segments (truth "
        f"{len(np.unique(truth))}), pixel accuracy {100 * accuracy:.1f} %, {segmented:.1f} s",
        f"CNN classification, {classes.passes} passes, {classified:.1f} s: {classes.summary()}",
        f"  (truth: {'; '.join(image.metadata['ground_truth']['names'])})",
        "  wrote haadf_results.npz and haadf_analyses.png",
    ]


def _figure_4dstem(ds, results, path: Path):
    import matplotlib.pyplot as plt

    truth = ds.metadata["ground_truth"]
    panels = [("BF", results["BF"]), ("ADF", results["ADF"]), ("CoM magnitude", results["CoM magnitude"]),
              ("iDPC phase", results["iDPC phase"])]
    fig, axes = plt.subplots(1, 6, figsize=(19, 3.6))
    nav = ds.nav_axes
    extent = [nav[1].offset, nav[1].offset + nav[1].size * nav[1].scale,
              nav[0].offset + nav[0].size * nav[0].scale, nav[0].offset]
    for ax, (title, result) in zip(axes, panels):
        unit = result.metadata.get("units", "")
        im = ax.imshow(np.asarray(result.data), cmap="gray", extent=extent)
        ax.set_title(title + (f" ({unit})" if unit else ""))
        ax.set_xlabel(f"x ({nav[1].units})")
        fig.colorbar(im, ax=ax, shrink=0.8)
    axes[4].imshow(truth["phase"], cmap="tab10", extent=extent, interpolation="nearest")
    axes[4].set_title("true phase: " + ", ".join(truth["phase_names"]))
    mean = np.asarray(results["mean pattern"].data)
    sig = ds.sig_axes
    k_extent = [sig[1].offset, sig[1].offset + sig[1].size * sig[1].scale,
                sig[0].offset + sig[0].size * sig[0].scale, sig[0].offset]
    axes[5].imshow(np.log1p(mean - mean.min()), cmap="magma", extent=k_extent)
    axes[5].set_title("mean pattern (log)")
    axes[5].set_xlabel(f"kx ({sig[1].units})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _demo_images(out: Path) -> list[str]:
    """The HAADF image and video samples, drawn with their ground truth."""
    import matplotlib.pyplot as plt

    from .samples import sample_haadf, sample_video

    image = sample_haadf()
    video = sample_video()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].imshow(np.asarray(image.data), cmap="gray")
    axes[0].set_title(f"HAADF sample ({image.axes[0].scale:g} {image.axes[0].units}/px)")
    axes[1].imshow(image.metadata["ground_truth"]["labels"], cmap="tab10", interpolation="nearest")
    axes[1].set_title("true segmentation")
    frames = np.asarray(video.data)
    for ax, index in zip(axes[2:], (0, len(frames) - 1)):
        ax.imshow(frames[index], cmap="gray")
        t = video.axes[0].offset + index * video.axes[0].scale
        ax.set_title(f"video frame {index} (t = {t:.3g} {video.axes[0].units})")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out / "haadf_samples.png", dpi=80)
    plt.close(fig)
    truth = video.metadata["ground_truth"]
    identifiable = truth["parameters"]["identifiable"]
    params = ", ".join(f"{k} = {v:g} {identifiable['units'][k]}" for k, v in identifiable.items() if k != "units")
    return [
        "",
        f"HAADF sample: {image.shape}, {image.axes[0].scale:g} {image.axes[0].units}/px, "
        f"{len(np.unique(image.metadata['ground_truth']['labels']))} true regions",
        f"video sample: {video.shape}, {video.axes[0].scale:g} {video.axes[0].units}/frame, "
        f"true model {truth['model']}: {params}",
        "  wrote haadf_samples.png",
    ]
