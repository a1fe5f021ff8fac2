"""Phase-field videos from FiPy (finite volumes, implicit steps): a second solver that is not ours.

FiPy (NIST; pip ``fipy``) integrates the same equations as :mod:`independent_solver` in the
identifiable parameters, on a periodic finite-volume grid, with implicit (backward Euler)
steps: the diffusion terms implicit, the double-well source linearised about the last
sweep (``ImplicitSourceTerm`` of its derivative, the rest explicit), two sweeps per step.
Cahn-Hilliard is solved as the coupled pair u_t = Lap mu, mu = f'(u) - Mk Lap u
(the formulation of FiPy's own Cahn-Hilliard example). Rendered with the renderer of
:mod:`independent_solver`, so only the solver differs.
"""

from __future__ import annotations

import numpy as np

from independent_solver import initial_field, render
from stemlab import Axis, Dataset


def fipy_solve(u0, times, model, mk, mw, mdg, dx, dt):
    """Fields (len(times), ny, nx) at ``times`` from ``u0`` at t = 0 by FiPy, step <= ``dt``."""
    import fipy as fp

    ny, nx = u0.shape
    mesh = fp.PeriodicGrid2D(nx=nx, ny=ny, dx=dx, dy=dx)
    u = fp.CellVariable(mesh=mesh, value=np.asarray(u0, dtype=float).ravel(), hasOld=True)
    # f'(u) = MW 2u(1-u)(1-2u) + MdG 6u(1-u) and its derivative
    fprime = mw * 2 * u * (1 - u) * (1 - 2 * u) + mdg * 6 * u * (1 - u)
    fsecond = mw * (2 - 12 * u + 12 * u * u) + mdg * (6 - 12 * u)
    if model == "allen-cahn":
        eq = (fp.TransientTerm(var=u) == fp.DiffusionTerm(coeff=mk, var=u)
              - fp.ImplicitSourceTerm(coeff=fsecond, var=u) + fsecond * u - fprime)
        variables = (u,)
    else:
        mu = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
        eq1 = fp.TransientTerm(var=u) == fp.DiffusionTerm(coeff=1.0, var=mu)
        eq2 = (fp.ImplicitSourceTerm(coeff=1.0, var=mu) == fp.ImplicitSourceTerm(coeff=fsecond, var=u)
               - fsecond * u + fprime - fp.DiffusionTerm(coeff=mk, var=u))
        eq = eq1 & eq2
        variables = (u, mu)
    out, t = [], 0.0
    for target in times:
        n = int(np.ceil((target - t) / dt - 1e-9))
        for _ in range(n):
            for v in variables:
                v.updateOld()
            for _ in range(2):
                eq.sweep(dt=(target - t) / n)
        t = target
        out.append(np.array(u.value).reshape(ny, nx))
    return np.array(out)


def fipy_video(model="allen-cahn", *, shape=(48, 48), n_frames=12, pixel_size=1.0, frame_time=0.8, mw=1.0,
               delta=3.0, mdg=None, dose=1.0, margin=0.25, t_start=0.0, dt=None, seed=0) -> Dataset:
    """A noisy video (counts) of a FiPy solution, ground truth in metadata (see
    :func:`independent_solver.independent_video` for the conventions; ``t_start`` s of
    evolution before the first frame)."""
    rng = np.random.default_rng(seed)
    mk = mw * delta ** 2 / 2
    if mdg is None:
        mdg = -0.05 * mw if model == "allen-cahn" else 0.0
    H, W = shape
    pad_y, pad_x = int(round(margin * H)), int(round(margin * W))
    u0 = initial_field((H + 2 * pad_y, W + 2 * pad_x), model, pixel_size, delta, rng)
    relax = 1.0 / mw if model == "allen-cahn" else delta ** 2 / mw
    dt = 0.05 * relax if dt is None else dt
    times = t_start + np.arange(n_frames) * frame_time
    fields = fipy_solve(u0, times, model, mk, mw, mdg, pixel_size, dt)
    u = fields[:, pad_y:pad_y + H, pad_x:pad_x + W]
    noisy, clean = render(u, dose=dose, rng=rng)
    axes = (Axis("t", n_frames, frame_time, 0.0, "s", True), Axis("y", H, pixel_size, 0.0, "nm"),
            Axis("x", W, pixel_size, 0.0, "nm"))
    truth = {"M*kappa": float(mk), "M*W": float(mw), "M*dG": float(mdg), "interface_width": float(delta)}
    meta = {"ground_truth": {"clean": clean, "order_parameter": u.astype(np.float32), "identifiable": truth,
                             "model": model, "solver": f"FiPy finite volumes, implicit, dt = {dt:g} s"}}
    return Dataset(noisy, axes, kind="video", name=f"FiPy {model}", metadata=meta)
