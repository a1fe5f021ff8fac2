"""Local in-plane lattice rotation and lattice constant of each window, given its class.

For the predicted class the reference projection (lattice constant ``a_ref``) gives a list of
template reciprocal-lattice spots t_k (1/angstrom, lab frame, x = columns, y = rows) with
their expected HAADF strengths (column structure factor x Gaussian probe damping). Then,
per window:

1. Coarse search: the descriptor (|FFT| on a fixed frequency grid) is sampled at
   s R(theta) t_k for every in-plane angle in one symmetry sector (1.5 degree steps) and
   scale s in 0.85..1.15 (1.5 % steps); the best (theta, s) wins. This is one sparse matrix
   product per class.
2. Refinement (twice): around each predicted spot the window's Hann-weighted Fourier
   power is evaluated on a fine 5 x 5 frequency grid by a direct (separable) DFT, the
   maximum is located to sub-grid precision by a parabola through its neighbours, and a
   complex scale z = s exp(i theta) is fitted by weighted least squares, m_k ~ z t_k.

The rotation is reported modulo the projected pattern's symmetry (360 / n degrees, n = 2,
4 or 6) in [0, 360 / n); the lattice constant is a = a_ref / s (for hcp: the basal a).
Same frame as :mod:`stemlab.simulate.haadf`: a rotation turns x towards y.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import descriptor as D

G_MAX = 1.0  # 1/angstrom: farther spots are damped away by the probe
PROBE_SIGMA = 0.45  # angstrom, for the expected spot strengths
ANGLE_STEP = 1.5  # degrees
SCALES = np.arange(0.85, 1.1501, 0.015)


@lru_cache(maxsize=None)
def template(class_name: str, c_over_a: float | None = None):
    """(t (K, 2) spots (gx, gy) 1/angstrom, strengths (K,), a_ref, symmetry) of a class at its
    reference lattice constant, and at ``c_over_a`` (hcp; None: the class's reference c/a)."""
    from ..simulate.projections import projection

    proj = projection(class_name)
    lat = proj.project(None, c_over_a)
    recip = np.linalg.inv(lat.cell).T  # rows b1, b2 with cell_i . b_j = delta_ij
    n = np.arange(-8, 9)
    hk = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2)
    g = hk @ recip
    r = np.linalg.norm(g, axis=1)
    F = (lat.weights[None, :] * np.exp(2j * np.pi * hk @ lat.basis.T)).sum(1)
    strength = np.abs(F) ** 2 * np.exp(-4 * np.pi**2 * PROBE_SIGMA**2 * r**2)
    keep = (r > D.LOW_CUT * 1.05) & (r < G_MAX)
    g, strength = g[keep], strength[keep]
    good = strength > 0.04 * strength.max()
    g, strength = g[good], strength[good] / strength[good].max()
    return g, strength, proj.a_reference, proj.rotation_symmetry


@lru_cache(maxsize=None)
def basal_direction(class_name: str):
    """For hcp zone axes with the c axis in the image plane: the unit reciprocal direction
    perpendicular to the projected c axis (its spots scale with 1/a only); None otherwise."""
    from ..crystal.rotations import zone_axis_rotation
    from ..simulate.projections import projection

    proj = projection(class_name)
    if proj.family != "hcp":
        return None
    st = proj.structure()
    c_lab = zone_axis_rotation(st, proj.uvw) @ st.direction([0, 0, 1])
    c2 = c_lab[:2]
    if np.linalg.norm(c2) < 0.5 * np.linalg.norm(c_lab):
        return None
    c2 = c2 / np.linalg.norm(c2)
    return np.array([-c2[1], c2[0]])


@lru_cache(maxsize=None)
def _search_matrix(class_name: str, c_over_a: float | None = None):
    """Sparse (n_angles * n_scales, FFT_SIZE^2) bilinear sampling matrix of the coarse search."""
    import scipy.sparse as sp

    g, strength, _, sym = template(class_name, c_over_a)
    angles = np.arange(0.0, 360.0 / sym, ANGLE_STEP)
    th = np.radians(angles)
    c, s = np.cos(th), np.sin(th)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (A, 2, 2)
    pts = np.einsum("aij,kj->aki", rot, g)  # (A, K, 2)
    pts = pts[:, None] * SCALES[None, :, None, None]  # (A, S, K, 2)
    m = D.FFT_SIZE // 2
    col = pts[..., 0] / D.FREQ_STEP + m
    row = pts[..., 1] / D.FREQ_STEP + m
    r0, c0 = np.floor(row).astype(int), np.floor(col).astype(int)
    fr, fc = row - r0, col - c0
    n_rows = len(angles) * len(SCALES)
    row_idx, col_idx, vals = [], [], []
    base = np.arange(n_rows).reshape(len(angles), len(SCALES), 1)
    base = np.broadcast_to(base, r0.shape)
    wk = np.sqrt(strength)[None, None, :]
    for dr, dc, ww in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = np.clip(r0 + dr, 0, D.FFT_SIZE - 1), np.clip(c0 + dc, 0, D.FFT_SIZE - 1)
        row_idx.append(base.ravel())
        col_idx.append((rr * D.FFT_SIZE + cc).ravel())
        vals.append((ww * wk).ravel())
    S = sp.csr_matrix((np.concatenate(vals), (np.concatenate(row_idx), np.concatenate(col_idx))),
                      shape=(n_rows, D.FFT_SIZE * D.FFT_SIZE), dtype=np.float32)
    return S, angles, SCALES


def _fine_power(windows, g, step):
    """Hann-weighted Fourier power of windows (N, w, w) at 5 x 5 frequency grids around spots g (N, K, 2)
    (gx, gy in 1/angstrom), grid step ``step``; returns (N, K, 5, 5) indexed [dy, dx]."""
    w = windows.shape[-1]
    hann = D.hann2d(w)
    mean = np.einsum("nij,ij->n", windows, hann) / hann.sum()
    h = ((windows - mean[:, None, None]) * hann).astype(np.complex64)
    x = (np.arange(w) - (w - 1) / 2.0) * D.SAMPLING
    d = (np.arange(5) - 2) * step
    kx = g[..., 0][..., None] + d  # (N, K, 5)
    ky = g[..., 1][..., None] + d
    Ex = np.exp(-2j * np.pi * kx[..., None] * x).astype(np.complex64)  # (N, K, 5, w)
    Ey = np.exp(-2j * np.pi * ky[..., None] * x).astype(np.complex64)
    tmp = np.einsum("nyx,nkux->nkyu", h, Ex)  # sum over x
    F = np.einsum("nkvy,nkyu->nkvu", Ey, tmp)  # sum over y
    return (F.real**2 + F.imag**2).astype(np.float64)


def _parabola(pm, p0, pp):
    den = pm - 2 * p0 + pp
    off = np.where(den < 0, 0.5 * (pm - pp) / np.where(den < 0, den, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


def measure(windows: np.ndarray, descriptors: np.ndarray, class_name: str, c_over_a: float | None = None):
    """Rotation (degrees, in [0, 360/n)) and lattice constant (angstrom) of windows of one class.

    ``windows`` (N, w, w) resampled windows; ``descriptors`` (N, 64, 64) their descriptors;
    ``c_over_a`` the template's c/a for hcp classes (None: the class's reference; a known c/a,
    e.g. from a prior, removes the bias of hcp zone axes with c in the plane when the crystal's
    c/a is far from the reference).
    """
    n = len(windows)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    g, strength, a_ref, sym = template(class_name, c_over_a)
    S, angles, scales = _search_matrix(class_name, c_over_a)
    scores = np.asarray((S @ descriptors.reshape(n, -1).T).T)  # (N, A*S)
    best = scores.argmax(1)
    ia, is_ = np.divmod(best, len(scales))
    z = scales[is_] * np.exp(1j * np.radians(angles[ia]))  # (N,)
    # the independent half of the spots (|F(-g)| = |F(g)|), strongest first
    half = (g[:, 1] > 1e-9) | ((np.abs(g[:, 1]) <= 1e-9) & (g[:, 0] > 0))
    t = g[half]
    wt = strength[half]
    order = np.argsort(-wt)[:8]
    t, wt = t[order], wt[order]
    tc = t[:, 0] + 1j * t[:, 1]
    win = np.asarray(windows, dtype=np.float32)
    for step in (0.02, 0.008):
        pred = z[:, None] * tc[None, :]  # (N, K)
        gp = np.stack([pred.real, pred.imag], -1)
        P = _fine_power(win, gp, step)
        flat = P.reshape(n, len(tc), 25)
        j = flat.argmax(-1)
        jy, jx = np.divmod(j, 5)
        jy_c, jx_c = np.clip(jy, 1, 3), np.clip(jx, 1, 3)
        take = lambda dy, dx: np.take_along_axis(flat, ((jy_c + dy) * 5 + jx_c + dx)[..., None], -1)[..., 0]
        p0 = take(0, 0)
        oy = _parabola(take(-1, 0), p0, take(1, 0)) + (jy_c - 2)
        ox = _parabola(take(0, -1), p0, take(0, 1)) + (jx_c - 2)
        m = pred + (ox + 1j * oy) * step
        wgt = wt[None, :] * np.sqrt(np.maximum(flat.max(-1), 0))
        z = (wgt * np.conj(tc)[None] * m).sum(1) / np.maximum((wgt * np.abs(tc)[None] ** 2).sum(1), 1e-30)
    rotation = np.degrees(np.angle(z)) % (360.0 / sym)
    a = a_ref / np.maximum(np.abs(z), 1e-6)
    e_a = basal_direction(class_name)
    if e_a is not None:  # hcp with c in the plane: a from the spot components across c only
        mr = m * np.exp(-1j * np.angle(z))[:, None]  # rotation removed
        ta = t @ e_a  # (K,)
        ma = mr.real * e_a[0] + mr.imag * e_a[1]  # (N, K)
        s_a = (wgt * ma * ta[None]).sum(1) / np.maximum((wgt * ta[None] ** 2).sum(1), 1e-30)
        a = a_ref / np.maximum(s_a, 1e-6)
    return rotation.astype(np.float32), a.astype(np.float32)


def errors_against_truth(proj, n: int, rng, ranges=None, c_over_a: float | None = None,
                         known_c_over_a: bool = False):
    """Rotation error (deg, modulo the pattern symmetry) and relative lattice-constant error
    of :func:`measure` on ``n`` simulated 12 angstrom windows of projection ``proj`` (no shear,
    drift, tilt or amorphous layer); ``c_over_a`` fixes c/a (default: drawn from the class's range);
    ``known_c_over_a`` gives that c/a to :func:`measure` (as an hcp prior does)."""
    from . import synthetic as S

    ranges = S.TRAIN_RANGES if ranges is None else ranges
    windows, rotations, constants = [], [], []
    for _ in range(n):
        p = S.sample_parameters(proj, rng, ranges)
        # the truth of a sheared, tilted or amorphous-covered window is not one lattice: leave those out
        p.update(strain=np.zeros((2, 2)), drift=np.zeros(2), tilt=0.0, amorphous=0.0, window=12.0)
        if c_over_a is not None:
            p["c_over_a"] = float(c_over_a)
        windows.append(S.simulate_window(proj, p, rng))
        rotations.append(p["rotation"])
        constants.append(p["a"])
    windows = np.stack(windows)
    rotation, constant = measure(windows, D.descriptors(windows), proj.name,
                                 float(c_over_a) if known_c_over_a and c_over_a is not None else None)
    sym = 360.0 / proj.rotation_symmetry
    rotation_error = (rotation - np.array(rotations) % sym + sym / 2) % sym - sym / 2
    return rotation_error, constant / np.array(constants) - 1
