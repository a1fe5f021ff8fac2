"""Fit the fast HAADF model's column profile and contrast to the abTEM calibration library
(``make_abtem_calibration.py``; never the held-out set).

    python benchmarks/fit_channelling.py [--data benchmarks/data/abtem_calibration.npz]

A perfect crystal's image is periodic, and the classifier's descriptor of it depends only on the
moduli of its Fourier coefficients F(g) at the reciprocal-lattice points. For every cell image
the script measures |F(g)| / F(0) and fits, over the points allowed by the projected structure
(kinematic structure factor S(g) of the cell's atom columns, |S| / N > 0.1),

    |F(g)| / F(0) = C |S(g)| / N [(1 - w) exp(-2 pi^2 sigma^2 g^2) + w exp(-2 pi^2 sigma_s^2 g^2)]

C: the column contrast (1 / (1 + background / column signal)); sigma, sigma_s, w: a probe-like
core and a sharper channelling component. The points the projection forbids (|S| / N < 0.1) but
the multislice image shows are the depth contrast: columns whose atoms sit at different depths
channel differently. It prints, per case, C, sigma, sigma_s, w, the strongest forbidden point
relative to the strongest allowed one, and the ranges over the library (what
``stemlab.classifier.synthetic.MULTISLICE_RANGES`` is set from).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from make_abtem_heldout import HCP_ZONE, load, oriented_cell

DATA = Path(__file__).resolve().parent / "data" / "abtem_calibration.npz"


def coefficients(record, image):
    """(g (N,) 1/angstrom, |F(g)| / F(0) (N,), |S(g)| / n_columns (N,)) for g up to 1.3 1/angstrom."""
    material, kind, zone, a, c = record[:5]
    lx, ly = record[9], record[10]
    hkl = {v: k for k, v in HCP_ZONE.items()}[zone] if kind == "hcp" else tuple(int(ch) for ch in zone)
    atoms = oriented_cell(kind, material, a, c or None, hkl)
    xy = atoms.positions[:, :2] / [lx, ly]
    nx, ny = image.shape
    F = np.fft.fft2(image)
    h = np.fft.fftfreq(nx, 1 / nx)
    k = np.fft.fftfreq(ny, 1 / ny)
    H, K = (v.ravel() for v in np.meshgrid(h, k, indexing="ij"))
    g = np.hypot(H / lx, K / ly)
    keep = (g > 0) & (g < 1.3)
    S = np.abs(np.exp(2j * np.pi * (H[keep, None] * xy[:, 0] + K[keep, None] * xy[:, 1])).sum(1)) / len(xy)
    return g[keep], np.abs(F.ravel()[keep]) / np.abs(F[0, 0]), S


def profile(g, sigma, sigma_s, w):
    return (1 - w) * np.exp(-2 * np.pi**2 * sigma**2 * g**2) + w * np.exp(-2 * np.pi**2 * sigma_s**2 * g**2)


def fit(g, amp, S):
    """(C, sigma, sigma_s, w) by least squares on log amplitudes of the allowed points."""
    sel = S > 0.1
    gs, ys, ss = g[sel], amp[sel], S[sel]
    ok = ys > 1e-4
    gs, ys, ss = gs[ok], ys[ok], ss[ok]

    def resid(p):
        C, sigma, sigma_s, w = p
        return np.log(C * ss * profile(gs, sigma, sigma_s, w)) - np.log(ys)

    r = least_squares(resid, [0.5, 0.35, 0.15, 0.2], bounds=([0.01, 0.15, 0.03, 0.0], [2.0, 0.8, 0.3, 1.0]))
    return r.x, float(np.sqrt(np.mean(r.fun**2)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args(argv)
    records, images = load(Path(args.data))
    rows = []
    print("| case | thickness (A) | defocus (A) | tilt (deg) | C | sigma (A) | sigma_s (A) | w | rms log error "
          "| forbidden / allowed |\n|---|---|---|---|---|---|---|---|---|---|")
    for rec, img in zip(records, images):
        g, amp, S = coefficients(rec, img)
        (C, sigma, sigma_s, w), err = fit(g, amp, S)
        forb = amp[S < 0.1].max() / amp[S > 0.1].max() if np.any(S < 0.1) else 0.0
        rows.append((C, sigma, sigma_s, w, forb))
        print(f"| {rec[0]} [{rec[2]}] | {rec[6]:.0f} | {rec[7]:g} | {rec[8]:g} | {C:.3f} | {sigma:.3f} | "
              f"{sigma_s:.3f} | {w:.3f} | {err:.3f} | {forb:.3f} |")
    r = np.array(rows)
    for name, col in zip(("C", "sigma", "sigma_s", "w", "forbidden / allowed"), r.T):
        print(f"{name}: min {col.min():.3f}, median {np.median(col):.3f}, max {col.max():.3f}")


if __name__ == "__main__":
    main()
