"""Strain and rotation from lattices: reference lattice, deformation, polar decomposition, frame.

With ``G`` the fitted lattice of a pattern and ``G_ref`` the reference (columns g1, g2), the real-space
deformation ``D`` maps reference vectors as reciprocal vectors transform, ``G = D^-T G_ref``, so
``D = (G_ref G^-1)^T``. ``D = R U`` (polar decomposition): ``R`` the rotation by ``theta`` (turning +x
towards +y), ``U`` symmetric; the strain is ``eps = U - I`` (exact, not linearised), then expressed in
the chosen frame: ``eps' = Q^T eps Q`` with ``Q`` the rotation onto the frame's x axis.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def reference_lattice(lattice: np.ndarray, usable: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Element-wise median of the fitted lattices (..., 2, 2) over the usable positions of ``region``."""
    sel = usable & region
    if sel.sum() == 0:
        raise ParameterError("No position of the reference region could be fitted: draw the reference over "
                             "crystal with visible Bragg disks, or lower the minimum disk count.")
    return np.median(lattice[sel], axis=0)


def deformation(lattice: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``D = (G_ref G^-1)^T`` per position (NaN where ``lattice`` is NaN)."""
    g = np.asarray(lattice, dtype=np.float64)
    bad = ~np.isfinite(g).all(axis=(-2, -1))
    g = np.where(bad[..., None, None], np.eye(2), g)
    d = np.swapaxes(reference @ np.linalg.inv(g), -1, -2)
    d[bad] = np.nan
    return d


def polar(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2D polar decomposition ``D = R(theta) U``: (theta in degrees, U)."""
    theta = np.arctan2(d[..., 1, 0] - d[..., 0, 1], d[..., 0, 0] + d[..., 1, 1])
    c, s = np.cos(theta), np.sin(theta)
    rt = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # R^T
    return np.degrees(theta), rt @ d


def frame_rotation(frame: str, scan_rotation_deg: float = 0.0, direction_deg: float = 0.0) -> float:
    """Angle (degrees) from the detector's +x to the x axis of the output frame.

    ``'detector'``: 0. ``'scan'``: the scan's fast axis, ``scan_rotation_deg`` (angle of the scan x
    axis on the detector) plus ``direction_deg`` (a direction in the scan image, degrees from its x
    axis towards its y axis) so that x follows e.g. an interface.
    """
    if frame == "detector":
        if direction_deg:
            raise ParameterError("direction_deg needs frame='scan' (a direction is given in the scan image).")
        return 0.0
    if frame == "scan":
        return float(scan_rotation_deg) + float(direction_deg)
    raise ParameterError(f"frame={frame!r}: use 'detector' or 'scan'.")


def strain_components(lattice: np.ndarray, reference: np.ndarray, angle_deg: float = 0.0) -> dict:
    """``exx, eyy, exy`` (fractions, in the frame rotated by ``angle_deg``) and ``theta`` (degrees)."""
    theta, u = polar(deformation(lattice, reference))
    eps = u - np.eye(2)
    t = np.radians(angle_deg)
    q = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    eps = q.T @ eps @ q
    return {"exx": eps[..., 0, 0], "eyy": eps[..., 1, 1], "exy": 0.5 * (eps[..., 0, 1] + eps[..., 1, 0]),
            "theta": theta}


def region_mask(reference, nav_shape) -> np.ndarray:
    """Boolean reference mask from ``None`` (whole scan), ``(y0, y1, x0, x1)`` scan indices, a pair of
    slices or a boolean array of the scan's shape."""
    shape = tuple(nav_shape)
    if reference is None:
        return np.ones(shape, dtype=bool)
    if isinstance(reference, np.ndarray) and reference.dtype == bool:
        if reference.shape != shape:
            raise ParameterError(f"reference mask of shape {reference.shape}: the scan is {shape}.")
        if not reference.any():
            raise ParameterError("The reference mask is empty: mark at least one scan position.")
        return reference
    if len(shape) != 2:
        raise ParameterError("A rectangular reference needs a 2D scan; give a boolean mask instead.")
    if len(reference) == 2 and all(isinstance(s, slice) for s in reference):
        sl = tuple(reference)
    else:
        try:
            y0, y1, x0, x1 = (int(v) for v in reference)
        except (TypeError, ValueError):
            raise ParameterError(f"reference={reference!r}: give (y0, y1, x0, x1) scan indices.") from None
        sl = (slice(y0, y1), slice(x0, x1))
    mask = np.zeros(shape, dtype=bool)
    mask[sl] = True
    if not mask.any():
        raise ParameterError(f"reference={reference!r} holds no scan position of a {shape[0]} x {shape[1]} scan: "
                             "give Y0:Y1,X0:X1 inside the scan.")
    return mask
