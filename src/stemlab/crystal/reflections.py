"""Kinematic electron diffraction: reflection lists, excitation errors, spot patterns.

Frames and conventions (see docs/simulation.md):

* Crystal frame: cartesian, as :attr:`Structure.direct_basis` (a || x, b in xy).
* Lab frame: right-handed x, y, z; the beam travels along +z. A rotation matrix ``R``
  maps crystal to lab coordinates, ``v_lab = R @ v_crystal``.
* The incident wave vector is k0 = n / lambda (n = +z without precession). The excitation
  error of reflection g is s_g = (K^2 - |k0 + g|^2) / (2K) = -(n.g) - lambda |g|^2 / 2,
  K = 1/lambda, positive when g lies inside the Ewald sphere (Williams & Carter,
  Transmission Electron Microscopy, ch. 12; Spence & Zuo, Electron Microdiffraction).
* A spot's detector position is the transverse part of k0 + g: (kx, ky) = (g_x, g_y) in
  1/angstrom (exact for n = +z; precession patterns are assumed de-scanned).
* Intensity I_g = |F_g|^2 * S(s_g) with a relrod profile S(0) = 1: 'gaussian'
  exp(-s^2 / (2 w^2)), 'lorentzian' 1 / (1 + (s/w)^2) or 'sinc2' sinc^2(s/w)
  (= (sin(pi t s)/(pi t s))^2 for a slab of thickness t = 1/w).
* Precession by angle alpha: n = (sin a cos phi, sin a sin phi, cos a); S is averaged
  over ``n_precession`` equally spaced azimuths phi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..units import electron_wavelength
from .structure import Structure


@dataclass(frozen=True)
class ReflectionList:
    """All reflections of a structure with |g| <= g_max (1/angstrom), 000 excluded.

    ``hkl`` (n, 3) int; ``g`` (n, 3) crystal-frame cartesian vectors in 1/angstrom;
    ``g_norm`` (n,) = 1/d; ``F`` complex structure factors (angstrom);
    ``intensity`` (n,) = |F|^2 (angstrom^2). Sorted by |g|, then by intensity (descending).
    """

    structure: Structure
    hkl: np.ndarray
    g: np.ndarray
    g_norm: np.ndarray
    F: np.ndarray
    intensity: np.ndarray
    g_max: float

    def __len__(self) -> int:
        return len(self.hkl)

    @property
    def d_spacing(self) -> np.ndarray:
        return 1.0 / self.g_norm


def reflections(structure: Structure, g_max: float, *, min_relative_intensity: float = 1e-6,
                debye_waller: bool = True) -> ReflectionList:
    """Every reflection with 0 < |g| <= ``g_max`` (1/angstrom) and |F|^2 above
    ``min_relative_intensity`` times the strongest one (this drops the extinct,
    symmetry-forbidden reflections, whose |F|^2 is ~1e-30 by cancellation)."""
    if g_max <= 0:
        raise ParameterError(f"g_max must be positive (1/angstrom), got {g_max}.")
    A = structure.direct_basis
    # h = g . a, so |h| <= g_max |a|
    limits = [int(np.floor(g_max * np.linalg.norm(A[i]) + 1e-9)) for i in range(3)]
    ranges = [np.arange(-m, m + 1) for m in limits]
    hkl = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
    g = hkl @ structure.reciprocal_basis
    norm = np.linalg.norm(g, axis=1)
    keep = (norm > 1e-12) & (norm <= g_max * (1 + 1e-12))
    hkl, g, norm = hkl[keep], g[keep], norm[keep]
    F = structure.structure_factor(hkl, debye_waller=debye_waller)
    intensity = np.abs(F) ** 2
    if len(intensity):
        keep = intensity > min_relative_intensity * intensity.max()
        hkl, g, norm, F, intensity = hkl[keep], g[keep], norm[keep], F[keep], intensity[keep]
    order = np.lexsort((-intensity, np.round(norm, 9)))
    return ReflectionList(structure, hkl[order].astype(int), g[order], norm[order], F[order],
                          intensity[order], float(g_max))


# -- excitation error and intensities ------------------------------------------------------
def excitation_error(g_lab, wavelength: float, direction=(0.0, 0.0, 1.0)) -> np.ndarray:
    """s_g (1/angstrom) for lab-frame g (..., 3) and a unit beam ``direction`` (..., 3)."""
    g_lab = np.asarray(g_lab, dtype=float)
    n = np.asarray(direction, dtype=float)
    return -(g_lab @ n if n.ndim == 1 else np.sum(g_lab * n, -1)) - 0.5 * wavelength * np.sum(g_lab**2, -1)


def shape_factor(s, width: float, profile: str = "gaussian") -> np.ndarray:
    """Relrod profile S(s) with S(0) = 1; ``width`` in 1/angstrom (see module docstring)."""
    s = np.asarray(s)
    x = s / width
    if profile == "gaussian":
        return np.exp(-0.5 * x * x)
    if profile == "lorentzian":
        return 1.0 / (1.0 + x * x)
    if profile == "sinc2":
        return np.sinc(x) ** 2
    raise ParameterError(f"Unknown relrod profile {profile!r}: use 'gaussian', 'lorentzian' or 'sinc2'.")


@dataclass(frozen=True)
class Spots:
    """Diffraction spots for one or many orientations.

    ``kx``, ``ky`` (1/angstrom), ``intensity`` (|F|^2 S, angstrom^2) and ``excitation_error``
    (1/angstrom) have shape (n_orientations, n_reflections) for a batch or (n,) for a single
    orientation after filtering; ``hkl`` is (n_reflections, 3) (batch) or (n, 3).
    """

    kx: np.ndarray
    ky: np.ndarray
    intensity: np.ndarray
    hkl: np.ndarray
    excitation_error: np.ndarray


def diffraction_spots(refl: ReflectionList, rotation, voltage_kv: float = 200.0, *,
                      s_width: float = 0.01, profile: str = "gaussian",
                      precession_deg: float = 0.0, n_precession: int = 32,
                      min_intensity: float | None = 1e-3) -> Spots:
    """Kinematic spot pattern(s) of ``refl`` for crystal->lab rotation(s) ``rotation``.

    ``rotation`` (3, 3): returns the spots whose intensity exceeds ``min_intensity`` times the
    strongest |F|^2 of the list (None keeps all). ``rotation`` (N, 3, 3): returns dense
    (N, n_reflections) arrays without filtering (vectorised; thousands of orientations per
    second). ``s_width`` is the relrod width in 1/angstrom, ``precession_deg`` the
    precession semi-angle.
    """
    R = np.asarray(rotation, dtype=float)
    single = R.ndim == 2
    R = R.reshape(-1, 3, 3)
    lam = electron_wavelength(voltage_kv)
    g_lab = np.einsum("nij,rj->nri", R, refl.g)  # (N, n, 3)
    half = 0.5 * lam * refl.g_norm**2  # (n,)
    if precession_deg > 0:
        a = np.radians(precession_deg)
        phi = 2 * np.pi * np.arange(n_precession) / n_precession
        dirs = np.stack([np.sin(a) * np.cos(phi), np.sin(a) * np.sin(phi), np.full_like(phi, np.cos(a))], 1)
        s_all = -(g_lab @ dirs.T) - half[None, :, None]  # (N, n, P)
        S = shape_factor(s_all, s_width, profile).mean(axis=-1)
        s = -g_lab[..., 2] - half
    else:
        s = -g_lab[..., 2] - half
        S = shape_factor(s, s_width, profile)
    intensity = refl.intensity[None, :] * S
    kx, ky = g_lab[..., 0], g_lab[..., 1]
    if not single:
        return Spots(kx, ky, intensity, refl.hkl, s)
    kx, ky, intensity, s = kx[0], ky[0], intensity[0], s[0]
    if min_intensity is not None and len(refl):
        keep = intensity > min_intensity * refl.intensity.max()
        return Spots(kx[keep], ky[keep], intensity[keep], refl.hkl[keep], s[keep])
    return Spots(kx, ky, intensity, refl.hkl, s)
