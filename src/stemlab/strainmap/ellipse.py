"""Elliptical distortion of the detector, measured from the data and corrected.

The projector lenses map a circle of scattering vectors onto an ellipse ``x^T M x = const``
(vectors (x, y) in pixels about the direct beam). The correction ``C = M^(1/2) / det(M)^(1/4)``
(symmetric, area preserving) maps that ellipse back onto a circle; lattices are corrected as
``G -> C G``. ``M`` is measured either from an amorphous ring (its radius at every azimuth in the
mean pattern) or from the Bragg-vector map: reflections of one shell of a symmetric reference
lattice (equal |g|, e.g. {200} of a cubic zone) must lie on one circle. Several shells are fitted
together, each with its own radius, so a square lattice ({10} and {11}: two directions each) is
enough, as is one shell of a hexagonal lattice.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def correction_matrix(m: np.ndarray) -> np.ndarray:
    """The symmetric, area-preserving ``C`` with ``C^T C`` proportional to ``M``."""
    vals, vecs = np.linalg.eigh(np.asarray(m, dtype=float))
    if np.any(vals <= 0):
        raise ParameterError("The measured ellipse is not an ellipse (a non-positive axis): use another ring "
                             "or reference region, or ellipse=None.")
    c = vecs @ np.diag(np.sqrt(vals)) @ vecs.T
    return c / np.sqrt(np.linalg.det(c))


def describe(c: np.ndarray) -> tuple[float, float]:
    """(axis ratio, angle of the long axis in degrees) of the distortion that ``C`` corrects."""
    vals, vecs = np.linalg.eigh(np.linalg.inv(c))
    major = vecs[:, np.argmax(vals)]
    return float(vals.max() / vals.min()), float(np.degrees(np.arctan2(major[1], major[0])) % 180.0)


def fit_shells(points: np.ndarray, shell: np.ndarray) -> np.ndarray:
    """``M`` (2 x 2) such that points of one shell share ``x^T M x``; trace(M) = 2.

    Least squares over ``a x^2 + b xy + c y^2 - s_k = 0`` with one unknown ``s_k`` per shell.
    """
    p = np.asarray(points, dtype=float)
    labels = np.unique(shell)
    rows = np.column_stack([p[:, 0] ** 2, p[:, 0] * p[:, 1], p[:, 1] ** 2]
                           + [-(shell == lab).astype(float) for lab in labels])
    scale = np.mean(rows[:, 0] + rows[:, 2])
    rows[:, :3] /= scale
    # constraint a + c = 2: eliminate c = 2 - a
    a_mat = np.column_stack([rows[:, 0] - rows[:, 2], rows[:, 1], rows[:, 3:]])
    rhs = -2 * rows[:, 2]
    sol, *_ = np.linalg.lstsq(a_mat, rhs, rcond=None)
    if np.linalg.matrix_rank(a_mat) < a_mat.shape[1]:
        raise ParameterError("The reflections used do not fix the ellipse: they need at least two directions per "
                             "shell and three directions in all. Use an amorphous ring (ellipse='ring') instead.")
    a, b = sol[0], sol[1]
    return np.array([[a, b / 2], [b / 2, 2 - a]])


def from_lattice(basis: np.ndarray, reach: int = 2, tol: float = 0.04) -> np.ndarray:
    """Correction ``C`` from a reference lattice whose shells of equal |g| are symmetry equivalent.

    Lattice vectors ``h g1 + k g2`` with |h|, |k| <= ``reach`` are grouped into shells of lengths
    within ``tol`` (relative) of each other; one vector of each +- pair is used.
    """
    h, k = np.meshgrid(np.arange(-reach, reach + 1), np.arange(0, reach + 1), indexing="ij")
    hk = np.stack([h.ravel(), k.ravel()], axis=1)
    hk = hk[(hk[:, 1] > 0) | ((hk[:, 1] == 0) & (hk[:, 0] > 0))]
    hk = hk[np.gcd(np.abs(hk[:, 0]), np.abs(hk[:, 1])) == 1]
    v = hk @ np.asarray(basis, float).T
    length = np.hypot(v[:, 0], v[:, 1])
    order = np.argsort(length)
    v, length = v[order], length[order]
    shell = np.zeros(len(v), dtype=int)
    for i in range(1, len(v)):
        shell[i] = shell[i - 1] + (length[i] > length[i - 1] * (1 + tol))
    counts = np.bincount(shell)
    keep = counts[shell] >= 2
    if keep.sum() < 3:
        raise ParameterError("The lattice has no two reflections of equal length (no symmetric shell), so the "
                             "Bragg-vector map cannot measure the ellipse: use ellipse='ring' (amorphous ring) "
                             "or give the correction matrix.")
    return correction_matrix(fit_shells(v[keep], shell[keep]))


def ring_points(pattern: np.ndarray, centre, r_min: float, r_max: float, n_angles: int = 90) -> np.ndarray:
    """(x, y) of the maximum of an amorphous ring at ``n_angles`` azimuths, relative to ``centre``."""
    from scipy import ndimage

    img = ndimage.gaussian_filter(np.asarray(pattern, dtype=np.float64), 1.5)
    radii = np.arange(float(r_min), float(r_max), 0.25)
    if len(radii) < 5:
        raise ParameterError(f"ring radius range {r_min}-{r_max} px is too narrow: give at least 2 px.")
    phi = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    xs = centre[0] + radii[None, :] * np.cos(phi)[:, None]
    ys = centre[1] + radii[None, :] * np.sin(phi)[:, None]
    prof = ndimage.map_coordinates(img, [ys.ravel(), xs.ravel()], order=1, mode="nearest").reshape(xs.shape)
    # remove the smooth fall-off under the ring: a straight line between the range ends
    t = (radii - radii[0]) / (radii[-1] - radii[0])
    prof = prof - (prof[:, :1] * (1 - t) + prof[:, -1:] * t)
    j = np.clip(np.argmax(prof, axis=1), 1, len(radii) - 2)
    m, c, p = (np.take_along_axis(prof, (j + d)[:, None], axis=1)[:, 0] for d in (-1, 0, 1))
    denom = m - 2 * c + p
    off = np.where(denom < 0, 0.5 * (m - p) / np.where(denom < 0, denom, -1.0), 0.0)
    r = radii[j] + np.clip(off, -1, 1) * 0.25
    return np.column_stack([r * np.cos(phi), r * np.sin(phi)])


def from_ring(pattern: np.ndarray, centre, r_min: float, r_max: float) -> np.ndarray:
    """Correction ``C`` from an amorphous ring between ``r_min`` and ``r_max`` pixels of ``centre``."""
    pts = ring_points(pattern, centre, r_min, r_max)
    return correction_matrix(fit_shells(pts, np.zeros(len(pts), dtype=int)))
