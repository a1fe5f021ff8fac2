"""Virtual detector shapes in detector pixel coordinates and their anti-aliased masks.

Coordinates are float pixel positions: ``cy``/``y`` along rows, ``cx``/``x`` along
columns; pixel ``(i, j)`` covers ``[i - 0.5, i + 0.5) x [j - 0.5, j + 0.5)`` with its
centre at ``(i, j)``. Masks hold the fraction of each pixel's area inside the shape
(estimated by ``supersample x supersample`` sub-pixel sampling), so a virtual image
changes smoothly while a detector is dragged by sub-pixel amounts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Union

import numpy as np

from ..errors import ParameterError


@dataclass(frozen=True)
class Disk:
    """Disk of radius ``r`` (px) centred at row ``cy``, column ``cx`` (px)."""

    cy: float
    cx: float
    r: float

    def __post_init__(self):
        if not self.r > 0:
            raise ParameterError(f"Disk radius must be positive, got r={self.r}.")

    def bbox(self):
        return (self.cy - self.r, self.cx - self.r, self.cy + self.r, self.cx + self.r)


@dataclass(frozen=True)
class Annulus:
    """Ring between radii ``r_in`` and ``r_out`` (px) centred at ``(cy, cx)`` (px)."""

    cy: float
    cx: float
    r_in: float
    r_out: float

    def __post_init__(self):
        if not (0 <= self.r_in < self.r_out):
            raise ParameterError(f"Annulus needs 0 <= r_in < r_out, got r_in={self.r_in}, r_out={self.r_out}.")

    def bbox(self):
        return (self.cy - self.r_out, self.cx - self.r_out, self.cy + self.r_out, self.cx + self.r_out)


@dataclass(frozen=True)
class Rectangle:
    """Axis-aligned rectangle from ``(y0, x0)`` to ``(y1, x1)`` (px, edges, ``y1 > y0``, ``x1 > x0``)."""

    y0: float
    x0: float
    y1: float
    x1: float

    def __post_init__(self):
        if not (self.y1 > self.y0 and self.x1 > self.x0):
            raise ParameterError(f"Rectangle needs y1 > y0 and x1 > x0, got {self}.")

    def bbox(self):
        return (self.y0, self.x0, self.y1, self.x1)


Detector = Union[Disk, Annulus, Rectangle]
_TYPES = {"disk": Disk, "annulus": Annulus, "rectangle": Rectangle}


def to_dict(detector: Detector) -> dict:
    """JSON-able dict ``{'type': 'disk', 'cy': ..., ...}``."""
    return {"type": type(detector).__name__.lower(), **{k: float(v) for k, v in asdict(detector).items()}}


def detector_from_dict(d: dict) -> Detector:
    """Inverse of :func:`to_dict`."""
    d = dict(d)
    kind = str(d.pop("type", "")).lower()
    if kind not in _TYPES:
        raise ParameterError(f"Unknown detector type {kind!r}; one of {sorted(_TYPES)}.")
    try:
        return _TYPES[kind](**{k: float(v) for k, v in d.items()})
    except TypeError as error:
        raise ParameterError(f"Bad {kind} detector {d}: {error}") from None


def pixel_bbox(detector: Detector, sig_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer pixel bounding box ``(y0, x0, y1, x1)`` (half-open) of the pixels the shape touches."""
    by0, bx0, by1, bx1 = detector.bbox()
    h, w = sig_shape
    y0 = int(np.clip(np.floor(by0 + 0.5), 0, h))
    x0 = int(np.clip(np.floor(bx0 + 0.5), 0, w))
    y1 = int(np.clip(np.ceil(by1 + 0.5), 0, h))
    x1 = int(np.clip(np.ceil(bx1 + 0.5), 0, w))
    return y0, x0, max(y0, y1), max(x0, x1)


def _inside(detector: Detector, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    if isinstance(detector, Rectangle):
        return (yy >= detector.y0) & (yy < detector.y1) & (xx >= detector.x0) & (xx < detector.x1)
    r2 = (yy - detector.cy) ** 2 + (xx - detector.cx) ** 2
    if isinstance(detector, Disk):
        return r2 <= detector.r ** 2
    return (r2 >= detector.r_in ** 2) & (r2 <= detector.r_out ** 2)


def mask(detector: Detector, sig_shape: tuple[int, int], supersample: int = 4) -> np.ndarray:
    """float32 mask of ``sig_shape``: area fraction (0..1) of each pixel inside ``detector``.

    Only the bounding box is supersampled, so the cost scales with the detector size.
    """
    if len(sig_shape) != 2:
        raise ParameterError(f"Detectors need a 2D signal, got signal shape {sig_shape}.")
    out = np.zeros(tuple(int(n) for n in sig_shape), np.float32)
    y0, x0, y1, x1 = pixel_bbox(detector, out.shape)
    if y1 <= y0 or x1 <= x0:
        return out
    s = int(supersample)
    offs = (np.arange(s) + 0.5) / s - 0.5
    ys = (np.arange(y0, y1)[:, None] + offs[None, :]).ravel()
    xs = (np.arange(x0, x1)[:, None] + offs[None, :]).ravel()
    inside = _inside(detector, ys[:, None], xs[None, :])
    frac = inside.reshape(y1 - y0, s, x1 - x0, s).mean(axis=(1, 3), dtype=np.float32)
    out[y0:y1, x0:x1] = frac
    return out


def default_name(detector: Detector, sig_shape: tuple[int, int] | None = None) -> str:
    """'VBF' for a disk, 'ADF' for an annulus, 'VRECT' for a rectangle."""
    return {"Disk": "VBF", "Annulus": "ADF", "Rectangle": "VRECT"}[type(detector).__name__]


def moved_to(detector: Detector, cy: float, cx: float) -> Detector:
    """The same detector centred on ``(cy, cx)`` (px): e.g. on a newly found direct beam."""
    if isinstance(detector, Rectangle):
        y0, x0, y1, x1 = detector.bbox()
        dy, dx = cy - (y0 + y1) / 2, cx - (x0 + x1) / 2
        return Rectangle(y0 + dy, x0 + dx, y1 + dy, x1 + dx)
    return replace(detector, cy=float(cy), cx=float(cx))


_SPEC_FIELDS = {"disk": 3, "annulus": 4, "rect": 4, "rectangle": 4}


def parse_detector(spec: str, centre: tuple[float, float] | None = None) -> Detector:
    """Parse 'disk:CY,CX,R', 'annulus:CY,CX,RIN,ROUT' or 'rect:Y0,X0,Y1,X1' (detector px).

    ``CY``/``CX`` may be ``c``: the direct-beam ``centre`` (row, col), or the pattern middle
    when the caller passes none yet.
    """
    kind, _, numbers = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in _SPEC_FIELDS:
        raise ParameterError(f"Detector {spec!r}: the type must be disk, annulus or rect, "
                             "e.g. 'disk:c,c,8' or 'annulus:64,64,20,60'.")
    fields = [f.strip() for f in numbers.split(",")]
    if len(fields) != _SPEC_FIELDS[kind]:
        raise ParameterError(f"Detector {spec!r}: a {kind} takes {_SPEC_FIELDS[kind]} numbers.")
    values = []
    for i, field in enumerate(fields):
        if field.lower() == "c" and i < 2 and kind != "rect" and kind != "rectangle":
            if centre is None:
                raise ParameterError(f"Detector {spec!r}: 'c' needs the direct-beam centre.")
            values.append(float(centre[i]))
            continue
        try:
            values.append(float(field))
        except ValueError:
            raise ParameterError(f"Detector {spec!r}: {field!r} is not a number.") from None
    return {"disk": Disk, "annulus": Annulus}.get(kind, Rectangle)(*values)


def area(detector: Detector) -> float:
    """Area (detector pixels^2) of the whole detector shape, on the pattern or not."""
    if isinstance(detector, Disk):
        return float(np.pi * detector.r**2)
    if isinstance(detector, Annulus):
        return float(np.pi * (detector.r_out**2 - detector.r_in**2))
    return float(max(0.0, detector.y1 - detector.y0) * max(0.0, detector.x1 - detector.x0))


def inside_fraction(detector: Detector, sig_shape: tuple[int, int]) -> float:
    """Fraction (0..1) of the detector's area that lies on a pattern of ``sig_shape`` (rows, cols)."""
    total = area(detector)
    return float(mask(detector, sig_shape).sum() / total) if total > 0 else 0.0
