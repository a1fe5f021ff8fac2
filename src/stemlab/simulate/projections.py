"""Zone-axis projections used by the crystal-structure classifier (and its tests).

Each entry names a crystal structure seen along a low-index zone axis, builds it at any
lattice constant (and c/a for hcp and tetragonal lattices) and projects it into atomic
columns with :func:`stemlab.simulate.haadf.project_structure`. The ten classes of the
shipped classifier are in :data:`CLASS_PROJECTIONS`; :data:`EXTRA_PROJECTIONS` holds
structures the classifier never saw (diamond cubic, tetragonal) for out-of-distribution tests.

Hexagonal zone axes are given in four-index Miller-Bravais notation in the names and
converted to three-index lattice directions: [UVTW] -> [U - T, V - T, W].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..crystal.structure import Site, Structure, bcc, diamond, fcc, hcp
from .haadf import ProjectedLattice, project_structure


def miller_bravais_to_uvw(uvtw) -> tuple[int, int, int]:
    """[U V T W] (hexagonal four-index direction) -> [u v w] three-index lattice direction, reduced."""
    U, V, T, W = (int(i) for i in uvtw)
    if U + V + T != 0:
        raise ParameterError(f"[{U} {V} {T} {W}] is not a Miller-Bravais direction: U + V + T must be 0.")
    uvw = np.array([U - T, V - T, W])
    g = np.gcd.reduce(np.abs(uvw[uvw != 0])) if np.any(uvw) else 1
    return tuple(int(i) for i in uvw // g)


def tetragonal(element: str, a: float, c: float, centred: bool = False) -> Structure:
    """A simple (P) or body-centred (I) tetragonal element lattice (for out-of-distribution tests)."""
    sites = [Site(element, (0.0, 0.0, 0.0))]
    if centred:
        sites.append(Site(element, (0.5, 0.5, 0.5)))
    return Structure(f"{element} (tetragonal {'I' if centred else 'P'})", a, a, c, 90, 90, 90, tuple(sites),
                     "4/mmm", "tetragonal", "I4/mmm" if centred else "P4/mmm")


@dataclass(frozen=True)
class ZoneAxisProjection:
    """A structure family along one zone axis.

    ``family`` 'fcc' | 'bcc' | 'hcp' | 'diamond' | 'tetragonal'; ``zone`` the label as
    written in the class name ('100', '10-10', ...); ``uvw`` the three-index direction;
    ``a_range`` (angstrom) and ``c_over_a_range`` the sampled lattice parameters;
    ``rotation_symmetry`` the projected pattern's n-fold rotation (the in-plane rotation is
    reported modulo 360 / n degrees).
    """

    family: str
    zone: str
    uvw: tuple[int, int, int]
    a_range: tuple[float, float]
    c_over_a_range: tuple[float, float] = (1.0, 1.0)
    rotation_symmetry: int = 2
    element: str = "Cu"

    @property
    def name(self) -> str:
        return f"{self.family} [{self.zone}]"

    @property
    def a_reference(self) -> float:
        """Middle of the lattice-constant range (angstrom)."""
        return float(np.mean(self.a_range))

    @property
    def c_over_a_reference(self) -> float:
        return float(np.mean(self.c_over_a_range))

    def structure(self, a: float | None = None, c_over_a: float | None = None) -> Structure:
        a = float(self.a_reference if a is None else a)
        ca = float(self.c_over_a_reference if c_over_a is None else c_over_a)
        if self.family == "fcc":
            return fcc(self.element, a)
        if self.family == "bcc":
            return bcc(self.element, a)
        if self.family == "diamond":
            return diamond(self.element, a)
        if self.family == "hcp":
            return hcp(self.element, a, a * ca)
        if self.family == "tetragonal":
            return tetragonal(self.element, a, a * ca, centred=False)
        if self.family == "tetragonal-I":
            return tetragonal(self.element, a, a * ca, centred=True)
        raise ParameterError(f"Unknown structure family {self.family!r}.")

    def project(self, a: float | None = None, c_over_a: float | None = None) -> ProjectedLattice:
        """The projected column lattice (angstrom) at lattice constant ``a`` (and c/a)."""
        lat = project_structure(self.structure(a, c_over_a), self.uvw)
        return ProjectedLattice(self.name, lat.cell, lat.basis, lat.weights, lat.zone_axis, lat.depth)


# Lattice-constant ranges (angstrom) of the training set. Some zone axes of different structures
# project to the same column pattern and differ only in scale: fcc [100] and bcc [100] are square
# lattices (spacing a/2 and a/sqrt(2)); fcc [211] and hcp [10-10] are rectangles (a_fcc/(2 sqrt 2)
# x a_fcc/sqrt 3 and a/2 x c/2, the same shape at the ideal c/a). The ranges leave a gap in
# spacing between such twins (fcc [100] <= 2.05 A, bcc [100] >= 2.12 A; fcc [211] short side
# <= 1.45 A, hcp [10-10] >= 1.475 A: 3.5 % and 1.7 %). Nothing but the spacing tells twins apart,
# so a material in a gap (alpha-Fe, Cr: bcc a = 2.87-2.88 A), or a window strained across one,
# is read by its spacing: fcc [100] for alpha-Fe [100].
FCC_A = (3.50, 4.10)  # Ni 3.52, austenite ~3.59, Cu 3.61, Pd 3.89, Pt 3.92, Al 4.05, Au 4.08, Ag 4.09
BCC_A = (2.80, 3.35)  # alpha-Fe 2.87, Cr 2.88, V 3.03, Mo 3.15, W 3.16, Nb 3.30, Ta 3.31
HCP_A = (2.45, 3.30)  # Co 2.51, Zn 2.66, Ti 2.95, Mg 3.21, Zr 3.23
HCP_C_OVER_A = (1.56, 1.90)  # Ti 1.59, Zr 1.59, Co 1.62, Mg 1.62, Zn 1.86

CLASS_PROJECTIONS: tuple[ZoneAxisProjection, ...] = (
    ZoneAxisProjection("fcc", "100", (1, 0, 0), FCC_A, rotation_symmetry=4),
    ZoneAxisProjection("fcc", "110", (1, 1, 0), FCC_A, rotation_symmetry=2),
    ZoneAxisProjection("fcc", "111", (1, 1, 1), FCC_A, rotation_symmetry=6),
    ZoneAxisProjection("fcc", "211", (2, 1, 1), FCC_A, rotation_symmetry=2),
    ZoneAxisProjection("bcc", "100", (1, 0, 0), BCC_A, rotation_symmetry=4, element="Fe"),
    ZoneAxisProjection("bcc", "110", (1, 1, 0), BCC_A, rotation_symmetry=2, element="Fe"),
    ZoneAxisProjection("bcc", "111", (1, 1, 1), BCC_A, rotation_symmetry=6, element="Fe"),
    ZoneAxisProjection("hcp", "0001", (0, 0, 1), HCP_A, HCP_C_OVER_A, rotation_symmetry=6, element="Ti"),
    ZoneAxisProjection("hcp", "10-10", miller_bravais_to_uvw((1, 0, -1, 0)), HCP_A, HCP_C_OVER_A,
                       rotation_symmetry=2, element="Ti"),
    ZoneAxisProjection("hcp", "11-20", miller_bravais_to_uvw((1, 1, -2, 0)), HCP_A, HCP_C_OVER_A,
                       rotation_symmetry=2, element="Ti"),
)

EXTRA_PROJECTIONS: tuple[ZoneAxisProjection, ...] = (
    ZoneAxisProjection("diamond", "110", (1, 1, 0), (5.30, 5.70), rotation_symmetry=2, element="Si"),
    ZoneAxisProjection("diamond", "211", (2, 1, 1), (5.30, 5.70), rotation_symmetry=2, element="Si"),
    ZoneAxisProjection("tetragonal", "100", (1, 0, 0), (2.5, 2.7), (1.30, 1.40), rotation_symmetry=2,
                       element="Ti"),
    ZoneAxisProjection("tetragonal-I", "100", (1, 0, 0), (2.7, 2.9), (1.70, 1.80), rotation_symmetry=2,
                       element="Ti"),
)


def projection(name: str) -> ZoneAxisProjection:
    """Look up a projection by class name, e.g. ``'fcc [110]'`` or ``'diamond [110]'``."""
    for p in CLASS_PROJECTIONS + EXTRA_PROJECTIONS:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in CLASS_PROJECTIONS + EXTRA_PROJECTIONS)
    raise ParameterError(f"Unknown zone-axis projection {name!r}; known: {known}.")
