"""Virtual detectors drawn as napari Shapes on the diffraction pattern, in pattern pixels.

One Shapes layer per detector: a disk is one ellipse, an annulus two concentric ellipses
(outer first), a rectangle one rectangle. The layer has the pattern's scale and units, so
its vertices are detector pixel coordinates (row, col).
"""

from __future__ import annotations

import numpy as np

from ..diffraction.detectors import Annulus, Disk, Rectangle

DETECTOR_KEY = "stemlab_detector"
COLOURS = ["#ffd700", "#00e5ff", "#ff4fd8", "#7CFC00", "#ff8c00", "#b0a0ff"]


def ellipse_vertices(cy: float, cx: float, r: float) -> np.ndarray:
    """The four bounding-box corners napari uses for an ellipse of radius ``r``."""
    return np.array([[cy - r, cx - r], [cy - r, cx + r], [cy + r, cx + r], [cy + r, cx - r]], float)


def shapes_data(detector) -> tuple[list[np.ndarray], list[str]]:
    """Shape vertices and shape types that draw ``detector``."""
    if isinstance(detector, Disk):
        return [ellipse_vertices(detector.cy, detector.cx, detector.r)], ["ellipse"]
    if isinstance(detector, Annulus):
        return ([ellipse_vertices(detector.cy, detector.cx, detector.r_out),
                 ellipse_vertices(detector.cy, detector.cx, detector.r_in)], ["ellipse", "ellipse"])
    if isinstance(detector, Rectangle):
        y0, x0, y1, x1 = detector.y0, detector.x0, detector.y1, detector.x1
        return [np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], float)], ["rectangle"]
    raise TypeError(f"Not a detector: {detector!r}")


def _circle(vertices: np.ndarray) -> tuple[float, float, float]:
    """Centre and mean radius of an ellipse given by its bounding-box corners."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    centre = (lo + hi) / 2
    return float(centre[0]), float(centre[1]), float(np.mean(hi - lo) / 2)


def detector_from_shapes(kind: str, data: list[np.ndarray]):
    """Rebuild the detector from the (possibly user-edited) shape vertices; None if incomplete."""
    if kind == "disk" and len(data) >= 1:
        return Disk(*_circle(data[0]))
    if kind == "annulus" and len(data) >= 2:
        (cy, cx, r_a), (_, _, r_b) = _circle(data[0]), _circle(data[1])
        return Annulus(cy, cx, min(r_a, r_b), max(r_a, r_b))
    if kind == "rectangle" and len(data) >= 1:
        lo, hi = data[0].min(axis=0), data[0].max(axis=0)
        return Rectangle(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    return None


def default_detector(kind: str, centre: tuple[float, float], sig_shape: tuple[int, int]):
    """A sensible first detector: BF disk, ADF annulus or a rectangle around the centre (px)."""
    cy, cx = centre
    size = min(sig_shape)
    if kind == "disk":
        return Disk(cy, cx, max(2.0, size * 0.06))
    if kind == "annulus":
        return Annulus(cy, cx, size * 0.15, size * 0.4)
    if kind == "rectangle":
        h = size * 0.1
        return Rectangle(cy - h, cx + h, cy + h, cx + 3 * h)
    raise ValueError(f"Unknown detector kind {kind!r}: disk, annulus or rectangle.")
