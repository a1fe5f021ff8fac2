"""Accuracy of an orientation map against simulated ground truth (tests and benchmarks).

Two orientation criteria are reported side by side:

* ``within_2deg``: symmetry-aware disorientation (orix, the phase's point group) below 2 degrees.
* ``equivalent``: within 2 degrees *or* kinematically indistinguishable from the truth: the
  noise-free spot pattern of the found orientation, rendered with the data's own simulation
  parameters (relrod width, spot size, calibration), correlates >= ``equivalent_ncc`` with the
  noise-free pattern of the true orientation. This happens when every visible reflection lies in
  one reciprocal-lattice plane whose 2D symmetry is higher than the crystal's about its normal
  (fcc/bcc [111], [112], bcc [113] zones, exactly on axis *and* several degrees off it, since
  the tilt only moves the Ewald sphere over the same plane), or when a pattern shows only a
  systematic row: no kinematic matcher can tell those orientations apart; the orientation
  reliability map flags them (~0).
"""

from __future__ import annotations

import numpy as np


def disorientation_deg(R_found, R_true, phase) -> np.ndarray:
    """Symmetry-aware angle (degrees) between crystal->lab rotations (n, 3, 3) of one phase, under the
    proper rotations of its Laue group (orix): kinematic patterns obey Friedel's law, so a phase
    without inversion (WC, -6m2) shows the symmetry of its Laue group (6/mmm), as the matcher assumes."""
    from orix.quaternion import Orientation

    sym = phase.orix_phase().point_group.laue.proper_subgroup
    a = Orientation.from_matrix(np.transpose(np.asarray(R_found, float).reshape(-1, 3, 3), (0, 2, 1)), symmetry=sym)
    b = Orientation.from_matrix(np.transpose(np.asarray(R_true, float).reshape(-1, 3, 3), (0, 2, 1)), symmetry=sym)
    return np.asarray(a.angle_with(b, degrees=True))


def render_spots(refl, R, shape, calibration, *, voltage_kv=200.0, s_width=0.012, precession_deg=0.0,
                 sigma_px=1.2, r_min_px=8.0, gamma=0.5) -> np.ndarray:
    """Noise-free, background-free spot image (gamma-transformed, direct beam region zeroed)."""
    from ..crystal.reflections import diffraction_spots

    sp = diffraction_spots(refl, R, voltage_kv, s_width=s_width, precession_deg=precession_deg, min_intensity=1e-4)
    H, W = shape
    dy, dx = sp.ky / calibration, sp.kx / calibration
    keep = (np.abs(dy) < H / 2 + 4 * sigma_px) & (np.abs(dx) < W / 2 + 4 * sigma_px)
    dy, dx, w = dy[keep], dx[keep], sp.intensity[keep] / refl.intensity.max()
    r = np.arange(H) - H // 2
    c = np.arange(W) - W // 2
    gr = np.exp(-0.5 * ((r[None] - dy[:, None]) / sigma_px) ** 2)
    gc = np.exp(-0.5 * ((c[None] - dx[:, None]) / sigma_px) ** 2)
    img = np.einsum("s,sr,sc->rc", w, gr, gc) ** gamma
    rr, cc = np.meshgrid(r, c, indexing="ij")
    img[rr * rr + cc * cc < r_min_px ** 2] = 0
    return img


def evaluate_map(result, dataset, *, equivalent_ncc: float = 0.95, max_equivalence_checks: int = 4000) -> dict:
    """Per-pattern errors and summary accuracies of an OrientationResult against a simulated scan.

    Returns a dict with arrays ``angle`` (degrees, 180 for a wrong phase), ``phase_ok``,
    ``equivalent`` and summary fractions ``phase``, ``within_2deg``, ``equivalent``.
    """
    from ..crystal.reflections import reflections

    gt = dataset.metadata["ground_truth"]
    sim = dataset.metadata.get("simulation", {})
    phases = result.library.phases
    truth = np.asarray(gt["phase"]).ravel()
    found = np.asarray(result.arrays["phase"]).ravel().astype(int)
    R_true = np.asarray(gt["orientation"]).reshape(-1, 3, 3)
    R_found = result.rotations.reshape(-1, 3, 3)
    angle = np.full(truth.size, 180.0)
    for p, ph in enumerate(phases):
        sel = (truth == p) & (found == p)
        if sel.any():
            angle[sel] = disorientation_deg(R_found[sel], R_true[sel], ph)
    equivalent = angle < 2.0
    check = np.flatnonzero((found == truth) & ~equivalent)[:max_equivalence_checks]
    if len(check):
        cal = float(dataset.metadata.get("reciprocal_pixel_per_angstrom") or dataset.axes[-1].scale)
        shape = tuple(int(v) for v in dataset.sig_shape)
        g_max = np.hypot(*shape) / 2 * cal + 0.05
        refls = {p: reflections(ph.structure, g_max) for p, ph in enumerate(phases)}
        kw = dict(voltage_kv=float(dataset.metadata.get("voltage_kv", 200.0)),
                  s_width=float(sim.get("s_width_per_angstrom", 0.012)),
                  precession_deg=float(sim.get("precession_deg", 0.0)),
                  sigma_px=float(sim.get("spot_sigma_px", 1.2)))
        for i in check:
            a = render_spots(refls[truth[i]], R_true[i], shape, cal, **kw).ravel()
            b = render_spots(refls[truth[i]], R_found[i], shape, cal, **kw).ravel()
            a, b = a - a.mean(), b - b.mean()
            den = np.linalg.norm(a) * np.linalg.norm(b)
            equivalent[i] = den > 0 and float(a @ b) / den >= equivalent_ncc
    phase_ok = found == truth
    return {"angle": angle, "phase_ok": phase_ok, "equivalent": equivalent,
            "phase": float(phase_ok.mean()), "within_2deg": float(np.mean(angle < 2.0)),
            "equivalent_fraction": float(equivalent.mean())}
