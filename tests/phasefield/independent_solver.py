"""A phase-field video maker that shares nothing with the fit: ground truth for the tests.

Deliberately different from :mod:`stemlab.simulate.phasefield` (which the fit must not be
judged against alone): explicit (forward) Euler steps on a 5-point finite-difference
Laplacian in numpy, on a periodic *sample* larger than the microscope's field of view
(so the frames are a non-periodic window), optionally on a grid ``refine`` times finer than
the pixels (then averaged onto them, as a detector integrates), and its own renderer:
plain Z-contrast ``background + contrast * u`` in counts per pixel at unit dose, optional
lattice fringes of each phase, probe blur, drift of the window, a slow change of the beam
current between frames and Poisson noise.

Equations in the identifiable parameters (theta = M kappa, M W, M dG):

  Allen-Cahn:    u_t = Mk Lap u - MW f0'(u) - MdG h'(u)
  Cahn-Hilliard: u_t = Lap (MW f0'(u) + MdG h'(u) - Mk Lap u)

with f0'(u) = 2 u (1-u)(1-2u), h'(u) = 6 u (1-u): f(u) = W u^2 (1-u)^2 + dG u^2 (3-2u),
interface width delta = sqrt(2 kappa / W). Explicit Euler is stable for
dt < dx^2 / (4 Mk) (Allen-Cahn) and dt < dx^4 / (32 Mk) (Cahn-Hilliard, the 13-point
biharmonic); we take half of that and at most 0.05 / MW.
"""

from __future__ import annotations

import numpy as np

from stemlab import Axis, Dataset


def laplacian_5pt(u, dx):
    """Periodic 5-point finite-difference Laplacian."""
    return (np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u) / dx ** 2


def rhs(u, model, mk, mw, mdg, dx):
    """u_t of Allen-Cahn or Cahn-Hilliard in the identifiable parameters."""
    fp = mw * 2 * u * (1 - u) * (1 - 2 * u) + mdg * 6 * u * (1 - u)
    if model == "allen-cahn":
        return mk * laplacian_5pt(u, dx) - fp
    return laplacian_5pt(fp - mk * laplacian_5pt(u, dx), dx)


def stable_dt(model, mk, mw, dx, safety=0.5):
    """Half the explicit-Euler stability limit of the 5-point scheme, at most 0.05 / MW."""
    limit = dx ** 2 / (4 * mk) if model == "allen-cahn" else dx ** 4 / (32 * mk + 8 * mw * dx ** 2)
    relax = 1.0 / mw if model == "allen-cahn" else (2 * mk / mw) / mw
    return min(safety * limit, 0.05 * relax)


def euler_solve(u0, times, model, mk, mw, mdg, dx):
    """Fields at ``times`` from ``u0`` at t = 0 by explicit Euler steps (float64)."""
    dt_max = stable_dt(model, mk, mw, dx)
    u, t, out = np.array(u0, dtype=np.float64), 0.0, []
    for target in times:
        n = int(np.ceil((target - t) / dt_max - 1e-9))
        dt = (target - t) / n if n else 0.0
        for _ in range(n):
            u = u + dt * rhs(u, model, mk, mw, mdg, dx)
        t = target
        out.append(u.copy())
    return np.array(out)


def initial_field(shape, model, dx, delta, rng, mean=0.4):
    """Allen-Cahn: a smooth random field cut into phases with tanh edges of width delta;
    Cahn-Hilliard: a noisy mixture of mean composition ``mean`` (spinodal decomposition)."""
    from scipy import ndimage

    if model == "cahn-hilliard":
        return mean + 0.05 * rng.standard_normal(shape)
    corr = 6 * delta / dx  # correlation length of the random field, grid points
    phi = ndimage.gaussian_filter(rng.standard_normal(shape), corr, mode="wrap")
    phi = (phi - np.quantile(phi, 0.6)) / phi.std()  # 40 % phase 1
    return 0.5 * (1 + np.tanh(phi * corr * dx / delta))


def render(u, *, dose, background=100.0, contrast=60.0, blur_px=0.0, fringes=0.0,
           current_drift=0.0, offsets=None, rng=None):
    """Counts of a (T, H, W) order parameter: plain Z-contrast (background + contrast u) x dose,
    optional lattice fringes (relative amplitude ``fringes``; phase 0 and 1 with periods of 4 and
    3 px along different directions), probe blur (Gaussian, px), a
    beam current changing by ``current_drift`` (relative, a slow sine over the video) and
    Poisson noise. ``offsets`` (T, 2) px: where each frame's window sits on the sample (the
    fringes belong to the sample and drift with it). Returns (noisy, clean)."""
    from scipy import ndimage

    T, H, W = u.shape
    offsets = np.zeros((T, 2)) if offsets is None else np.asarray(offsets, dtype=np.float64)
    yy = np.arange(H)[None, :, None] + offsets[:, 0, None, None]
    xx = np.arange(W)[None, None, :] + offsets[:, 1, None, None]
    f0 = 1 + fringes * np.cos(2 * np.pi * (0.8 * xx + 0.6 * yy) / 4.0)
    f1 = 1 + fringes * np.cos(2 * np.pi * (0.3 * xx - 0.954 * yy) / 3.0)
    clean = background * ((1 - u) * f0 + u * f1) + contrast * u * f1
    if blur_px > 0:
        clean = ndimage.gaussian_filter(clean, (0, blur_px, blur_px), mode="nearest")
    current = 1 + current_drift * np.sin(np.linspace(0, np.pi, T))
    clean = dose * clean * current[:, None, None]
    rng = np.random.default_rng(0) if rng is None else rng
    return rng.poisson(clean).astype(np.float32), clean.astype(np.float32)


def independent_video(model="allen-cahn", *, shape=(64, 64), n_frames=20, pixel_size=1.0, frame_time=0.8,
                      mk=None, mw=1.0, mdg=None, delta=None, dose=1.0, blur_px=0.0, fringes=0.0,
                      drift_px=0.0, current_drift=0.0, refine=1, margin=0.25, t_start=0.0, seed=0) -> Dataset:
    """A noisy video (counts) from the explicit solver, with its ground truth in metadata.

    Lengths in nm, times in s. ``delta`` (nm) sets M kappa = MW delta^2 / 2 unless ``mk``
    is given. ``dose`` scales the 100 + 60 u counts. The sample is ``1 + 2 margin`` times
    the field of view and periodic; the window drifts by ``drift_px`` px per frame
    (integer steps of the fine grid, along a fixed diagonal). ``refine``: the solver's grid
    is that many times finer than the pixels. ``t_start`` (s): evolution before the first frame
    (Cahn-Hilliard: let the spinodal pattern form). ``metadata['ground_truth']['drift']``
    (T, 2) px: the shifts that align the frames (zero median), as ``estimate_drift`` reports them.
    """
    rng = np.random.default_rng(seed)
    if mk is None:
        mk = mw * delta ** 2 / 2
    delta = float(np.sqrt(2 * mk / mw))
    if mdg is None:
        mdg = -0.05 * mw if model == "allen-cahn" else 0.0
    H, W = shape
    pad_y, pad_x = int(round(margin * H)), int(round(margin * W))
    big = ((H + 2 * pad_y) * refine, (W + 2 * pad_x) * refine)
    dxf = pixel_size / refine
    times = t_start + np.arange(n_frames) * frame_time
    u0 = initial_field(big, model, dxf, delta, rng)
    fields = euler_solve(u0, times, model, mk, mw, mdg, dxf)
    frames, offsets = [], []
    for k in range(n_frames):
        shift = int(round(k * drift_px * refine))
        y0, x0 = pad_y * refine + shift, pad_x * refine + shift // 2
        win = fields[k, y0:y0 + H * refine, x0:x0 + W * refine]
        frames.append(win.reshape(H, refine, W, refine).mean(axis=(1, 3)))
        offsets.append((shift / refine, (shift // 2) / refine))
    u = np.array(frames)
    noisy, clean = render(u, dose=dose, blur_px=blur_px, fringes=fringes,
                          current_drift=current_drift, offsets=offsets, rng=rng)
    axes = (Axis("t", n_frames, frame_time, 0.0, "s", True), Axis("y", H, pixel_size, 0.0, "nm"),
            Axis("x", W, pixel_size, 0.0, "nm"))
    window_offset = np.array(offsets) - np.median(offsets, axis=0)  # px; the drift that aligns the frames
    truth = {"M*kappa": float(mk), "M*W": float(mw), "M*dG": float(mdg), "interface_width": delta}
    meta = {"ground_truth": {"clean": clean, "order_parameter": u.astype(np.float32), "identifiable": truth,
                             "model": model, "drift": window_offset,
                             "solver": f"explicit Euler, 5-point Laplacian, dx = {dxf:g} nm"}}
    return Dataset(noisy, axes, kind="video", name=f"independent {model}", metadata=meta)
