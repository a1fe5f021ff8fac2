"""Physics-informed phase-field fit of a noisy HAADF video: the entry point; see docs/phasefield.md.

The fit runs in five steps, one module each: :mod:`.initialise` (options, frames, crop,
drift, noise model, first guess), :mod:`.model` (the differentiable intensity model and
loss), :mod:`.optimise` (the Adam loop), :mod:`.diagnostics` (uncertainties and the
poor-fit verdict) and :mod:`.result` (the calibrated outcome).

Physics: the trapezoidal residual r_k of Allen-Cahn / Cahn-Hilliard between frames
(:mod:`stemlab.phasefield.operators`) is penalised as a Gaussian model error of
standard deviation sigma_k per transition, sigma_k^2 = max(mean r_k^2, model_error^2)
(profiled, so one transient such as the first relaxation does not drag the fit); the
field, the intensity map and the kinetic parameters theta = (M kappa, M W, M dG) follow Adam.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from .diagnostics import assess_fit, final_estimates, fit_statistics, kinetics_uncertainty, transition_weights
from .initialise import initial_start, prepare_video
from .model import PhaseFieldModel, interface_width_from_field
from .optimise import Optimisation
from .result import (PhaseFieldResult, PhaseFieldState, interface_labels, interface_observables, output_axes,
                     parameter_report)


@contextlib.contextmanager
def _torch_threads(threads):
    """Set torch's CPU threads for the duration (None or 0: keep torch's setting)."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit_phasefield(dataset, model: str = "allen-cahn", *, steps: int = 1500, downsample: int = 2,
                   frames=None, crop=None, align: bool = True, boundary: str = "window", segment: int = 5,
                   substep_fraction: float | None = None, model_error: float = 0.01,
                   texture_sigma: float | None = None, driving_force: bool | None = None, lr: float = 0.02,
                   device="auto", seed: int = 0, threads: int | None = 1, progress=None, cancel=None,
                   callback=None, callback_every: int = 25,
                   state: PhaseFieldState | None = None) -> PhaseFieldResult:
    """Fit an Allen-Cahn or Cahn-Hilliard phase-field model to a noisy video.

    The counts are modelled as I(t, x) = s [a(x) + b(x) U(u)(t, x)] with Poisson noise of
    gain g: u is the order parameter on a coarse grid (phase 0 at u = 0, the brighter phase 1
    at u = 1), a and b are per-pixel images of the two phases (the lattice texture), and the
    change of u between frames follows the chosen equation with kinetics
    theta = (M kappa, M W, M dG) fitted together with u, a and b.

    Parameters
    ----------
    dataset : Dataset or array_like, shape (time, y, x)
        The video (counts, or signed data with Gaussian noise). Its axis scales give the
        units of the result (e.g. s and nm); a bare array is in frames and pixels.
    model : {'allen-cahn', 'cahn-hilliard'}
        Non-conserved or conserved order parameter.
    steps : int
        Total optimiser steps, the training budget (a resumed fit continues up to it).
    downsample : int
        Spatial coarse-graining d of the order parameter (pixels per grid point, 1, 2, 4 ...).
    frames : (int, int) or slice, optional
        Frame range (start, stop).
    crop : (int, int, int, int), optional
        (y0, y1, x0, x1) in pixels; trimmed to a multiple of ``downsample``.
    align : bool
        Estimate and correct the drift (px) before the fit.
    boundary : {'window', 'periodic', 'neumann'}
        'window': the frame is a window onto a larger sample (a free margin around it).
    segment : int
        Frames per shooting segment.
    substep_fraction : float, optional
        Integration sub-step as a fraction of the relaxation time (default 0.2 Allen-Cahn,
        0.1 Cahn-Hilliard).
    model_error : float
        Floor of the model-error standard deviation of u at segment joins (units of u).
    texture_sigma : float, optional
        Scale (px) above which each phase's intensity is uniform (default max(6, 3 d)).
    driving_force : bool, optional
        Fit dG (default True; False holds dG = 0, which measured worse on Cahn-Hilliard
        videos: the fit then falls into a slow, gradient-free solution). For Cahn-Hilliard
        dG is not identifiable (a tilt equals an affine re-definition of u, see
        :func:`~stemlab.phasefield.model.symmetric_gauge`); it is kept as a redundant
        direction for the optimiser and the result is reported in the symmetric gauge dG = 0.
    lr : float
        Adam learning rate (cosine schedule down to 1/20 of it).
    device : str
        'auto', 'cpu' or 'cuda'.
    seed : int
        torch random seed.
    threads : int, optional
        torch CPU threads during the fit (1 avoids oversubscription on small grids; None
        keeps torch's setting).
    progress, cancel : callable, optional
        Progress callback and cancel check (:mod:`stemlab.backend.progress`); a cancel raises
        :class:`~stemlab.errors.Cancelled` whose ``.state`` resumes the fit.
    callback : callable, optional
        Called every ``callback_every`` steps with a dict: step, steps, history, theta,
        u_frame (the current middle frame of u), frame and a resumable ``state``.
    callback_every : int
        Steps between callbacks.
    state : PhaseFieldState, optional
        Continue an earlier (cancelled or finished) fit with the same set-up.

    Returns
    -------
    PhaseFieldResult
        Denoised video, order parameter and interfaces (calibrated like the input, via
        ``.datasets()``), the kinetics with units and standard errors (``.parameters``),
        the fit quality with a poor-fit verdict (``.quality``) and a resumable ``.state``.

    Raises
    ------
    stemlab.errors.ParameterError
        For an input that is not a video, out-of-range frames or crop, fewer than 3 frames
        or 8 x 8 grid points, non-square pixels, NaN values or a state of another set-up.

    References
    ----------
    S. M. Allen and J. W. Cahn, Acta Metall. 27, 1085 (1979); J. W. Cahn and J. E. Hilliard,
    J. Chem. Phys. 28, 258 (1958); S. M. Cox and P. C. Matthews, J. Comput. Phys. 176, 430
    (2002) (the ETDRK2 integrator); docs/phasefield.md.

    Examples
    --------
    >>> from stemlab.simulate.video import phase_transformation_video
    >>> from stemlab.phasefield import fit_phasefield
    >>> video = phase_transformation_video(n_frames=10, shape=(48, 48), dose=50.0, seed=1)
    >>> res = fit_phasefield(video, "allen-cahn", steps=40)        # doctest: +SKIP
    >>> res.parameters["values"]["M*kappa"]["units"]                # doctest: +SKIP
    'nm^2/s'
    >>> layers = res.datasets()                                     # doctest: +SKIP
    """
    with _torch_threads(threads):
        import torch

        setup, dev = prepare_video(dataset, model, steps=steps, downsample=downsample, frames=frames, crop=crop,
                                   align=align, boundary=boundary, segment=segment,
                                   substep_fraction=substep_fraction, model_error=model_error,
                                   texture_sigma=texture_sigma, driving_force=driving_force, device=device,
                                   state=state, cancel=cancel)
        start = initial_start(setup, state)
        torch.manual_seed(seed)
        fm = PhaseFieldModel(setup, start, dev)
        optimisation = Optimisation(fm, start, lr, steps)
        done = optimisation.run(progress=progress, cancel=cancel, callback=callback, callback_every=callback_every)
        final = final_estimates(fm)
        return _result(setup, fm, optimisation, final, done, dev, time.perf_counter() - setup.t0)


def _result(setup, fm, optimisation, final, steps_done, dev, fit_seconds) -> PhaseFieldResult:
    """Uncertainties, verdict, parameter table and observables of a finished fit."""
    w_k = transition_weights(final, setup.model_error)
    derived, stderr = kinetics_uncertainty(final, w_k, setup.model)
    width_field = interface_width_from_field(final.u, setup.dx)
    if np.isfinite(width_field) and np.isfinite(derived["interface_width"]):
        # two estimates of one width (from the kinetics, from the fitted field's profiles): their
        # difference is a systematic error the jackknife cannot see (e.g. an under-resolved grid)
        stderr["interface_width"] = float(np.hypot(stderr["interface_width"], derived["interface_width"] - width_field))
    stats = fit_statistics(setup, final, w_k, fm.b_rms, fm.n_data)
    quality = assess_fit(setup, final, stats, derived, stderr, w_k, fit_seconds=fit_seconds, steps=steps_done,
                         device=dev)
    t_axis, y_axis, _ = setup.ds.axes
    parameters = parameter_report(derived, stderr, setup.model, setup.fit_dG, y_axis.units, t_axis.units)
    length, velocity = interface_observables(final.u, setup.dx, setup.hstep)
    interface = interface_labels(stats["pixel_order_parameter"])
    quality["interface_width_from_field"] = width_field
    times, out_axes, coarse_axes = output_axes(setup)
    scale_I = setup.scale_I
    return PhaseFieldResult(
        model=setup.model, order_parameter=final.u.astype(np.float32), denoised=final.denoised.astype(np.float32),
        interface=interface, parameters=parameters, quality=quality, history=optimisation.history,
        drift=setup.drift, times=times, phase_fraction=stats["phase_fraction"], interface_velocity=velocity,
        interface_length=length,
        templates={"phase0": (scale_I * final.a).astype(np.float32),
                   "phase1": (scale_I * (final.a + final.b)).astype(np.float32)},
        axes=out_axes, coarse_axes=coarse_axes, name=setup.ds.name or "video",
        state=optimisation.snapshot(steps_done))
