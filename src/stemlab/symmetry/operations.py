"""The symmetry operations a descriptor tests: translations, rotations about the pixel, mirrors
through the pixel.

All lengths here are in pixels; :mod:`stemlab.symmetry.segment` converts physical units.
Angles: the image frame has x along columns and y along rows; a mirror line at angle theta
runs from +x towards +y (so 90 degrees is a vertical line in the image).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError

FAMILIES = ("translations", "rotations", "mirrors")


@dataclass(frozen=True)
class OperationSet:
    """Integer translations ``(dy, dx)`` px, rotation orders (n: rotation by 360/n degrees)
    and mirror-line angles (degrees, in [0, 180))."""

    translations: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))
    rotation_orders: tuple[int, ...] = ()
    mirror_angles: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        t = np.asarray(self.translations, dtype=int).reshape(-1, 2)
        object.__setattr__(self, "translations", t)
        object.__setattr__(self, "rotation_orders", tuple(int(n) for n in self.rotation_orders))
        object.__setattr__(self, "mirror_angles", np.asarray(self.mirror_angles, dtype=float).reshape(-1) % 180.0)
        if any(n < 2 for n in self.rotation_orders):
            raise ParameterError("Rotation orders must be 2 or more (2-, 3-, 4-, 6-fold ...).")
        if len(self) == 0:
            raise ParameterError("No symmetry operations chosen: enable translations, rotations or mirrors.")

    def __len__(self) -> int:
        return len(self.translations) + len(self.rotation_orders) + len(self.mirror_angles)

    @property
    def counts(self) -> dict:
        return {"translations": len(self.translations), "rotations": len(self.rotation_orders),
                "mirrors": len(self.mirror_angles)}

    @property
    def families(self) -> np.ndarray:
        """Family name of each operation, in descriptor order."""
        return np.array(["translations"] * len(self.translations) + ["rotations"] * len(self.rotation_orders)
                        + ["mirrors"] * len(self.mirror_angles))

    @property
    def max_shift(self) -> int:
        return int(np.abs(self.translations).max()) if len(self.translations) else 0

    def labels(self) -> list[str]:
        """One short name per operation, in descriptor order (e.g. 't(+2,-4)', 'C4', 'm 35.0')."""
        return ([f"t({dy:+d},{dx:+d})" for dy, dx in self.translations]
                + [f"C{n}" for n in self.rotation_orders]
                + [f"m {a:.1f}" for a in self.mirror_angles])

    def to_dict(self) -> dict:
        return {"translations": self.translations.tolist(), "rotation_orders": list(self.rotation_orders),
                "mirror_angles": self.mirror_angles.tolist()}


def make_operations(window_px: float, *, n_translations: int = 100, rotation_orders=(2, 3, 4, 6),
                    n_mirrors: int = 180, families=FAMILIES) -> OperationSet:
    """Operations for a search window of diameter ``window_px``.

    Translations: an integer grid in the half disk |t| <= window/2 (t and -t carry the same
    information: the descriptor of -t is the one of t seen from the shifted pixel), with the
    grid step chosen so that about ``n_translations`` vectors fit. Rotations: by 360/n degrees
    for each n in ``rotation_orders``. Mirrors: ``n_mirrors`` line angles evenly over 180 degrees.
    """
    families = tuple(families)
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ParameterError(f"Unknown operation families {sorted(unknown)}; choose from {FAMILIES}.")
    translations = np.zeros((0, 2), int)
    if "translations" in families and n_translations > 0:
        radius = window_px / 2.0
        if radius < 1:
            raise ParameterError(f"Search window of {window_px:.3g} px is too small for translations; "
                                 "make it at least 2 pixels (about two lattice spacings is typical).")
        translations = half_disk_grid(radius, n_translations)
    orders = tuple(rotation_orders) if "rotations" in families else ()
    angles = np.arange(n_mirrors) * (180.0 / n_mirrors) if ("mirrors" in families and n_mirrors > 0) else np.zeros(0)
    return OperationSet(translations, orders, angles)


def half_disk_grid(radius: float, n: int) -> np.ndarray:
    """About ``n`` integer vectors (dy, dx) on a square grid in the half disk 0 < |t| <= radius."""
    best = None
    for step in range(1, int(radius) + 1):
        r = int(np.floor(radius / step))
        g = np.arange(-r, r + 1) * step
        dy, dx = np.meshgrid(g, g, indexing="ij")
        dy, dx = dy.ravel(), dx.ravel()
        keep = (dy**2 + dx**2 <= radius**2) & ((dy > 0) | ((dy == 0) & (dx > 0)))
        t = np.stack([dy[keep], dx[keep]], 1)
        if best is None or abs(len(t) - n) < abs(len(best) - n):
            best = t
        if len(t) <= n:
            break
    return best
