"""Crystal structures: lattice, atom sites, metric and kinematic electron structure factors.

Conventions (all lengths in angstrom, reciprocal lengths in 1/angstrom without 2 pi):

* ``direct_basis`` has the lattice vectors a, b, c as *rows* in a cartesian crystal frame
  with a along x and b in the xy plane (the usual "a || x, c* || z" setting).
* ``reciprocal_basis`` has a*, b*, c* as rows, a_i . b*_j = delta_ij, so a reflection
  hkl sits at g = h a* + k b* + l c* and |g| = 1/d_hkl.
* Fractional site coordinates map to cartesian ``frac @ direct_basis``.

A :class:`Structure` is just the lattice parameters plus sites, so a CIF reader only has to
fill those fields (expand the symmetry-equivalent positions into ``sites`` first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from .scattering import atomic_number, electron_scattering_factor

# Approximate room-temperature isotropic Debye-Waller factors B (angstrom^2) of the elemental
# crystals, of the size tabulated by Peng, Ren, Dudarev & Whelan, Acta Cryst. A52 (1996) 456.
DEBYE_WALLER_B = {"Al": 0.85, "Cu": 0.55, "Ni": 0.37, "Ag": 0.64, "Au": 0.62, "Fe": 0.35,
                  "Si": 0.46, "Ti": 0.60, "Mg": 1.60, "Sr": 0.55, "O": 0.60}


@dataclass(frozen=True)
class Site:
    """One atom site: element symbol, fractional coordinates, occupancy, B (angstrom^2)."""

    element: str
    xyz: tuple[float, float, float]
    occupancy: float = 1.0
    b_iso: float | None = None  # None: DEBYE_WALLER_B[element] (0.5 if unknown)

    @property
    def debye_waller(self) -> float:
        return float(self.b_iso) if self.b_iso is not None else DEBYE_WALLER_B.get(self.element, 0.5)


@dataclass(frozen=True)
class Structure:
    """A crystal: lattice parameters (angstrom, degrees) and atom sites (fractional).

    ``point_group`` is the Hermann-Mauguin symbol of the crystal's point group (e.g. 'm-3m',
    '6/mmm'), ``crystal_system`` its system name ('cubic', 'hexagonal', ...).
    """

    name: str
    a: float
    b: float
    c: float
    alpha: float = 90.0
    beta: float = 90.0
    gamma: float = 90.0
    sites: tuple[Site, ...] = field(default_factory=tuple)
    point_group: str = "1"
    crystal_system: str = "triclinic"
    space_group: str = ""

    def __post_init__(self):
        object.__setattr__(self, "sites", tuple(self.sites))
        if min(self.a, self.b, self.c) <= 0:
            raise ParameterError(f"Structure {self.name!r}: lattice parameters must be positive.")
        if not self.sites:
            raise ParameterError(f"Structure {self.name!r} has no atom sites.")

    # -- metric ------------------------------------------------------------------------
    @property
    def direct_basis(self) -> np.ndarray:
        """Rows a, b, c in cartesian angstrom; a || x, b in the xy plane."""
        al, be, ga = np.radians([self.alpha, self.beta, self.gamma])
        ax = np.array([self.a, 0.0, 0.0])
        bx = np.array([self.b * np.cos(ga), self.b * np.sin(ga), 0.0])
        cx = self.c * np.cos(be)
        cy = self.c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
        cz = np.sqrt(max(self.c**2 - cx**2 - cy**2, 0.0))
        basis = np.array([ax, bx, [cx, cy, cz]])
        basis[np.abs(basis) < 1e-12] = 0.0
        return basis

    @property
    def reciprocal_basis(self) -> np.ndarray:
        """Rows a*, b*, c* in cartesian 1/angstrom (no 2 pi): a_i . b*_j = delta_ij."""
        return np.linalg.inv(self.direct_basis).T

    @property
    def metric_tensor(self) -> np.ndarray:
        """Direct metric G_ij = a_i . a_j (angstrom^2)."""
        A = self.direct_basis
        return A @ A.T

    @property
    def volume(self) -> float:
        """Unit-cell volume in angstrom^3."""
        return float(abs(np.linalg.det(self.direct_basis)))

    def g_vectors(self, hkl) -> np.ndarray:
        """Cartesian reciprocal vectors (…, 3) in 1/angstrom for Miller indices (…, 3)."""
        return np.asarray(hkl, dtype=float) @ self.reciprocal_basis

    def direction(self, uvw) -> np.ndarray:
        """Cartesian direction vector (angstrom) of the lattice direction [uvw]."""
        return np.asarray(uvw, dtype=float) @ self.direct_basis

    def d_spacing(self, hkl) -> np.ndarray:
        """Interplanar spacing d_hkl in angstrom."""
        return 1.0 / np.linalg.norm(self.g_vectors(hkl), axis=-1)

    # -- atoms -------------------------------------------------------------------------
    @property
    def fractional(self) -> np.ndarray:
        return np.array([s.xyz for s in self.sites], dtype=float)

    @property
    def cartesian(self) -> np.ndarray:
        return self.fractional @ self.direct_basis

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(s.element for s in self.sites)

    @property
    def atomic_numbers(self) -> np.ndarray:
        return np.array([atomic_number(e) for e in self.elements])

    def structure_factor(self, hkl, debye_waller: bool = True) -> np.ndarray:
        """Kinematic electron structure factor F(hkl) in angstrom (complex, per unit cell).

        F(g) = sum_j occ_j f_j(|g|) exp(-B_j |g|^2 / 4) exp(2 pi i h.x_j)
        with f_j the Peng et al. (1996) electron scattering factor (s = |g|/2) and the
        Debye-Waller factor exp(-B s^2).
        """
        hkl = np.asarray(hkl, dtype=float)
        g = np.linalg.norm(self.g_vectors(hkl), axis=-1)
        phase = np.exp(2j * np.pi * (hkl @ self.fractional.T))  # (..., n_sites)
        F = np.zeros(g.shape, dtype=complex)
        for j, site in enumerate(self.sites):
            f = electron_scattering_factor(site.element, g) * site.occupancy
            if debye_waller:
                f = f * np.exp(-site.debye_waller * g**2 / 4.0)
            F += f * phase[..., j]
        return F


# -- constructors -----------------------------------------------------------------------
LATTICE_CONSTANTS = {  # angstrom, room temperature
    "Al": 4.0495, "Cu": 3.6149, "Ni": 3.5240, "Ag": 4.0862, "Au": 4.0782,
    "Fe": 2.8665, "Si": 5.4310, "Ti": (2.9508, 4.6855), "Mg": (3.2094, 5.2108),
    "SrTiO3": 3.905,
}


def _cubic(name, a, basis, element, space_group, b_iso=None):
    sites = tuple(Site(element, tuple(float(v) for v in xyz), 1.0, b_iso) for xyz in basis)
    return Structure(name, a, a, a, 90, 90, 90, sites, "m-3m", "cubic", space_group)


def fcc(element: str, a: float | None = None, b_iso: float | None = None) -> Structure:
    """Face-centred cubic element (Fm-3m); default lattice constant from LATTICE_CONSTANTS."""
    a = float(a if a is not None else LATTICE_CONSTANTS[element])
    basis = [(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)]
    return _cubic(f"{element} (fcc)", a, basis, element, "Fm-3m", b_iso)


def bcc(element: str, a: float | None = None, b_iso: float | None = None) -> Structure:
    """Body-centred cubic element (Im-3m)."""
    a = float(a if a is not None else LATTICE_CONSTANTS[element])
    return _cubic(f"{element} (bcc)", a, [(0, 0, 0), (0.5, 0.5, 0.5)], element, "Im-3m", b_iso)


def diamond(element: str, a: float | None = None, b_iso: float | None = None) -> Structure:
    """Diamond-cubic element (Fd-3m), origin choice 1."""
    a = float(a if a is not None else LATTICE_CONSTANTS[element])
    fcc_pos = np.array([(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)])
    basis = np.concatenate([fcc_pos, fcc_pos + 0.25])
    return _cubic(f"{element} (diamond)", a, basis, element, "Fd-3m", b_iso)


def hcp(element: str, a: float | None = None, c: float | None = None,
        b_iso: float | None = None) -> Structure:
    """Hexagonal close-packed element (P6_3/mmc), atoms at (1/3, 2/3, 1/4) and (2/3, 1/3, 3/4)."""
    default = LATTICE_CONSTANTS.get(element, (None, None))
    a = float(a if a is not None else default[0])
    c = float(c if c is not None else default[1])
    sites = (Site(element, (1 / 3, 2 / 3, 0.25), 1.0, b_iso), Site(element, (2 / 3, 1 / 3, 0.75), 1.0, b_iso))
    return Structure(f"{element} (hcp)", a, a, c, 90, 90, 120, sites, "6/mmm", "hexagonal", "P6_3/mmc")


def perovskite_srtio3(a: float = 3.905) -> Structure:
    """Cubic SrTiO3 (Pm-3m): Sr at the corner, Ti at the body centre, O at the face centres."""
    sites = (Site("Sr", (0, 0, 0)), Site("Ti", (0.5, 0.5, 0.5)), Site("O", (0.5, 0.5, 0)),
             Site("O", (0.5, 0, 0.5)), Site("O", (0, 0.5, 0.5)))
    return Structure("SrTiO3", a, a, a, 90, 90, 90, sites, "m-3m", "cubic", "Pm-3m")


_BUILDERS = {
    "Al": fcc, "Cu": fcc, "Ni": fcc, "Ag": fcc, "Au": fcc,
    "Fe": bcc, "Ti": hcp, "Mg": hcp, "Si": diamond,
}


def structure(name: str) -> Structure:
    """A known structure by name: 'Al', 'Cu', 'Ni', 'Ag', 'Au' (fcc), 'Fe' (bcc alpha-Fe),
    'Ti', 'Mg' (hcp), 'Si' (diamond), 'SrTiO3' (perovskite)."""
    if name == "SrTiO3":
        return perovskite_srtio3()
    try:
        return _BUILDERS[name](name)
    except KeyError:
        raise ParameterError(
            f"Unknown structure {name!r}; known: {', '.join([*_BUILDERS, 'SrTiO3'])}, "
            "or build one with stemlab.crystal.structure.Structure."
        ) from None
