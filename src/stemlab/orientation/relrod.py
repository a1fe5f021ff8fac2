"""The relrod width of a dataset, measured: the library width whose templates fit its patterns best.

A reflection's intensity falls off with its excitation error s over a width ~ 1/thickness,
which is rarely known. A library whose width is off by a factor ~1.4 loses ~10 points of
accuracy within 2 deg, by a factor 2 about half (docs/orientation.md). The mean normalised
correlation of the best matches peaks at the data's width (simulated Al + alpha-Fe scans of
0.012-0.03 1/angstrom, random, tilted and zone-axis orientations), so indexing a sample of
patterns with a few library widths and taking the peak of the mean score measures it.
"""

from __future__ import annotations

import numpy as np

RELROD_GRID = (0.008, 0.012, 0.016, 0.02, 0.025, 0.03, 0.04)  # library widths tried, 1/angstrom
# the mean-score peak lies ~10 % below the data's width (simulated random and tilted scans of
# 0.012-0.035 1/A: 0.89-0.91 x): the best match over orientations favours sharper templates
PEAK_BIAS = 1.1
SAMPLE_PATTERNS = 256


def scan_sample(data, n: int = SAMPLE_PATTERNS, bands: int = 4):
    """Up to ``n`` patterns of a 4D-STEM :class:`~stemlab.dataset.Dataset` as a dataset with one
    navigation axis and the same detector axes: the middle of every navigation axis but the
    last two, then ``bands`` slabs of whole scan rows spread evenly over the scan (more grains
    than one central slab; few chunks of a large file are read)."""
    from ..dataset import Axis, Dataset

    nav = len(data.nav_axes)
    arr = data.data
    if nav == 0:
        arr = arr[None]
    elif nav > 2:
        arr = arr[tuple(size // 2 for size in arr.shape[:nav - 2])]
    if nav >= 2:
        ny, nx = arr.shape[:2]
        rows = max(1, -(-n // (nx * bands)))  # rows per slab
        starts = sorted({min(max(int((i + 0.5) * ny / bands) - rows // 2, 0), max(ny - rows, 0))
                         for i in range(bands)})
        slabs = [arr[r:r + rows] for r in starts]
    else:  # a line, a stack or one pattern: the middle n
        start = max(0, (arr.shape[0] - n) // 2)
        slabs = [arr[start:start + n]]
    patterns = np.concatenate([np.asarray(slab, dtype=np.float32).reshape((-1,) + tuple(data.sig_shape))
                               for slab in slabs])
    start = max(0, (len(patterns) - n) // 2)
    patterns = patterns[start:start + n]
    axes = (Axis("pattern", len(patterns), navigate=True),) + tuple(data.sig_axes)
    return Dataset(patterns, axes, kind="4dstem", name=f"{data.name} (relrod sample)", metadata=dict(data.metadata))


def estimate_relrod_width(scores_for, widths=RELROD_GRID, progress=None, cancel=None):
    """Relrod width (1/angstrom) that maximises the mean score of a sample of patterns, and the
    mean score per library width tried.

    ``scores_for(width)`` is the matcher factory: it indexes the sample (e.g. :func:`scan_sample`)
    with a library of relrod width ``width`` (1/angstrom) and returns the best-match scores
    (:func:`~stemlab.orientation.index_orientations` does so with its own options).
    The peak is refined by a parabola in log(width) through the best width and its neighbours
    (at the ends of ``widths``: the end) and corrected by ``PEAK_BIAS``."""
    from ..backend.progress import check, report

    scores = {}
    for i, width in enumerate(widths):
        check(cancel)
        scores[float(width)] = float(np.mean(scores_for(float(width))))
        report(progress, i + 1, len(widths), f"relrod width {width:g} 1/A: mean score {scores[float(width)]:.3f}")
    w = np.array(list(scores))
    s = np.array(list(scores.values()))
    best = int(np.argmax(s))
    if best in (0, len(w) - 1):
        return float(w[best]) * PEAK_BIAS, scores
    x = np.log(w[best - 1:best + 2])
    a, b, _ = np.polyfit(x, s[best - 1:best + 2], 2)
    peak = -b / (2 * a) if a < 0 else x[1]
    return float(np.exp(np.clip(peak, x[0], x[2]))) * PEAK_BIAS, scores
