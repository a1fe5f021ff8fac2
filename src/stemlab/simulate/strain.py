"""Synthetic 4D-STEM scans of a strained crystal with a known strain field (test data for strain maps).

A single-crystal zone-axis pattern of Bragg disks whose lattice follows a known deformation per
scan position: a strained precipitate (a disk of the scan) or a strained layer (a band of scan
rows), with an in-plane rotation, on an unstrained matrix. The patterns have what makes strain
mapping hard on real data: a finite probe (disks of radius ``disk_radius`` with a soft edge,
overlapping when ``2 disk_radius > |g|``), Poisson shot noise at ``dose`` electrons per pattern, a
thickness that changes over the scan and modulates each reflection's intensity differently
(dynamical-like), a descan drift of the whole pattern, a diffuse background, and optionally an
elliptical distortion of the detector and an amorphous ring.

Conventions: vectors are (x, y) in detector pixels, x = column, y = row. The true deformation of
position (i, j) is ``D = R(theta) (I + eps)`` with ``eps = [[exx, exy], [exy, eyy]]`` and
``R(theta)`` turning +x towards +y; reciprocal vectors follow ``g = D^-T g_ref``. The detector
distortion ``E`` (``ellipse``) then maps every vector ``q -> E q`` about the pattern centre.
"""

from __future__ import annotations

import numpy as np

from ..dataset import Axis, Dataset
from ..errors import ParameterError

LATTICES = ("square", "hexagonal")
FEATURES = ("precipitate", "layer")


def rotation_matrix(theta_deg: float) -> np.ndarray:
    """2 x 2 rotation turning +x towards +y by ``theta_deg`` degrees."""
    t = np.radians(theta_deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def ellipse_matrix(ratio: float, angle_deg: float) -> np.ndarray:
    """Area-preserving distortion stretching by ``sqrt(ratio)`` along ``angle_deg`` and shrinking
    by the same factor across it (``ratio`` = major / minor axis of the image of a circle)."""
    r = rotation_matrix(angle_deg)
    s = np.sqrt(float(ratio))
    return r @ np.diag([s, 1.0 / s]) @ r.T


def reference_basis(lattice: str, g_px: float, angle_deg: float) -> np.ndarray:
    """Reference reciprocal basis as columns (x, y) in pixels: ``|g1| = |g2| = g_px``."""
    if lattice not in LATTICES:
        raise ParameterError(f"lattice={lattice!r}: use one of {LATTICES}.")
    between = 90.0 if lattice == "square" else 60.0
    g1 = rotation_matrix(angle_deg) @ np.array([g_px, 0.0])
    g2 = rotation_matrix(angle_deg + between) @ np.array([g_px, 0.0])
    return np.stack([g1, g2], axis=1)


def strain_field(scan_shape, feature: str = "precipitate", strain=(0.02, -0.015, 0.01),
                 rotation_deg: float = 3.0, size: float = 0.3):
    """Known strain field: ``exx, eyy, exy, theta`` (degrees) maps and the ``unstrained`` mask.

    ``precipitate``: a disk of radius ``size * min(scan_shape)`` at the scan's centre;
    ``layer``: a band of rows ``size * ny`` high across the middle. The edge is smooth over about one
    scan step; ``unstrained`` marks positions more than two steps outside the feature.
    """
    if feature not in FEATURES:
        raise ParameterError(f"feature={feature!r}: use one of {FEATURES}.")
    ny, nx = scan_shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    if feature == "precipitate":
        radius = size * min(ny, nx)
        dist = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) - radius
    else:
        half = size * ny / 2
        dist = np.abs(yy - (ny - 1) / 2) - half
    inside = 0.5 * (1 - np.tanh(dist / 0.7))
    exx, eyy, exy = (float(v) * inside for v in strain)
    theta = float(rotation_deg) * inside
    return {"exx": exx, "eyy": eyy, "exy": exy, "theta": theta, "unstrained": dist > 2.0, "inside": dist < -2.0}


def _disk(offset_y, offset_x, radius, half, edge):
    """(n, 2 half + 1, 2 half + 1) disks of ``radius`` with a tanh edge of ``edge`` px at sub-pixel offsets."""
    w = np.arange(-half, half + 1, dtype=np.float32)
    dy = w[None, :, None] - offset_y[:, None, None]
    dx = w[None, None, :] - offset_x[:, None, None]
    r = np.sqrt(dy * dy + dx * dx)
    return 0.5 * (1 - np.tanh((r - radius) / edge))


def strained_scan(scan_shape=(32, 32), pattern_size: int = 256, *, disk_radius: float = 6.0, g_px: float = 24.0,
                  lattice: str = "square", lattice_angle_deg: float = 12.0, feature: str = "precipitate",
                  strain=(0.02, -0.015, 0.01), rotation_deg: float = 3.0, size: float = 0.3,
                  dose: float = 1e5, thickness=(0.8, 1.6), descan_px: float = 2.0, ellipse=None,
                  amorphous: float = 0.0, background: float = 0.05, edge_px: float = 0.6,
                  scan_step_nm: float = 0.5, k_scale: float = 0.01, seed: int = 0):
    """A 4D-STEM Dataset of a strained crystal and its true strain field.

    Parameters
    ----------
    scan_shape : (ny, nx) scan positions.
    pattern_size : detector side in pixels.
    disk_radius : probe (convergence) disk radius, pixels.
    g_px : length of the reference basis vectors, pixels.
    lattice : ``'square'`` or ``'hexagonal'`` zone.
    lattice_angle_deg : orientation of g1 on the detector, degrees from +x towards +y.
    feature, strain, rotation_deg, size : the strained region (see :func:`strain_field`);
        ``strain = (exx, eyy, exy)`` (fractions), ``rotation_deg`` degrees.
    dose : electrons per pattern (Poisson noise); ``None`` or ``inf`` for noise-free patterns.
    thickness : (min, max) of a thickness-like parameter varying over the scan; each reflection's
        intensity oscillates with it at its own period.
    descan_px : drift of the pattern centre across the scan, pixels (corner to corner).
    ellipse : ``None`` or ``(ratio, angle_deg)`` of an elliptical detector distortion.
    amorphous : fraction of the dose in a diffuse amorphous ring at 2.4 ``g_px``.
    background : fraction of the dose in a smooth diffuse background.
    edge_px : width of the disks' soft edge, pixels.
    scan_step_nm, k_scale : calibration of the scan (nm) and of a detector pixel (1/angstrom).
    seed : random seed.

    Returns
    -------
    dataset : :class:`stemlab.dataset.Dataset` of kind ``'4dstem'``, float32 counts.
    truth : dict with the maps ``exx, eyy, exy, theta`` (degrees), masks ``unstrained`` and
        ``inside``, ``basis`` (reference reciprocal basis, columns (x, y) in pixels, before the
        detector distortion), ``distortion`` (2 x 2), ``centre`` ((ny, nx, 2) true origin (x, y)).
    """
    ny, nx = (int(v) for v in scan_shape)
    n = int(pattern_size)
    if n < 16 or disk_radius <= 0 or g_px <= 0:
        raise ParameterError("strained_scan: pattern_size >= 16, disk_radius > 0 and g_px > 0 are needed.")
    rng = np.random.default_rng(seed)
    truth = strain_field((ny, nx), feature, strain, rotation_deg, size)
    basis = reference_basis(lattice, g_px, lattice_angle_deg)
    distortion = np.eye(2) if ellipse is None else ellipse_matrix(*ellipse)

    # reflections that can fall on the detector
    reach = int(np.ceil(0.75 * n / g_px)) + 2
    h, k = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1), indexing="ij")
    hk = np.stack([h.ravel(), k.ravel()], axis=1).astype(np.float64)
    g_ref = hk @ basis.T
    glen = np.hypot(g_ref[:, 0], g_ref[:, 1])
    keep = glen < 0.75 * n
    hk, glen = hk[keep], glen[keep]
    centre_index = int(np.argmin(glen))
    # kinematic-like envelope and per-reflection "extinction" periods for the thickness oscillation
    envelope = np.exp(-(glen / (2.2 * g_px)) ** 2)
    period = rng.uniform(0.5, 1.5, len(hk))
    phase = rng.uniform(0, 2 * np.pi, len(hk))
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    t_map = thickness[0] + (thickness[1] - thickness[0]) * (0.5 * (xx / max(nx - 1, 1) + yy / max(ny - 1, 1)))

    half = int(np.ceil(disk_radius + 4 * edge_px + 2))
    yy_d, xx_d = np.mgrid[0:n, 0:n].astype(np.float32)
    c0 = (n - 1) / 2
    centres = np.empty((ny, nx, 2))
    data = np.empty((ny, nx, n, n), dtype=np.float32)
    for i in range(ny):
        for j in range(nx):
            d = rotation_matrix(truth["theta"][i, j]) @ (
                np.eye(2) + np.array([[truth["exx"][i, j], truth["exy"][i, j]],
                                      [truth["exy"][i, j], truth["eyy"][i, j]]]))
            g = (distortion @ np.linalg.inv(d).T @ basis) @ hk.T  # (2, n_refl), (x, y)
            frac = (i / max(ny - 1, 1) + j / max(nx - 1, 1)) / 2
            origin = np.array([c0 + 0.7 * descan_px * (frac - 0.5) + 0.3, c0 - 0.7 * descan_px * (frac - 0.5) - 0.2])
            centres[i, j] = origin
            pos = origin[:, None] + g
            amp = envelope * (0.25 + 0.75 * np.sin(np.pi * t_map[i, j] / period + phase) ** 2)
            amp[centre_index] = 1.0
            inside = (pos[0] > -half) & (pos[0] < n + half) & (pos[1] > -half) & (pos[1] < n + half)
            off = 2 * half + 2
            img = np.zeros((n + 2 * off, n + 2 * off), dtype=np.float32)
            px, py = pos[0, inside], pos[1, inside]
            ix, iy = np.round(px).astype(int), np.round(py).astype(int)
            disks = _disk((py - iy).astype(np.float32), (px - ix).astype(np.float32), disk_radius, half, edge_px)
            for a, y0, x0, disk in zip(amp[inside], iy, ix, disks):
                img[y0 + off - half:y0 + off + half + 1, x0 + off - half:x0 + off + half + 1] += a * disk
            img = img[off:off + n, off:off + n]
            img /= img.sum()
            r = np.hypot(yy_d - origin[1], xx_d - origin[0])
            diffuse = 1.0 / (1.0 + (r / (1.5 * g_px)) ** 2)
            img = img * (1 - background - amorphous) + background * diffuse / diffuse.sum()
            if amorphous:
                q = distortion_radius(xx_d - origin[0], yy_d - origin[1], distortion)
                ring = np.exp(-0.5 * ((q - 2.4 * g_px) / 3.0) ** 2)
                img += amorphous * ring / ring.sum()
            data[i, j] = img
    if dose is not None and np.isfinite(dose):
        data = rng.poisson(data * float(dose)).astype(np.float32)
    else:
        data *= np.float32(1e5)  # noise-free, on the scale of a 1e5-electron pattern
    axes = (Axis("scan_y", ny, scan_step_nm, 0.0, "nm", True), Axis("scan_x", nx, scan_step_nm, 0.0, "nm", True),
            Axis("ky", n, k_scale, -n // 2 * k_scale, "1/angstrom"),
            Axis("kx", n, k_scale, -n // 2 * k_scale, "1/angstrom"))
    ds = Dataset(data, axes, kind="4dstem", name=f"strained {feature}",
                 metadata={"simulated": "stemlab.simulate.strain", "voltage_kv": 200.0})
    truth.update(basis=basis, distortion=distortion, centre=centres)
    return ds, truth


def distortion_radius(x, y, distortion):
    """Length of ``distortion^-1 (x, y)``: the undistorted radius of detector vectors (x, y)."""
    inv = np.linalg.inv(distortion)
    u = inv[0, 0] * x + inv[0, 1] * y
    v = inv[1, 0] * x + inv[1, 1] * y
    return np.sqrt(u * u + v * v)
