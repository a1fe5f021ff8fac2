"""Diagnostics of a finished phase-field fit: final estimates, uncertainties and the verdict.

The trapezoidal residual of the fitted field (:mod:`stemlab.phasefield.operators`) gives a
least-squares view of the kinetics; its jackknife over frame transitions, together with
the difference between the shooting and the least-squares estimate, is the uncertainty.
The verdict flags a poor fit when the residual is not shot noise, the equation does not
explain the change of the order parameter, the phases are not distinguishable or the
video shows no significant dynamics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .model import derived_parameters, symmetric_gauge
from .operators import PARAM_NAMES, normal_equations, solve_theta, trapezoid_design


@dataclass
class FinalFit:
    """The fit at its last step, in the gauge it is reported in."""

    theta: np.ndarray  # (M kappa, M W, M dG)
    u: np.ndarray  # (T, h, w) order parameter in the field of view
    denoised: np.ndarray  # (T, H, W)
    a: np.ndarray  # (H, W) phase-0 template / scale_I
    b: np.ndarray  # (H, W) contrast template / scale_I
    pde_r2_shooting: float  # change of the segment start states explained by the propagation
    XtX: np.ndarray  # (T-1, 3, 3) normal equations of the trapezoidal residual, per transition
    Xty: np.ndarray  # (T-1, 3)
    resid_ms: np.ndarray  # (T-1,) mean square trapezoidal residual per transition
    incr_ms: np.ndarray  # (T-1,) mean square increment per transition
    substeps: int  # integration sub-steps per frame interval of the last evaluation


def final_estimates(fm) -> FinalFit:
    """Evaluate the model once more and set up the least-squares view of the same field.

    For Cahn-Hilliard the result is mapped to the symmetric gauge (dG = 0, binodal phases at
    u = 0 and 1): the same dynamics and the same intensities (A + B u = A' + B' w), see
    :func:`~stemlab.phasefield.model.symmetric_gauge`.
    """
    import torch

    s = fm.setup
    with torch.no_grad():
        n_sub = fm.substeps()
        out = fm.forward(1.0, n_sub)
        u_full = out.u_full
        theta = out.theta.double().cpu().numpy()
        b_final = out.b_eff.cpu().numpy()
        a_final = fm.phase0_template().cpu().numpy()
        if s.model == "cahn-hilliard":
            g_s, g_b, theta = symmetric_gauge(theta)
            u_full = 0.5 + (u_full - g_s) / g_b
            a_final = a_final + b_final * (g_s - 0.5 * g_b)
            b_final = b_final * g_b
        u = u_full[:, fm.fov[0], fm.fov[1]].cpu().numpy()
        XtX, Xty, resid_ms, incr_ms = _trapezoid_view(fm, u_full, theta)
    return FinalFit(theta=theta, u=u, denoised=out.intensity.cpu().numpy(), a=a_final, b=b_final,
                    pde_r2_shooting=float(out.r2), XtX=XtX, Xty=Xty, resid_ms=resid_ms, incr_ms=incr_ms,
                    substeps=n_sub)


def _trapezoid_view(fm, u_full, theta):
    """Normal equations of the trapezoidal residual per transition and its mean squares."""
    import torch

    s = fm.setup
    # least-squares view of the same field: increments explained by the equation
    steps_t = torch.full((s.T - 1,), s.hstep, dtype=fm.dtype, device=fm.device)
    D, G = trapezoid_design(u_full, fm.prop.lap, s.model, steps_t)
    fov_interior = fm.in_fov * fm.interior
    XtX, Xty = normal_equations(D, G, fov_interior)
    n_fi = float(fov_interior.sum())
    XtX, Xty = XtX.double().cpu().numpy(), Xty.double().cpu().numpy()
    if s.model == "cahn-hilliard":
        # the field is in the symmetric gauge, where dG = 0 exactly: least squares for
        # (M kappa, M W) only (a free dG would only add the gauge's noise)
        XtX[:, 2, :] = 0.0
        XtX[:, :, 2] = 0.0
        Xty[:, 2] = 0.0
    th = torch.tensor(theta, dtype=fm.dtype, device=fm.device).reshape(3, 1, 1, 1)
    r = D - (th * G).sum(0)
    resid_ms = ((r * r * fov_interior).sum(dim=(1, 2)) / n_fi).double().cpu().numpy()
    incr_ms = ((D * D * fov_interior).sum(dim=(1, 2)) / n_fi).double().cpu().numpy()
    return XtX, Xty, resid_ms, incr_ms


def transition_weights(final: FinalFit, model_error: float) -> np.ndarray:
    """Weight of each frame transition: 1 / max(mean square residual, model_error^2)."""
    return 1.0 / np.maximum(final.resid_ms, float(model_error) ** 2)


def kinetics_uncertainty(final: FinalFit, w_k, model: str):
    """Identifiable quantities and their standard errors.

    The jackknife over transitions gives the spread; the shooting estimate and the
    least-squares one on the same field should agree, so their difference is added.

    Returns
    -------
    derived, stderr : dict
        :func:`~stemlab.phasefield.model.derived_parameters` of the fit and their standard errors.
    """
    XtX, Xty = final.XtX, final.Xty
    derived = derived_parameters(final.theta, model)
    theta_ls, _, _ = solve_theta(XtX, Xty, w_k)
    derived_ls = derived_parameters(theta_ls, model)
    jack = []
    A_all = np.einsum("k,kji->ji", w_k, XtX)
    b_all = np.einsum("k,kj->j", w_k, Xty)
    for k in range(len(XtX)):
        Ak = A_all - w_k[k] * XtX[k]
        bk = b_all - w_k[k] * Xty[k]
        thk, _, _ = solve_theta(Ak[None], bk[None], np.ones(1))
        jack.append(derived_parameters(thk, model))
    nj = len(jack)
    stderr = {}
    for name in derived:
        vals = np.array([j[name] for j in jack], dtype=float)
        spread = float(np.sqrt((nj - 1) / nj * np.nansum((vals - np.nanmean(vals)) ** 2))) \
            if np.all(np.isfinite(vals)) else float("inf")
        stderr[name] = float(math.hypot(spread, derived_ls[name] - derived[name])) \
            if np.isfinite(derived_ls[name]) else float("inf")
    return derived, stderr


def residual_structure(y, model, mask, gain, scale, sigma=(1.0, 1.5, 1.5), static=None):
    """Variance of the smoothed normalised residual relative to white noise (1 for a good fit).

    The residual (y - I) / sqrt(variance) is white for a correct model whatever the gain;
    a wrong model leaves correlated, smooth misfit that survives a Gaussian filter.
    Normalising by the residual's own variance makes it independent of the gain estimate.
    With ``static`` (a static image) also returns the fraction of the change that the video
    shows which is left unexplained.
    """
    from scipy import ndimage

    var = (gain * np.maximum(model, 0.05 * scale)) if gain is not None else 1.0
    r = np.where(mask, (y - model) / np.sqrt(var), 0.0)
    r = r - r[mask].mean()
    smooth = ndimage.gaussian_filter(r, sigma, mode="reflect")
    delta = np.zeros((9, 17, 17))
    delta[4, 8, 8] = 1.0
    white_factor = float((ndimage.gaussian_filter(delta, sigma, mode="constant") ** 2).sum())
    inner = np.zeros_like(mask)
    inner[2:-2, 4:-4, 4:-4] = True
    inner &= mask
    structure = float(smooth[inner].var() / (r[mask].var() * white_factor + 1e-30))
    if static is None:
        return structure
    # how much of the change the video shows is left unexplained (in the same smoothed units)
    signal = np.where(mask, (model - static) / np.sqrt(var), 0.0)
    s_var = float(ndimage.gaussian_filter(signal, sigma, mode="reflect")[inner].var())
    excess = max(float(smooth[inner].var()) - r[mask].var() * white_factor, 0.0)
    return structure, excess / (excess + s_var + 1e-30)


def dynamics_significance(y, model, mask, gain, poisson, n_free) -> float:
    """How many sigma the fitted dynamics improve on a static image (per-pixel temporal mean),
    after subtracting the improvement free parameters alone would give (chi^2 statistics)."""
    m = mask.astype(np.float64)
    static = (y * m).sum(0) / np.maximum(m.sum(0), 1)
    if poisson:
        var = gain * np.maximum(np.broadcast_to(static, y.shape), 1e-6)
    else:
        var = gain
    chi_static = float(((y - static) ** 2 / var * m).sum())
    chi_fit = float(((y - model) ** 2 / var * m).sum())
    k = max(float(n_free), 1.0)
    return float((chi_static - chi_fit - k) / math.sqrt(2 * k))


def fit_statistics(setup, final: FinalFit, w_k, b_rms: float, n_data: float) -> dict:
    """Misfit, explained fractions, contrast-to-noise, phase fraction and dynamics of a fit."""
    y, mask, gain, scale_I, d = setup.y, setup.mask, setup.gain, setup.scale_I, setup.d
    denoised, resid_ms, incr_ms = final.denoised, final.resid_ms, final.incr_ms
    if setup.poisson:
        chi2 = float(np.sum(mask * (y - denoised) ** 2 / (gain * np.maximum(denoised, 0.05 * scale_I))) / n_data)
    else:
        chi2 = float(np.sum(mask * (y - denoised) ** 2) / (gain * n_data))
    weighted = w_k / w_k.max()
    noise_u = math.sqrt(gain * scale_I) / (scale_I * b_rms * d) if setup.poisson else \
        math.sqrt(gain) / (scale_I * b_rms * d)
    up_u = np.repeat(np.repeat(final.u, d, 1), d, 2)
    frac1 = (up_u >= 0.5).mean(axis=(1, 2))
    m_ = mask.astype(np.float64)
    static_img = (y * m_).sum(0) / np.maximum(m_.sum(0), 1)
    structure, unexplained = residual_structure(y, denoised, mask, gain if setup.poisson else None, scale_I,
                                                static=static_img)
    n_free = setup.n_seg * (setup.ny // d) * (setup.nx // d) + setup.ny * setup.nx
    return {
        "reduced_chi2": chi2,
        "residual_structure": structure,
        "unexplained_change_fraction": unexplained,
        "dynamics_significance": dynamics_significance(y, denoised, mask, gain, setup.poisson, n_free=n_free),
        "pde_explained_fraction": float(1 - resid_ms.sum() / max(incr_ms.sum(), 1e-30)),
        "pde_explained_fraction_weighted": float(1 - (weighted * resid_ms).sum()
                                                 / max((weighted * incr_ms).sum(), 1e-30)),
        "segment_continuity_explained": final.pde_r2_shooting,
        "contrast_to_noise": 1.0 / noise_u,
        "rms_increment_per_frame": float(np.sqrt(incr_ms.mean())),
        "both_phases": bool(np.any((frac1 > 0.005) & (frac1 < 0.995))),
        "phase_fraction": frac1,
        "pixel_order_parameter": up_u,
    }


def uncertain_parameters(derived, stderr, model: str) -> list:
    """Names of the identifiable quantities with a relative uncertainty above 10 %."""
    uncertain = []
    for name in ("M*kappa", "M*W", "interface_width") + (("M*dG",) if model == "allen-cahn" else ()):
        value = derived[name]
        rel = stderr[name] / abs(value) if value and np.isfinite(value) else float("inf")
        if not np.isfinite(rel) or rel > 0.1:
            uncertain.append(name)
    return uncertain


def poor_fit_reasons(stats: dict, theta, derived, stderr, model: str) -> list:
    """Why a fit is poor, in words (empty for a good fit)."""
    reasons = []
    at_floor = [PARAM_NAMES[j] for j in (0, 1) if theta[j] <= 1e-8]
    if stats["contrast_to_noise"] < 1.0:
        reasons.append(f"the two phases are not distinguishable above the noise (contrast-to-noise "
                       f"{stats['contrast_to_noise']:.2f} per grid point per frame)")
    if not stats["both_phases"]:
        reasons.append("the order parameter never shows two phases side by side")
    if stats["dynamics_significance"] < 5:
        reasons.append("no significant change over time beyond a static image (significance "
                       f"{stats['dynamics_significance']:.1f} sigma; needs > 5)")
    structure, unexplained = stats["residual_structure"], stats["unexplained_change_fraction"]
    if structure > 1.5 and unexplained > 0.05:
        reasons.append(f"the residual of the {model} fit has structure (smoothed residual variance "
                       f"{structure:.2f} times that of white shot noise, {100 * unexplained:.0f} % of the "
                       "change in the video unexplained; a good fit gives ~1 and < 5 %): the video "
                       "does not follow this equation")
    if stats["reduced_chi2"] > 1.5:
        reasons.append(f"the data misfit is {stats['reduced_chi2']:.2f} times the shot noise (reduced chi^2 "
                       "should be ~1)")
    pde_r2 = stats["pde_explained_fraction"]
    if pde_r2 < 0.8:
        reasons.append(f"the {model} equation explains only {100 * max(pde_r2, 0):.0f} % of the frame-to-frame "
                       "change of the order parameter (a good fit explains > 80 %)")
    if abs(derived["dG/W"]) > 0.3:
        reasons.append("the driving force sits at the limit where a phase stops being metastable")
    if at_floor:
        reasons.append(f"{', '.join(at_floor)} hit zero: the dynamics do not look like {model}")
    for name in ("M*kappa", "M*W"):
        value = derived[name]
        if value > 0 and stderr[name] / value > 0.3 and not at_floor:
            reasons.append(f"{name} is undetermined (relative uncertainty {100 * stderr[name] / value:.0f} %)")
    return reasons


MIN_WIDTH_GRID = 2.0  # interface width in grid points below which the grid under-resolves it


def resolution_note(derived, dx: float, d: int) -> str:
    """A sentence when the fitted interface is narrower than MIN_WIDTH_GRID grid points, else ''.

    On such a grid the kinetics come out biased (measured on explicit-solver videos with a
    2 px interface at downsample 2: M*kappa -24 %, see docs/phasefield.md).
    """
    width = derived.get("interface_width", float("nan"))
    if not np.isfinite(width) or width / dx >= MIN_WIDTH_GRID:
        return ""
    fix = f"rerun with downsample={max(1, int(d * width / dx / MIN_WIDTH_GRID))}" if d > 1 else \
        "the video's pixels are too coarse for this interface"
    return (f" The interface is {width / dx:.1f} grid points wide (< {MIN_WIDTH_GRID:g}): the grid under-resolves "
            f"it and the kinetics are biased; {fix}.")


def assess_fit(setup, final: FinalFit, stats: dict, derived, stderr, w_k, *, fit_seconds, steps, device) -> dict:
    """The quality record of a fit: the statistics, the poor-fit verdict and its message.

    Zeroes the standard errors of the driving force where it is fixed or reported in a
    gauge (``stderr`` is changed in place).
    """
    model = setup.model
    uncertain = uncertain_parameters(derived, stderr, model)
    if not setup.fit_dG or model == "cahn-hilliard":
        for name in ("M*dG", "dG/W", "front_velocity"):
            if name in stderr:
                stderr[name] = 0.0
    reasons = poor_fit_reasons(stats, final.theta, derived, stderr, model)
    poor = bool(reasons)
    resolution = resolution_note(derived, setup.dx, setup.d)
    if resolution:
        uncertain += ["M*kappa", "M*W", "interface_width"]
    chi2, structure, pde_r2 = stats["reduced_chi2"], stats["residual_structure"], stats["pde_explained_fraction"]
    keys = ("reduced_chi2", "residual_structure", "unexplained_change_fraction", "dynamics_significance",
            "pde_explained_fraction", "pde_explained_fraction_weighted", "segment_continuity_explained")
    return {
        "poor_fit": poor,
        "message": ("Poor fit: " + "; ".join(reasons) + ". Treat the parameters as unreliable.") if poor else
                   (f"Good fit: the {model} dynamics leave a residual indistinguishable from shot noise "
                    f"(reduced chi^2 {chi2:.2f}, residual structure {structure:.2f}); the equation explains "
                    f"{100 * pde_r2:.1f} % of the change of the order parameter."
                    + (f" Uncertain (> 10 %): {', '.join(sorted(set(uncertain)))}." if uncertain else ""))
                   + resolution,
        "reasons": reasons,
        "uncertain_parameters": sorted(set(uncertain)) if not poor else list(derived),
        **{k: stats[k] for k in keys},
        "boundary": setup.boundary, "segment_frames": setup.m_seg, "substeps_per_frame": final.substeps,
        "contrast_to_noise": stats["contrast_to_noise"],
        "rms_increment_per_frame": stats["rms_increment_per_frame"],
        "gain": float(setup.gain),
        "noise_model": "scaled Poisson" if setup.poisson else "Gaussian",
        "transition_weights": (w_k / w_k.max()).tolist(),
        "fit_seconds": fit_seconds,
        "steps": int(steps),
        "device": str(device),
    }
