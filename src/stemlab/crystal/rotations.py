"""Rotations of crystals: matrices, quaternions, zone axes, random and beam-aligned rotations.

Convention everywhere in stemlab: a rotation matrix ``R`` maps crystal to lab coordinates,
``v_lab = R @ v_crystal``; the lab frame is right-handed with the beam along +z; angles are
right-handed (x turns towards y about +z). orix's ``Orientation.from_matrix(R.T)`` is the same
orientation (orix stores lab->crystal).
"""

from __future__ import annotations

import numpy as np

from .structure import Structure


def rotation_about_z(angle_deg) -> np.ndarray:
    """Right-handed rotation(s) by ``angle_deg`` about +z (x turns towards y); (..., 3, 3)."""
    t = np.radians(np.asarray(angle_deg, dtype=float))
    c, s = np.cos(t), np.sin(t)
    R = np.zeros(t.shape + (3, 3))
    R[..., 0, 0], R[..., 0, 1], R[..., 1, 0], R[..., 1, 1], R[..., 2, 2] = c, -s, s, c, 1.0
    return R


def axis_angle_matrix(axis, angle_rad) -> np.ndarray:
    """Right-handed rotation by ``angle_rad`` about ``axis`` (Rodrigues)."""
    k = np.asarray(axis, dtype=float)
    k = k / np.linalg.norm(k)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * K + (1 - np.cos(angle_rad)) * (K @ K)


def rotation_about_z_torch(angle_rad):
    """Right-handed rotations (..., 3, 3) by ``angle_rad`` (a torch tensor, radians) about +z, same
    dtype and device: the torch twin of :func:`rotation_about_z`."""
    import torch

    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    R = torch.zeros(angle_rad.shape + (3, 3), dtype=angle_rad.dtype, device=angle_rad.device)
    R[..., 0, 0], R[..., 0, 1], R[..., 1, 0], R[..., 1, 1], R[..., 2, 2] = c, -s, s, c, 1.0
    return R


def rotation_vector_matrix_torch(w):
    """Rotation matrices exp([w]x) (..., 3, 3) of rotation vectors ``w`` (..., 3) in radians (Rodrigues),
    torch, same dtype and device: the torch twin of :func:`axis_angle_matrix` (axis w/|w|, angle |w|)."""
    import torch

    theta = torch.linalg.norm(w, dim=-1, keepdim=True)
    small = theta < 1e-12
    k = w / torch.where(small, torch.ones_like(theta), theta)
    K = torch.zeros(w.shape[:-1] + (3, 3), dtype=w.dtype, device=w.device)
    K[..., 0, 1], K[..., 0, 2] = -k[..., 2], k[..., 1]
    K[..., 1, 0], K[..., 1, 2] = k[..., 2], -k[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -k[..., 1], k[..., 0]
    s = torch.sin(theta)[..., None]
    c = (1 - torch.cos(theta))[..., None]
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand(K.shape)
    return eye + s * K + c * (K @ K)


def zone_axis_rotation(structure: Structure, uvw, inplane_deg: float = 0.0) -> np.ndarray:
    """Crystal->lab rotation that puts the direction [uvw] along the beam (+z), then turns
    the crystal by ``inplane_deg`` about the beam (right-handed, x towards y).

    At ``inplane_deg=0`` the rotation is the smallest one taking [uvw] to +z.
    """
    d = structure.direction(uvw)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(d, z)
    if np.linalg.norm(axis) < 1e-12:
        R0 = np.eye(3) if d[2] > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        R0 = axis_angle_matrix(axis, np.arccos(np.clip(d @ z, -1, 1)))
    return rotation_about_z(inplane_deg) @ R0


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rotation matrices uniformly distributed on SO(3) (Shoemake's uniform quaternions)."""
    u1, u2, u3 = rng.random((3, n))
    q = np.stack([np.sqrt(1 - u1) * np.sin(2 * np.pi * u2), np.sqrt(1 - u1) * np.cos(2 * np.pi * u2),
                  np.sqrt(u1) * np.sin(2 * np.pi * u3), np.sqrt(u1) * np.cos(2 * np.pi * u3)], axis=1)
    return quaternion_to_matrix(q[:, [3, 0, 1, 2]])


def quaternion_to_matrix(q) -> np.ndarray:
    """Unit quaternions (..., 4) as (w, x, y, z) -> rotation matrices (..., 3, 3) (active)."""
    q = np.asarray(q, dtype=float)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quaternion(R) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) as (w, x, y, z), w >= 0."""
    R = np.asarray(R, dtype=float)
    m = R.reshape(-1, 3, 3)
    t = np.stack([1 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2], 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2],
                  1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], 1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2]], 1)
    which = np.argmax(t, axis=1)
    q = np.empty((len(m), 4))
    for i in range(4):
        sel = which == i
        if not sel.any():
            continue
        mm, r = m[sel], np.sqrt(np.maximum(t[sel, i], 1e-300))
        if i == 0:
            q[sel] = np.stack([r, (mm[:, 2, 1] - mm[:, 1, 2]) / r, (mm[:, 0, 2] - mm[:, 2, 0]) / r,
                               (mm[:, 1, 0] - mm[:, 0, 1]) / r], 1) / 2
        elif i == 1:
            q[sel] = np.stack([(mm[:, 2, 1] - mm[:, 1, 2]) / r, r, (mm[:, 0, 1] + mm[:, 1, 0]) / r,
                               (mm[:, 0, 2] + mm[:, 2, 0]) / r], 1) / 2
        elif i == 2:
            q[sel] = np.stack([(mm[:, 0, 2] - mm[:, 2, 0]) / r, (mm[:, 0, 1] + mm[:, 1, 0]) / r, r,
                               (mm[:, 1, 2] + mm[:, 2, 1]) / r], 1) / 2
        else:
            q[sel] = np.stack([(mm[:, 1, 0] - mm[:, 0, 1]) / r, (mm[:, 0, 2] + mm[:, 2, 0]) / r,
                               (mm[:, 1, 2] + mm[:, 2, 1]) / r, r], 1) / 2
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q.reshape(R.shape[:-2] + (4,))


def beam_rotations(directions: np.ndarray) -> np.ndarray:
    """Crystal->lab rotations taking each crystal direction to +z by the smallest rotation."""
    d = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(d, z)
    s = np.linalg.norm(axis, axis=1)
    c = d @ z
    R = np.empty((len(d), 3, 3))
    for i in range(len(d)):
        if s[i] < 1e-12:
            R[i] = np.eye(3) if c[i] > 0 else np.diag([1.0, -1.0, -1.0])
            continue
        R[i] = axis_angle_matrix(axis[i], np.arctan2(s[i], c[i]))
    return R
