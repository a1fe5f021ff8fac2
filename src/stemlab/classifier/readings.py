"""From the network's class and the measured lattice to what a window can be.

A window predicted as class P with lattice constant a (and rotation) can also be read as each
spacing twin Q of P (:mod:`stemlab.classifier.twins`) at a x ratio. A reading is *valid*:

- without priors: when its lattice constant (and c/a) lies in the class's trained range
  (widened by ``tolerance``); a twin pair that involves hcp (whose match depends on the c/a,
  which is not measured) also needs the network to give the twin at least
  :data:`MIN_TWIN_PROBABILITY`;
- with priors (:mod:`stemlab.classifier.priors`): when its family is a prior's and its lattice
  constant is within :data:`PRIOR_TOLERANCE` of that prior's (and c/a, when both are known).

No valid reading: unknown. Two or more: ambiguous (the image cannot tell them apart), reported
with the best reading (highest probability, or closest to a prior) and the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TWIN_PROBABILITY = 0.05
TWIN_TOLERANCE = 0.05  # relative, the most a twin reading may lie outside its class's range
PRIOR_TOLERANCE = 0.04  # relative; the fit's 95th percentile is <= 1.5 %, the training shear 2 %
PRIOR_C_OVER_A_TOLERANCE = 0.03


@dataclass
class Readings:
    """Per window: the chosen class index, lattice constant (angstrom), rotation (degrees); the
    next valid reading (``alt_label`` -1 if none); unknown / ambiguous masks."""

    label: np.ndarray
    a: np.ndarray
    rotation: np.ndarray
    alt_label: np.ndarray
    alt_a: np.ndarray
    unknown: np.ndarray
    ambiguous: np.ndarray


def allowed_classes(names, priors, table) -> np.ndarray:
    """Bool (C,): the classes of the priors' families and their twins (all when no priors)."""
    if not priors:
        return np.ones(len(names), bool)
    families = {p.family for p in priors}
    ok = np.array([n.split()[0] in families for n in names])
    for (name, _), twins in table.items():
        if any(t.name.split()[0] in families for t in twins):
            ok[names.index(name)] = True
    return ok


def twin_groups(names, table) -> np.ndarray:
    """(C, G) 0/1 matrix merging each class with its twins (connected groups)."""
    group = list(range(len(names)))

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    for (name, _), twins in table.items():
        for t in twins:
            group[root(names.index(t.name))] = root(names.index(name))
    roots = sorted({root(i) for i in range(len(names))})
    M = np.zeros((len(names), len(roots)), np.float32)
    for i in range(len(names)):
        M[i, roots.index(root(i))] = 1.0
    return M


def _candidates(names, pred, a, rotation, table):
    """(class (n, K), a (n, K), rotation (n, K), c/a (n, K), involves hcp (n, K)); column 0 is the
    prediction itself (c/a NaN: not measured), missing candidates have class -1."""
    from ..simulate.projections import projection

    twins = {n: {} for n in names}
    for (name, _), ts in table.items():
        for t in ts:
            twins[name].setdefault(t.name, t)
    K = 1 + max((len(v) for v in twins.values()), default=0)
    n = len(pred)
    cls = np.full((n, K), -1)
    ca = np.full((n, K), np.nan)
    cand_a = np.full((n, K), np.nan)
    cand_rot = np.full((n, K), np.nan)
    hcp = np.zeros((n, K), bool)
    cls[:, 0], cand_a[:, 0], cand_rot[:, 0] = pred, a, rotation
    for k, name in enumerate(names):
        sel = pred == k
        for j, t in enumerate(twins[name].values(), start=1):
            q = names.index(t.name)
            cls[sel, j] = q
            cand_a[sel, j] = a[sel] * t.a_ratio
            ca[sel, j] = t.c_over_a
            period = 360.0 / projection(t.name).rotation_symmetry
            cand_rot[sel, j] = (rotation[sel] - t.rotation_deg) % period
            hcp[sel, j] = "hcp" in (name.split()[0], t.name.split()[0])
    return cls, cand_a, cand_rot, ca, hcp


def _in_range(names, cls, a, ca, tolerance):
    from ..simulate.projections import projection

    lo = np.array([projection(n).a_range[0] for n in names] + [np.nan])[cls]
    hi = np.array([projection(n).a_range[1] for n in names] + [np.nan])[cls]
    clo = np.array([projection(n).c_over_a_range[0] for n in names] + [np.nan])[cls]
    chi = np.array([projection(n).c_over_a_range[1] for n in names] + [np.nan])[cls]
    with np.errstate(invalid="ignore"):
        ok = (a >= lo * (1 - tolerance)) & (a <= hi * (1 + tolerance))
        ok &= np.isnan(ca) | ((ca >= clo * 0.98) & (ca <= chi * 1.02))
    return ok & (cls >= 0)


def _prior_distance(names, cls, a, ca, priors):
    """Relative distance of each reading to the nearest prior of its family (inf: none)."""
    fam = np.array([n.split()[0] for n in names] + [""])[cls]
    best = np.full(cls.shape, np.inf)
    for p in priors:
        with np.errstate(invalid="ignore"):
            d = np.abs(a / p.a - 1.0)
            ok = (fam == p.family) & np.isfinite(d)
            if p.c_over_a is not None:
                ok &= np.isnan(ca) | (np.abs(ca / p.c_over_a - 1.0) <= PRIOR_C_OVER_A_TOLERANCE)
        best = np.where(ok & (d < best), d, best)
    return best


def resolve(names, probabilities, a, rotation, table, tolerance, priors=()) -> Readings:
    """:class:`Readings` of n windows from their mean class probabilities (n, C) (already
    restricted to :func:`allowed_classes`), measured lattice constant and rotation (n,) of the
    top class (NaN: not measured), the twin table and the lattice tolerance (relative)."""
    n = len(a)
    pred = probabilities.argmax(1)
    cls, cand_a, cand_rot, ca, hcp = _candidates(names, pred, np.asarray(a, float), np.asarray(rotation, float),
                                                 table)
    prob = np.take_along_axis(np.c_[probabilities, np.zeros(n)], np.where(cls < 0, probabilities.shape[1], cls), 1)
    if priors:
        dist = _prior_distance(names, cls, cand_a, ca, priors)
        valid = dist <= PRIOR_TOLERANCE
        score = -dist
    else:
        valid = _in_range(names, cls, cand_a, ca, tolerance)
        # a twin reading must lie near its class's range even when the tolerance is off (inf)
        valid[:, 1:] = _in_range(names, cls[:, 1:], cand_a[:, 1:], ca[:, 1:], min(tolerance, TWIN_TOLERANCE))
        valid[:, 1:] &= ~hcp[:, 1:] | (prob[:, 1:] >= MIN_TWIN_PROBABILITY)
        score = prob.copy()
    unmeasured = ~np.isfinite(np.asarray(a, float))
    if not priors:  # without a measurement the prediction stands, alone
        valid[unmeasured, 0] = True
        valid[unmeasured, 1:] = False
    score = np.where(valid, score, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1] if cls.shape[1] > 1 else order[:, 0]
    rows = np.arange(n)
    count = valid.sum(1)
    has_alt = count >= 2
    return Readings(
        label=np.where(count > 0, cls[rows, first], pred),
        a=np.where(count > 0, cand_a[rows, first], a).astype(np.float32),
        rotation=np.where(count > 0, cand_rot[rows, first], rotation).astype(np.float32),
        alt_label=np.where(has_alt, cls[rows, second], -1),
        alt_a=np.where(has_alt, cand_a[rows, second], np.nan).astype(np.float32),
        unknown=count == 0, ambiguous=has_alt)


def describe(names, label, a, alt_label, alt_a) -> str:
    """'bcc [100] a = 2.87 Å or fcc [100] a = 4.06 Å' for one ambiguity (medians over its windows)."""
    return f"{names[label]} a = {np.nanmedian(a):.2f} Å or {names[alt_label]} a = {np.nanmedian(alt_a):.2f} Å"
