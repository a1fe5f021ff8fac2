"""Lattice of each pattern: the direct beam, the Bragg-vector map, the basis and weighted least-squares fits.

Vectors are (x, y) in detector pixels (x = column, y = row). A lattice is the 2 x 2 matrix
``G = [g1 g2]`` whose columns are the basis vectors; a disk of indices (h, k) sits at
``q0 + h g1 + k g2`` with ``q0`` the pattern's origin (the direct beam).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import ParameterError


def origins(disks: np.ndarray, centre) -> np.ndarray:
    """Per pattern, the detected disk nearest to ``centre`` (x, y): the direct beam. (n, 2); NaN if none."""
    d = np.asarray(disks)
    dist = np.hypot(d[..., 0] - centre[0], d[..., 1] - centre[1])
    dist = np.where(np.isfinite(dist), dist, np.inf)
    j = np.argmin(dist, axis=-1)
    out = np.take_along_axis(d[..., :2], j[..., None, None], axis=-2)[..., 0, :]
    out[~np.isfinite(np.min(dist, axis=-1))] = np.nan
    return out


def bragg_vector_map(disks: np.ndarray, origin: np.ndarray, shape) -> np.ndarray:
    """Histogram of disk positions relative to each pattern's origin, weighted by correlation
    (bilinear, 1 px bins); zero vector at pixel ``(ny // 2, nx // 2)`` of an image of ``shape``."""
    ny, nx = shape
    v = disks[..., :2] - origin[..., None, :]
    w = disks[..., 2]
    ok = np.isfinite(v).all(axis=-1) & np.isfinite(w)
    x, y, w = v[ok][:, 0] + nx // 2, v[ok][:, 1] + ny // 2, w[ok]
    bvm = np.zeros((ny + 1, nx + 1))
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    keep = (x0 >= 0) & (x0 < nx) & (y0 >= 0) & (y0 < ny)
    for dy, dx, ww in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        np.add.at(bvm, (y0[keep] + dy, x0[keep] + dx), (w * ww)[keep])
    return bvm[:ny, :nx]


def bvm_peaks(bvm: np.ndarray, min_spacing: float, min_relative: float = 0.02) -> np.ndarray:
    """Peaks of a Bragg-vector map as vectors (x, y, weight), strongest first (zero vector included)."""
    from scipy import ndimage

    ny, nx = bvm.shape
    smooth = ndimage.gaussian_filter(bvm, 1.0)
    size = max(3, int(2 * np.floor(min_spacing / 2) + 1))
    peak = (smooth == ndimage.maximum_filter(smooth, size=size)) & (smooth > 0)
    ys, xs = np.nonzero(peak)
    out = []
    for y, x in zip(ys, xs):
        y0, y1, x0, x1 = max(0, y - 2), min(ny, y + 3), max(0, x - 2), min(nx, x + 3)
        patch = bvm[y0:y1, x0:x1]
        total = patch.sum()
        gy, gx = np.mgrid[y0:y1, x0:x1]
        out.append(((gx * patch).sum() / total - nx // 2, (gy * patch).sum() / total - ny // 2, total))
    out = np.array(out, dtype=np.float64).reshape(-1, 3)
    out = out[np.argsort(-out[:, 2])]
    if len(out):
        out = out[out[:, 2] >= min_relative * out[0, 2]]
    return out


def reduce_basis(g1, g2):
    """Lagrange-Gauss reduction of a 2D basis: shortest vectors spanning the same lattice, g1 x g2 > 0."""
    g1, g2 = np.asarray(g1, float), np.asarray(g2, float)
    for _ in range(32):
        if g2 @ g2 < g1 @ g1:
            g1, g2 = g2, g1
        m = np.round((g1 @ g2) / (g1 @ g1))
        if m == 0:
            break
        g2 = g2 - m * g1
    if g1[0] * g2[1] - g1[1] * g2[0] < 0:
        g2 = -g2
    return g1, g2


def automatic_basis(peaks: np.ndarray, radius: float, n_candidates: int = 12, tol: float = 0.15) -> np.ndarray:
    """A reduced basis (2 x 2, columns g1, g2) from Bragg-vector-map peaks (x, y, weight).

    Every non-collinear pair of the ``n_candidates`` strongest peaks farther than ``radius`` from the
    origin is reduced and scored by the weight of the peaks it indexes (fractional indices within
    ``tol``); of the pairs indexing at least 95 % of the best score, the coarsest lattice (largest
    cell) wins, so spurious maxima (side lobes of the correlation, noise) cannot make a finer
    lattice. The winner is refined by least squares over every peak it indexes.
    """
    v, w = peaks[:, :2], peaks[:, 2]
    length = np.hypot(v[:, 0], v[:, 1])
    far = length > max(radius, 1.0)
    if far.sum() < 2:
        raise ParameterError("Fewer than two Bragg reflections were found besides the direct beam: lower the "
                             "minimum intensity, check the disk radius, or give the basis.")
    cand = v[far][:n_candidates]
    best = []
    for i in range(len(cand)):
        for j in range(i + 1, len(cand)):
            g1, g2 = cand[i], cand[j]
            cross = abs(g1[0] * g2[1] - g1[1] * g2[0])
            if cross < np.sin(np.radians(20)) * np.hypot(*g1) * np.hypot(*g2):
                continue
            g1, g2 = reduce_basis(g1, g2)
            frac = v @ np.linalg.inv(np.stack([g1, g2], axis=1)).T
            score = w[np.all(np.abs(frac - np.round(frac)) < tol, axis=1)].sum()
            best.append((score, cross, g1, g2))
    if not best:
        raise ParameterError("All Bragg reflections found lie on one line (a systematic row): a 2D lattice "
                             "fit needs a zone axis; give the basis or choose another region.")
    top = max(b[0] for b in best)
    _, _, g1, g2 = max((b for b in best if b[0] >= 0.95 * top), key=lambda b: b[1])
    return refine_basis(np.stack([g1, g2], axis=1), peaks)


def refine_basis(basis: np.ndarray, peaks: np.ndarray, tol: float = 0.2) -> np.ndarray:
    """Least-squares basis (and origin) through the peaks (x, y, weight) that ``basis`` indexes."""
    v, w = peaks[:, :2], peaks[:, 2]
    frac = v @ np.linalg.inv(basis).T
    hk = np.round(frac)
    ok = np.all(np.abs(frac - hk) < tol, axis=1)
    a = np.column_stack([np.ones(ok.sum()), hk[ok]])
    if np.linalg.matrix_rank(a) < 3:
        return basis
    sw = np.sqrt(w[ok])[:, None]
    x, *_ = np.linalg.lstsq(a * sw, v[ok] * sw, rcond=None)
    return x[1:].T


def parse_indices(pairs) -> tuple:
    """Two reflections written as text, ``['1,0', '0,1']`` -> ``((1, 0), (0, 1))``.

    Raises :class:`ParameterError` whose message says what to write; the CLI and the widget put the
    name of their option or box in front of it.
    """
    out = []
    for text in pairs:
        try:
            h, k = (int(v) for v in str(text).split(","))
        except ValueError:
            raise ParameterError("write two reflections H1,K1 H2,K2 as integers, e.g. 1,0 0,1.") from None
        out.append((h, k))
    if len(out) != 2:
        raise ParameterError("write two reflections H1,K1 H2,K2 as integers, e.g. 1,0 0,1.")
    (h1, k1), (h2, k2) = out
    if h1 * k2 - h2 * k1 == 0:
        raise ParameterError("the two reflections are parallel; choose two that span the lattice, e.g. 1,0 0,1.")
    return tuple(out)


def basis_from_indices(auto: np.ndarray, indices) -> np.ndarray:
    """The basis of reflections ``((h1, k1), (h2, k2))`` indexed on the automatic basis ``auto``."""
    idx = np.asarray(indices, dtype=float)
    if idx.shape != (2, 2) or not np.all(np.round(idx) == idx):
        raise ParameterError(f"basis={indices!r}: give two reflections as integer (h, k) pairs, e.g. ((1, 0), (0, 1)).")
    if abs(np.linalg.det(idx)) < 0.5:
        raise ParameterError(f"basis={indices!r}: the two reflections are parallel; choose two that span the lattice.")
    return auto @ idx.T


def fit_lattices(disks: np.ndarray, origin: np.ndarray, basis: np.ndarray, *, min_disks: int = 5,
                 tol: float = 0.3, passes: int = 3, device=None) -> dict:
    """Per-pattern weighted least-squares lattice ``q = q0 + h g1 + k g2`` of the indexed disks.

    Parameters
    ----------
    disks : (n, m, 3) detected disks (x, y, correlation), NaN padded.
    origin : (n, 2) direct beam per pattern (x, y) pixels (starting value of ``q0``).
    basis : 2 x 2 starting basis (columns g1, g2), pixels.
    min_disks : fewer indexed disks than this leave the pattern unfitted.
    tol : a disk is indexed when its fractional indices are within ``tol`` of integers.
    passes : index-fit cycles; each re-indexes with the pattern's own last fit and drops disks
        whose residual exceeds three times the fit's RMS error (at least 0.5 px).

    Returns
    -------
    dict with ``lattice`` (n, 2, 2) fitted G, ``origin`` (n, 2), ``error`` (n,) weighted RMS
    residual (pixels), ``n_disks`` (n,) disks used and ``ok`` (n,) bool.
    """
    d = np.asarray(disks, dtype=np.float64)
    n = d.shape[0]
    q, w = d[..., :2], np.nan_to_num(d[..., 2], nan=0.0)
    finite = np.isfinite(q).all(axis=-1) & (w > 0)
    q = np.where(finite[..., None], q, 0.0)
    w = np.clip(w, 0.0, None)
    g = np.broadcast_to(basis, (n, 2, 2)).copy()
    q0 = np.where(np.isfinite(origin), origin, 0.0).copy()
    limit = np.full(n, np.inf)
    use = finite
    x = np.zeros((n, 3, 2))
    ok = np.zeros(n, dtype=bool)
    for _ in range(max(1, passes)):
        inv = np.linalg.inv(g)
        frac = np.einsum("nij,nmj->nmi", inv, q - q0[:, None, :])
        hk = np.round(frac)
        use = finite & np.all(np.abs(frac - hk) < tol, axis=-1)
        a = np.concatenate([np.ones(hk.shape[:-1] + (1,)), hk], axis=-1)  # (n, m, 3)
        pred = np.einsum("nmk,nkj->nmj", a, x) if ok.any() else None
        if pred is not None:
            res = np.hypot(*(q - pred).transpose(2, 0, 1))
            use &= ~(ok[:, None] & (res > limit[:, None]))
        ww = w * use
        normal = np.einsum("nmk,nm,nml->nkl", a, ww, a)
        rhs = np.einsum("nmk,nm,nmj->nkj", a, ww, q)
        det = np.linalg.det(normal)
        good = (use.sum(axis=1) >= max(3, int(min_disks))) & (det > 1e-9 * np.maximum(1.0, normal[:, 0, 0]) ** 3)
        safe = np.where(good[:, None, None], normal, np.eye(3))
        x = np.linalg.solve(safe, np.where(good[:, None, None], rhs, 0.0))
        ok = good
        q0 = np.where(good[:, None], x[:, 0], q0)
        g = np.where(good[:, None, None], x[:, 1:].transpose(0, 2, 1), g)
        res = np.hypot(*(q - np.einsum("nmk,nkj->nmj", a, x)).transpose(2, 0, 1))
        rms = np.sqrt((ww * res ** 2).sum(axis=1) / np.maximum(ww.sum(axis=1), 1e-30))
        limit = np.maximum(3 * rms, 0.5)
    n_used = use.sum(axis=1)
    return {"lattice": np.where(ok[:, None, None], g, np.nan), "origin": np.where(ok[:, None], q0, np.nan),
            "error": np.where(ok, rms, np.nan), "n_disks": np.where(ok, n_used, 0).astype(np.int32), "ok": ok}


def check_basis(basis: Optional[np.ndarray]) -> np.ndarray:
    """A 2 x 2 float basis given as vectors (columns g1, g2 in pixels), checked."""
    b = np.asarray(basis, dtype=float)
    if b.shape != (2, 2) or not np.all(np.isfinite(b)) or abs(np.linalg.det(b)) < 1e-6:
        raise ParameterError(f"basis vectors {basis!r}: give two non-parallel vectors (x, y) in pixels.")
    return b
