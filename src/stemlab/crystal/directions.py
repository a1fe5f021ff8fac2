"""Beam directions: sampling the sphere and the fundamental sector of a Laue group.

Sampling: a Fibonacci sphere with nearest-neighbour spacing ~``resolution_deg`` reduced to
the Dirichlet cell {d : d.p0 >= d.(g p0) for all g} of a generic point p0 (for the reflection
groups m-3m and 6/mmm this is exactly the standard triangle), plus every low-index zone axis
[uvw] (|u|, |v|, |w| <= 3) of the sector, where most grains of real samples sit.
Directions are unit vectors in the cartesian crystal frame (:attr:`Structure.direct_basis`).
"""

from __future__ import annotations

import numpy as np

from .phase import Phase

_P0 = np.array([0.3, 0.1, 0.95]) / np.linalg.norm([0.3, 0.1, 0.95])


def fibonacci_sphere(spacing_deg: float) -> np.ndarray:
    """Unit vectors nearly uniform on the sphere, nearest-neighbour spacing ~``spacing_deg``."""
    d = np.radians(spacing_deg)
    n = max(12, int(round(4 * np.pi / (np.sqrt(3) / 2 * d * d))))
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)


def in_sector(directions: np.ndarray, operations: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Mask of directions in the Dirichlet cell of the generic point p0 under ``operations``."""
    images = np.einsum("gij,j->gi", operations, _P0)  # (G, 3)
    dots = directions @ images.T  # (n, G)
    return dots.max(axis=1) <= directions @ _P0 + tol


def reduce_to_sector(directions: np.ndarray, operations: np.ndarray) -> np.ndarray:
    """Map each direction to its symmetry-equivalent inside the sector."""
    all_images = np.einsum("gij,nj->ngi", operations, directions)  # (n, G, 3)
    best = np.argmax(all_images @ _P0, axis=1)
    return all_images[np.arange(len(directions)), best]


def sector_directions(phase: Phase, resolution_deg: float) -> np.ndarray:
    """Beam directions (crystal frame, unit) over the Laue group's fundamental sector."""
    ops = phase.laue_rotations
    sphere = fibonacci_sphere(resolution_deg)
    dirs = sphere[in_sector(sphere, ops)]
    # low-index zone axes, reduced into the sector, added where no sample is close
    r = np.arange(-3, 4)
    uvw = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    uvw = uvw[np.any(uvw != 0, axis=1)]
    zone = phase.structure.direction(uvw)
    zone /= np.linalg.norm(zone, axis=1, keepdims=True)
    zone = reduce_to_sector(zone, ops)
    out = list(dirs)
    for z in zone:
        if len(out) == 0 or np.max(np.asarray(out) @ z) < np.cos(np.radians(1e-3)):
            out.append(z)
    return np.asarray(out)
