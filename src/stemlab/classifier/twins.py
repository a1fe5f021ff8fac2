"""Spacing twins: zone axes of different structures whose projections are the same pattern.

Some projections differ only in scale and orientation: fcc [100] and bcc [100] are both square
lattices of identical columns (spacing a/2 and a/sqrt 2), so bcc alpha-Fe (a = 2.87 angstrom)
along [100] is the image of fcc a = 4.06 angstrom along [100]. Nothing in an incoherent HAADF
image tells such twins apart; only a prior (the user's phases) can.

The equivalence table is computed from the crystal geometry: every class's reciprocal-lattice
spots (column structure factor |F(g)|^2 of its projected cell) are compared with every other
class's, up to an in-plane rotation and a scale. Two projections are twins when each one's
strong spots (|F|^2 >= :data:`STRONG` of the strongest) have a spot of the other within
:data:`POSITION_TOLERANCE` (relative) and of similar strength (within a factor
:data:`STRENGTH_FACTOR`). The patterns are mirror symmetric, so rotations suffice. For hcp the
match depends on c/a (fcc [211] is hcp [10-10] only near the ideal c/a = 1.633): the table is
kept on a grid of c/a.

:func:`twin_table` -> {(class, c/a of the class): [Twin, ...]}; a window of class P at lattice
constant a is also class Q at ``a * twin.a_ratio`` (c/a ``twin.c_over_a``), rotated by
``-twin.rotation_deg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

POSITION_TOLERANCE = 0.02  # relative spot position; the training shear is +-2 %
STRENGTH_FACTOR = 3.0
STRONG = 0.1  # fraction of the strongest |F|^2 that counts as a spot
MAX_SHELLS = 2.3  # spots out to this multiple of the shortest strong spot
C_OVER_A_STEP = 0.01


@dataclass(frozen=True)
class Twin:
    """Class ``name`` at lattice constant ``a_ratio`` x the other class's (c/a ``c_over_a``);
    its reference frame is turned by ``rotation_deg`` from the other's."""

    name: str
    a_ratio: float
    c_over_a: float
    rotation_deg: float


def spots(lattice, max_index: int = 6):
    """(g (K, 2) 1/angstrom, |F|^2 (K,) normalised to the strongest) of a projected lattice's
    nonzero reciprocal-lattice spots (equal-weight cells give equal |F|^2)."""
    recip = np.linalg.inv(lattice.cell).T
    n = np.arange(-max_index, max_index + 1)
    hk = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2)
    hk = hk[np.any(hk != 0, axis=1)]
    g = hk @ recip
    F = (lattice.weights[None, :] * np.exp(2j * np.pi * hk @ lattice.basis.T)).sum(1)
    f2 = np.abs(F) ** 2
    return g, f2 / f2.max()


def _pattern(lattice):
    """Strong spots as complex numbers out to MAX_SHELLS x the shortest, with strengths."""
    g, f2 = spots(lattice)
    strong = f2 >= STRONG
    r = np.hypot(g[:, 0], g[:, 1])
    keep = strong & (r <= MAX_SHELLS * r[strong].min() * (1 + 1e-9))
    return g[keep, 0] + 1j * g[keep, 1], f2[keep]


def _covered(src, s_src, dst, s_dst, radius) -> bool:
    """Every spot of ``src`` inside ``radius`` has a ``dst`` spot close in position and strength."""
    inside = np.abs(src) <= radius
    if not inside.any():
        return False
    d = np.abs(src[inside][:, None] - dst[None, :]) <= POSITION_TOLERANCE * np.abs(src[inside])[:, None]
    ratio = s_src[inside][:, None] / s_dst[None, :]
    ok = d & (ratio <= STRENGTH_FACTOR) & (ratio >= 1.0 / STRENGTH_FACTOR)
    return bool(ok.any(axis=1).all())


def match(pattern_p, pattern_q):
    """(mean spot mismatch, scale, rotation_deg) with pattern(q) = scale * R(rotation) pattern(p)
    for two :func:`_pattern` s, or None when the patterns differ."""
    p, sp = pattern_p
    q, sq = pattern_q
    p0 = p[np.argmin(np.abs(p))]
    best = None
    for qk in q:
        z = qk / p0
        scale = abs(z)
        mapped = p * z
        radius = min(np.abs(mapped).max(), np.abs(q).max()) * (1 - POSITION_TOLERANCE)
        # compare the normalised strengths of the spots inside the common radius
        if _covered(mapped, sp, q, sq, radius) and _covered(q, sq, mapped, sp, radius):
            err = np.abs(np.abs(q[np.abs(q) <= radius])[:, None] - np.abs(mapped)[None]).min(1).mean()
            if best is None or err < best[0]:
                best = (err, scale, float(np.degrees(np.angle(z))))
    return best


def _c_over_a_grid(proj) -> np.ndarray:
    lo, hi = proj.c_over_a_range
    if hi - lo < 1e-9:
        return np.array([lo])
    return np.round(np.arange(lo, hi + 1e-9, C_OVER_A_STEP), 4)


@lru_cache(maxsize=None)
def twin_table(projections=None) -> dict:
    """{(class name, c/a on its grid): tuple of :class:`Twin`} for the classifier's classes
    (:data:`stemlab.simulate.projections.CLASS_PROJECTIONS` by default). Same-family pairs are
    not compared (their zone axes differ in more than scale)."""
    from ..simulate.projections import CLASS_PROJECTIONS

    projs = CLASS_PROJECTIONS if projections is None else projections
    patterns = {(p.name, ca): _pattern(p.project(p.a_reference, ca)) for p in projs for ca in _c_over_a_grid(p)}
    table = {}
    for p in projs:
        for ca_p in _c_over_a_grid(p):
            twins = []
            for q in projs:
                if q.family == p.family:
                    continue
                found = []
                for ca_q in _c_over_a_grid(q):
                    m = match(patterns[(p.name, ca_p)], patterns[(q.name, ca_q)])
                    if m is not None:
                        found.append((m[0], ca_q, m[1], m[2]))
                if found:
                    # the best-matching c/a; the a of q that shows this pattern (spots scale as 1/a)
                    _, ca_q, scale, rot = min(found)
                    a_ratio = scale * q.a_reference / p.a_reference
                    twins.append(Twin(q.name, float(a_ratio), float(ca_q), rot))
            table[(p.name, float(ca_p))] = tuple(twins)
    return table


def twins_of(name: str, c_over_a: float | None = None, projections=None) -> tuple[Twin, ...]:
    """Twins of class ``name`` at ``c_over_a`` (nearest grid value; None: any c/a of the class's
    range, the union)."""
    table = twin_table(projections)
    keys = [k for k in table if k[0] == name]
    if not keys:
        return ()
    if c_over_a is None:
        seen = {}
        for k in keys:
            for t in table[k]:
                seen.setdefault(t.name, t)
        return tuple(seen.values())
    key = min(keys, key=lambda k: abs(k[1] - c_over_a))
    return table[key]


def in_range(proj, a: float, c_over_a: float, tolerance: float = 0.0) -> bool:
    """Whether lattice constant ``a`` (angstrom) and ``c_over_a`` lie in ``proj``'s ranges
    (widened by the relative ``tolerance``)."""
    lo, hi = proj.a_range
    clo, chi = proj.c_over_a_range
    return (lo * (1 - tolerance) <= a <= hi * (1 + tolerance)
            and clo - POSITION_TOLERANCE * clo <= c_over_a <= chi + POSITION_TOLERANCE * chi)


def soft_targets(labels, params, projections=None) -> np.ndarray:
    """Twin-consistent training targets (N, C) float32: a window of class P at (a, c/a) whose
    pattern is also a twin class Q inside Q's ranges gets probability spread equally over P
    and those Q (the image cannot say more); every other window is one-hot."""
    from ..simulate.projections import CLASS_PROJECTIONS

    projs = CLASS_PROJECTIONS if projections is None else projections
    index = {p.name: i for i, p in enumerate(projs)}
    out = np.zeros((len(labels), len(projs)), np.float32)
    for n, (k, prm) in enumerate(zip(labels, params)):
        members = [int(k)]
        for t in twins_of(projs[k].name, prm["c_over_a"], projs):
            q = projs[index[t.name]]
            if in_range(q, prm["a"] * t.a_ratio, t.c_over_a):
                members.append(index[t.name])
        out[n, members] = 1.0 / len(members)
    return out


def table_record(table: dict) -> list:
    """The twin table as JSON-friendly rows [class, c/a, twin, a_ratio, twin c/a, rotation_deg]."""
    return [[k[0], k[1], t.name, t.a_ratio, t.c_over_a, t.rotation_deg] for k, ts in table.items() for t in ts]


def table_from_record(rows) -> dict:
    """Inverse of :func:`table_record` (classes without twins are absent)."""
    table: dict = {}
    for name, ca, twin, ratio, ca_t, rot in rows:
        table.setdefault((name, float(ca)), []).append(Twin(twin, float(ratio), float(ca_t), float(rot)))
    return {k: tuple(v) for k, v in table.items()}
