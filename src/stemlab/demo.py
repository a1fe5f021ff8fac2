"""`stemlab demo`: every analysis run headless on the bundled sample data.

Writes result files (.npz with calibration), the sample video as a calibrated ``video.hspy``
(the input of ``stemlab phasefield``), PNG figures (scale bars in physical units, legends)
and ``summary.txt`` to one folder, and returns that summary, which compares the results
with the samples' ground truth.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def run_demo(output: str | Path, progress=None) -> str:
    """Run the demo into ``output``; returns the summary text, also written to ``summary.txt``."""
    import matplotlib

    from .io.writers import atomic_write

    matplotlib.use("Agg")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"stemlab demo -> {out.resolve()}"]
    lines += _demo_4dstem(out, progress)
    lines += _demo_orientation(out, progress)
    lines += _demo_images(out)
    lines += _demo_haadf_analyses(out, progress)
    lines += ["", "wrote summary.txt (this text)"]
    summary = "\n".join(lines)
    with atomic_write(out / "summary.txt") as tmp:
        tmp.write_text(summary + "\n", encoding="utf-8")
    return summary


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
    fig, axes = plt.subplots(1, 4, figsize=(19, 5.6))
    _show(axes[0], image.data, image.axes, cmap="gray")
    axes[0].set_title("HAADF sample")
    K = segmentation.n_segments
    _show_labels(axes[1], segmentation.labels.data, [f"segment {k}" for k in range(1, K + 1)], image.axes,
                 background=image.data)
    axes[1].set_title(f"symmetry segmentation\n({K} segments, {100 * accuracy:.0f} % pixel accuracy)")
    grid = classes.axes
    _show_labels(axes[2], classes.labels, list(classes.class_names), grid, unknown=np.asarray(classes.unknown))
    axes[2].set_title(f"CNN classes ({classes.passes} passes,\n{classes.window_angstrom:g} Å windows)")
    shown = _show(axes[3], classes.uncertainty, grid, cmap="magma")
    axes[3].set_title("CNN uncertainty\n(mutual information)")
    fig.colorbar(shown, ax=axes[3], shrink=0.75).ax.set_title("bits", fontsize=9)
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
    panels = [("virtual BF", results["BF"]), ("virtual ADF", results["ADF"]),
              ("CoM magnitude", results["CoM magnitude"]), ("iDPC phase", results["iDPC phase"])]
    fig, axes = plt.subplots(1, 6, figsize=(21, 4.4))
    nav = ds.nav_axes
    for ax, (title, result) in zip(axes, panels):
        unit = result.metadata.get("units", "")
        im = _show(ax, result.data, nav, cmap="gray")
        ax.set_title(title)
        bar = fig.colorbar(im, ax=ax, shrink=0.75)
        bar.ax.set_title(_unit_text(unit) or "counts", fontsize=9)
    _show_labels(ax=axes[4], labels=np.asarray(truth["phase"]), names=list(truth["phase_names"]), axes=nav,
                 first=0)
    axes[4].set_title("true phase")
    mean = np.asarray(results["mean pattern"].data)
    _show(axes[5], np.log1p(mean - mean.min()), ds.sig_axes, cmap="magma")
    axes[5].set_title("mean pattern (log)")
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


# -- figure helpers: calibrated images with scale bars, label maps with legends ----------------------
LABEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf")  # tab10 without its grey, which marks 'unknown'



def _unit_text(unit: str) -> str:
    return unit.replace("angstrom", "Å").replace("um", "µm") if unit else ""


def _extent(axes, shape):
    """imshow extent (left, right, bottom, top) of pixel centres at ``offset + i * scale``."""
    (ay, ax), (h, w) = axes[-2:], shape[-2:]
    return [ax.offset - ax.scale / 2, ax.offset + (w - 0.5) * ax.scale,
            ay.offset + (h - 0.5) * ay.scale, ay.offset - ay.scale / 2]


def _scale_bar(ax, axis, width_units: float) -> None:
    """A white scale bar of a round length (about 1/5 of ``width_units``) in the lower right."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    target = width_units / 5
    decade = 10 ** np.floor(np.log10(target))
    length = max(m * decade for m in (1, 2, 5) if m * decade <= target)
    label = f"{length:g} {_unit_text(axis.units) or 'px'}"
    bar = AnchoredSizeBar(ax.transData, length, label, "lower right", pad=0.3, borderpad=0.5, sep=3,
                          color="white", frameon=True, size_vertical=width_units / 120,
                          fontproperties={"size": 10, "weight": "bold"})
    bar.patch.set_facecolor("black")
    bar.patch.set_alpha(0.55)
    bar.patch.set_edgecolor("none")
    ax.add_artist(bar)


def _show(ax, data, axes, **kwargs):
    """``data`` on its calibrated axes (the last two of ``axes``), axis frame off, scale bar on."""
    data = np.asarray(data)
    extent = _extent(axes, data.shape[:2])
    im = ax.imshow(data, extent=extent, interpolation="nearest", **kwargs)
    ax.set_axis_off()
    _scale_bar(ax, axes[-1], extent[1] - extent[0])
    return im


def _show_labels(ax, labels, names, axes, first: int = 1, background=None, unknown=None):
    """A label map in LABEL_COLOURS (label ``first + i`` is ``names[i]``; colours in order of the labels
    present) with a legend below the
    panel; ``background``: an image (same axes) under semi-transparent labels; ``unknown``: a
    mask drawn grey ('unknown / interface')."""
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

    labels = np.asarray(labels)
    rgb = np.zeros(labels.shape + (3,))
    present = []
    for i, name in enumerate(names):
        hit = labels == first + i
        if unknown is not None:
            hit &= ~unknown
        if hit.any():  # colours in order of the labels present (distinct from the grey of 'unknown')
            colour = LABEL_COLOURS[len(present) % len(LABEL_COLOURS)]
            rgb[hit] = to_rgb(colour)
            present.append(Patch(color=colour, label=name))
    if unknown is not None and unknown.any():
        rgb[unknown] = (0.6, 0.6, 0.6)
        present.append(Patch(color=(0.6, 0.6, 0.6), label="unknown / interface"))
    if background is not None:
        _show(ax, background, axes[-2:] if len(axes) > 2 else axes, cmap="gray")
        ax.imshow(rgb, extent=_extent(axes, labels.shape), alpha=0.45, interpolation="nearest")
    else:
        _show(ax, rgb, axes)
    ax.legend(handles=present, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=1, fontsize=9,
              frameon=False)


def _demo_images(out: Path) -> list[str]:
    """The HAADF image and video samples, drawn with their ground truth; the video saved for
    ``stemlab phasefield``."""
    import matplotlib.pyplot as plt

    from .io.writers import save_dataset
    from .samples import sample_haadf, sample_video

    image = sample_haadf()
    video = sample_video()
    save_dataset(video, out / "video.hspy")
    fig, axes = plt.subplots(1, 4, figsize=(18, 5.2))
    _show(axes[0], image.data, image.axes, cmap="gray")
    axes[0].set_title(f"HAADF sample ({image.axes[0].scale:g} {_unit_text(image.axes[0].units)}/px)")
    gt = image.metadata["ground_truth"]
    _show_labels(axes[1], gt["labels"], list(gt["names"]), image.axes, first=0)
    axes[1].set_title("true regions")
    frames = np.asarray(video.data)
    for ax, index in zip(axes[2:], (0, len(frames) - 1)):
        _show(ax, frames[index], video.axes, cmap="gray")
        t = video.axes[0].offset + index * video.axes[0].scale
        ax.set_title(f"video frame {index} (t = {t:.3g} {video.axes[0].units})")
    fig.savefig(out / "haadf_samples.png", dpi=80, bbox_inches="tight")
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
        f"  wrote haadf_samples.png and video.hspy (calibrated: {video.axes[0].scale:g} {video.axes[0].units}/frame, "
        f"{video.axes[-1].scale:g} {video.axes[-1].units}/px); fit it with",
        f"  stemlab phasefield {out / 'video.hspy'} --model allen-cahn --steps 800 -o fit.npz",
    ]
