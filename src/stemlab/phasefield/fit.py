"""Physics-informed phase-field fit of a noisy HAADF video: see docs/phasefield.md.

Model of the measured counts y(t, x) (after drift correction):

  I(t, x) = s [a(x) + b(x) U(u)(t, x)],   y ~ g Poisson(I / g)

* u(t, y, x): the order parameter on a coarse grid (spatial downsampling ``d``), one value
  per coarse pixel and frame (a grid "neural field"); U = bilinear up-sampling to the pixels.
* a(x), b(x): per-pixel images of phase 0 and of the contrast phase 1 - phase 0 (the
  learned intensity -> order-parameter map; they carry the lattice texture). The gauge of
  u is fixed by the wells of the free energy (phases at u = 0 and u = 1) and by holding
  the rms of b at its initial estimate (otherwise the PDE penalty could shrink u).
* g: detector gain (1 for counts), estimated from frame-to-frame differences.

Physics: the trapezoidal residual r_k of Allen-Cahn / Cahn-Hilliard between frames
(:mod:`stemlab.phasefield.operators`) is penalised as a Gaussian model error of
standard deviation sigma_k per transition, sigma_k^2 = max(mean r_k^2, model_error^2)
(profiled, so one transient such as the first relaxation does not drag the fit); the
kinetic parameters theta = (M kappa, M W, M dG) are re-solved in closed form
(weighted least squares) at every step and the field, a and b follow Adam.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..backend.progress import check, report
from ..dataset import Axis, Dataset
from ..errors import Cancelled, ParameterError
from .operators import (PARAM_NAMES, Propagator, normal_equations, normalize_model, solve_theta,
                        trapezoid_design)
from .quality import verdict

CHI2_MEDIAN_1DOF = 0.454936  # median of a chi-square variable with one degree of freedom


@dataclass
class PhaseFieldState:
    """Everything needed to resume a fit: the fields, the optimiser state and the set-up."""

    key: tuple
    u: np.ndarray
    a: np.ndarray
    b: np.ndarray
    step: int
    optimizer: dict | None
    history: dict
    drift: np.ndarray
    settings: dict


@dataclass
class PhaseFieldResult:
    """Outcome of :func:`fit_phasefield`.

    Arrays are in the aligned frame of the (cropped) input: ``order_parameter`` (T, h, w)
    on the coarse grid, ``denoised`` and ``interface`` (T, H, W) on the pixels.
    ``parameters``: fitted kinetics with units, uncertainties and which combinations are
    identifiable; ``quality``: fit diagnostics and the poor-fit verdict; ``history``: loss
    curve; ``state``: pass back as ``state=`` to continue the fit.
    """

    model: str
    order_parameter: np.ndarray
    denoised: np.ndarray
    interface: np.ndarray
    parameters: dict
    quality: dict
    history: dict
    drift: np.ndarray
    times: np.ndarray
    phase_fraction: np.ndarray
    interface_velocity: np.ndarray
    interface_length: np.ndarray
    templates: dict
    axes: tuple
    coarse_axes: tuple
    name: str = "video"
    state: PhaseFieldState | None = None
    source_metadata: dict = field(default_factory=dict)

    @property
    def poor_fit(self) -> bool:
        return bool(self.quality.get("poor_fit", True))

    def to_datasets(self) -> dict:
        """Datasets with the input's calibration: 'denoised', 'order_parameter', 'interface'."""
        meta = {"phasefield": {"model": self.model, "parameters": self.parameters, "quality": self.quality}}
        return {
            "denoised": Dataset(self.denoised, self.axes, kind="video", name=f"{self.name} denoised (phase field)",
                                metadata=dict(meta)),
            "order_parameter": Dataset(self.order_parameter, self.coarse_axes, kind="video",
                                       name=f"{self.name} order parameter", metadata=dict(meta)),
            "interface": Dataset(self.interface, self.axes, kind="video", name=f"{self.name} interface",
                                 metadata=dict(meta)),
        }

    def parameter_table(self) -> list[tuple[str, float, float, str, str]]:
        """Rows (name, value, standard error, units, note) for display."""
        rows = []
        for name, entry in self.parameters["values"].items():
            rows.append((name, entry["value"], entry.get("stderr", float("nan")), entry["units"], entry["note"]))
        return rows

    def save(self, path) -> None:
        """Write an .npz: order_parameter, denoised, interface, parameters (JSON), loss history."""
        import json

        from ..io.writers import atomic_write

        history = {f"history_{k}": np.asarray(v) for k, v in self.history.items() if k != "theta"}
        history["history_theta"] = np.asarray(self.history.get("theta", []), dtype=float)
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh, order_parameter=self.order_parameter, denoised=self.denoised, interface=self.interface,
                    parameters=np.array(json.dumps({"model": self.model, **self.parameters,
                                                    "quality": self.quality}, default=_json_default)),
                    times=self.times, drift=self.drift, phase_fraction=self.phase_fraction,
                    interface_velocity=self.interface_velocity, interface_length=self.interface_length,
                    order_parameter_scale=np.array([a.scale for a in self.coarse_axes]),
                    pixel_scale=np.array([a.scale for a in self.axes]), **history)


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    raise TypeError(type(obj))


# ----------------------------------------------------------------------------------------
_WINDOW_MARGIN = 0.25  # free margin each side of the frame (fraction of its size), boundary='window'; 0.12 measured ~20 % low kinetics


def _as_video(dataset) -> Dataset:
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        arr = np.asarray(dataset)
        if arr.ndim != 3:
            raise ParameterError(f"fit_phasefield needs a video (time, y, x); got an array of shape {arr.shape}.")
        ds = Dataset(arr, (Axis("t", arr.shape[0], navigate=True), Axis("y", arr.shape[1]),
                           Axis("x", arr.shape[2])), kind="video", name="video")
    if ds.ndim != 3:
        raise ParameterError(f"Dataset {ds.name!r} has shape {ds.shape}: the phase-field fit needs a video "
                             "(time, y, x). Pick a video layer or stack frames first.")
    return ds


def _frame_slice(frames, n):
    if frames is None:
        return slice(0, n)
    if isinstance(frames, slice):
        start, stop, _ = frames.indices(n)
        return slice(start, stop)
    start, stop = frames
    start = 0 if start is None else int(start)
    stop = n if stop is None else int(stop)
    if not (0 <= start < stop <= n):
        raise ParameterError(f"frames={frames!r} is outside the video's {n} frames: give (start, stop) "
                             f"with 0 <= start < stop <= {n}.")
    return slice(start, stop)


def _crop_slices(crop, ny, nx):
    if crop is None:
        return slice(0, ny), slice(0, nx)
    y0, y1, x0, x1 = (int(c) for c in crop)
    if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
        raise ParameterError(f"crop={crop!r} is outside the {ny} x {nx} frame: give (y0, y1, x0, x1) pixels.")
    return slice(y0, y1), slice(x0, x1)


def estimate_gain(frames, mask=None) -> float:
    """Detector gain g (variance / mean) from differences of consecutive frames.

    For Poisson counts g = 1. Uses the median of (y_{k+1} - y_k)^2 / (y_k + y_{k+1}), which
    the few pixels where the sample changes between frames hardly move.
    """
    y = np.asarray(frames, dtype=np.float64)
    diff2 = (y[1:] - y[:-1]) ** 2
    total = y[1:] + y[:-1]
    ok = total > 0
    if mask is not None:
        ok &= mask[1:] & mask[:-1]
    if not ok.any():
        return 1.0
    ratio = diff2[ok] / total[ok]
    # E[(y1 - y0)^2] = g (lambda0 + lambda1) for unchanged pixels, so the mean ratio is the gain;
    # pixels where the sample changed between frames (moving interfaces, large at high dose)
    # are outliers: drop ratios above 9 x a first, median-based guess (chi^2_1 > 9 is 0.3 %
    # of pure noise), then take the mean
    g0 = float(np.median(ratio)) / CHI2_MEDIAN_1DOF
    keep = ratio < 9 * max(g0, 1e-12)
    g = float(np.mean(ratio[keep]) / 0.973) if keep.any() else g0  # 0.973 = E[chi2_1 | chi2_1 < 9]
    return max(g, 1e-6)


def _initial_order_parameter(y, d, sigma_px):
    """First guess of u on the pixel grid: the leading principal component of smoothed local
    mean and local contrast, mapped so that the two clusters sit at 0 and 1
    (phase 1 = the brighter phase)."""
    from scipy import ndimage

    sig = (1.0, sigma_px, sigma_px)
    mean = ndimage.gaussian_filter(y, sig)
    var = ndimage.gaussian_filter((y - mean) ** 2, sig)
    std = np.sqrt(np.clip(var, 0, None))
    feats = np.stack([mean.ravel(), std.ravel()], 1)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-12)
    _, _, vt = np.linalg.svd(feats[:: max(1, feats.shape[0] // 200000)], full_matrices=False)
    pc = feats @ vt[0]
    if np.corrcoef(pc, feats[:, 0])[0, 1] < 0:
        pc = -pc
    c0, c1 = _two_means(pc)
    if c1 - c0 < 1e-9:
        c0, c1 = pc.min(), pc.max() + 1e-9
    u = ((pc - c0) / (c1 - c0)).reshape(y.shape)
    return np.clip(u, -0.1, 1.1)


def _block_mean(x, d):
    T, H, W = x.shape
    return x.reshape(T, H // d, d, W // d, d).mean(axis=(2, 4))


def _init_templates(y, u_up, mask, ridge):
    """Per-pixel weighted least squares y = A + B u over frames, shrunk towards the global fit."""
    m = mask.astype(np.float64)
    ug = (u_up * m).sum() / m.sum()
    yg = (y * m).sum() / m.sum()
    Bg = ((u_up - ug) * (y - yg) * m).sum() / max(((u_up - ug) ** 2 * m).sum(), 1e-12)
    Ag = yg - Bg * ug
    n = m.sum(0) + ridge
    su = (u_up * m).sum(0)
    suu = (u_up * u_up * m).sum(0) + ridge * 0.5
    sy = (y * m).sum(0) + ridge * (Ag + 0.5 * Bg)
    suy = (u_up * y * m).sum(0) + ridge * 0.5 * (Ag + Bg)
    det = n * suu - su * su
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    B = (n * suy - su * sy) / det
    A = (sy - B * su) / n
    return A, B


def _constrain(T_img, sigma):
    """Keep only the texture of a template (high-pass, Gaussian ``sigma`` px) plus its mean."""
    from scipy import ndimage

    return T_img.mean() + T_img - ndimage.gaussian_filter(T_img, sigma, mode="reflect")


def _two_means(values):
    """Centres of the two clusters of a 1D sample (two-means from its 10/90 % quantiles)."""
    c0, c1 = np.quantile(values, [0.1, 0.9])
    for _ in range(30):
        if c1 <= c0:
            break
        split = 0.5 * (c0 + c1)
        lo, hi = values[values < split], values[values >= split]
        if lo.size == 0 or hi.size == 0:
            break
        c0, c1 = lo.mean(), hi.mean()
    return c0, c1


def _refine_initial(y, u0, mask, d, ridge, texture_sigma, rounds: int = 3):
    """Alternate templates (closed form, texture-constrained) and the order parameter per grid
    point (closed form, smoothed over one grid point and one frame, two clusters mapped to 0 and
    1): a cheap rank-2 factorisation that gives the optimiser a smooth, data-consistent start."""
    from scipy import ndimage

    m = mask.astype(np.float64)
    for _ in range(rounds):
        u_up = np.repeat(np.repeat(u0, d, 1), d, 2)
        A, B = _init_templates(y, u_up, mask, ridge)
        A, B = _constrain(A, texture_sigma), _constrain(B, texture_sigma)
        num = _block_sum(m * B * (y - A), d)
        den = _block_sum(m * B * B, d) + 1e-12
        u_new = ndimage.gaussian_filter(num / den, (1.0, 1.0, 1.0))
        c0, c1 = _two_means(u_new.ravel())
        if c1 - c0 > 1e-6:
            u_new = (u_new - c0) / (c1 - c0)
        u0 = np.clip(u_new, -0.1, 1.1)
    u_up = np.repeat(np.repeat(u0, d, 1), d, 2)
    A, B = _init_templates(y, u_up, mask, ridge)
    return u0, _constrain(A, texture_sigma), _constrain(B, texture_sigma)


def _initial_theta(u0, dx, h, model):
    """Kinetics to start from: interface width from the initial field, a relaxation time of
    two frames, and the driving force from the mean interface velocity (Allen-Cahn)."""
    delta = interface_width_from_field(np.clip(u0, 0, 1), dx)
    if not np.isfinite(delta):
        delta = 3 * dx
    delta = float(np.clip(delta, 1.5 * dx, 20 * dx))
    if model == "allen-cahn":
        mw = 1.0 / (2 * h)
        gy, gx = np.gradient(np.clip(u0, 0, 1), dx, axis=(1, 2))
        length = np.sqrt(gx ** 2 + gy ** 2).sum(axis=(1, 2))
        rate = (u0[-1] - u0[0]).sum() / max(h * (len(u0) - 1), 1e-12)
        v = rate / max(length.mean(), 1e-12)
        mdg = float(np.clip(-v / (3 * delta), -0.3 * mw, 0.3 * mw))
    else:
        mw = delta ** 2 / (2 * h)
        mdg = 0.0
    return [mw * delta ** 2 / 2, mw, mdg]


def _block_sum(x, d):
    T, H, W = x.shape
    return x.reshape(T, H // d, d, W // d, d).sum(axis=(2, 4))


def _theta_entries(theta, model, length_unit, time_unit):
    L = length_unit or "px"
    Tu = time_unit or "frame"
    if model == "allen-cahn":
        return {"M*kappa": f"{L}^2/{Tu}", "M*W": f"1/{Tu}", "M*dG": f"1/{Tu}"}
    return {"M*kappa": f"{L}^4/{Tu}", "M*W": f"{L}^2/{Tu}", "M*dG": f"{L}^2/{Tu}"}


def symmetric_gauge(theta):
    """Cahn-Hilliard: the symmetric double well equivalent to a tilted one.

    For a conserved order parameter the tilt dG u^2 (3 - 2u) is not a separate piece of
    physics: with r = dG/W, s = (1 + r)/2 and b = sqrt(1 + 3 r^2), the field
    w = 1/2 + (u - s)/b obeys Cahn-Hilliard with the same M kappa, dG = 0 and
    W' = W (1 + 3 r^2) exactly (the constant that the substitution adds to f' drops out of
    Lap f'). The intensity model A + B u absorbs any affine map of u, so no video can
    tell these apart. Returns (s, b, theta' = (M kappa, M W', 0)).
    """
    mk, mw, mg = (float(v) for v in theta)
    r = mg / mw if mw > 0 else 0.0
    return 0.5 * (1 + r), math.sqrt(1 + 3 * r * r), np.array([mk, mw * (1 + 3 * r * r), 0.0])


def derived_parameters(theta, model):
    """Identifiable quantities from theta = (M kappa, M W, M dG); for Cahn-Hilliard in the
    symmetric gauge dG = 0 (see :func:`symmetric_gauge`: only M kappa and M W' are identifiable)."""
    if model == "cahn-hilliard":
        theta = symmetric_gauge(theta)[2]
    mk, mw, mg = (float(v) for v in theta)
    out = {"M*kappa": mk, "M*W": mw, "M*dG": mg,
           "interface_width": math.sqrt(2 * mk / mw) if mk > 0 and mw > 0 else float("nan"),
           "dG/W": mg / mw if mw > 0 else float("nan")}
    if model == "allen-cahn":
        out["front_velocity"] = -3 * mg * out["interface_width"]  # > 0: phase 1 grows
    return out


def fit_phasefield(dataset, model: str = "allen-cahn", *, threads: int | None = 1, **kwargs) -> PhaseFieldResult:
    """Fit a phase-field model to a noisy video (time, y, x); returns a :class:`PhaseFieldResult`.

    Keywords (defaults): ``steps`` (1500) total optimiser steps, the training budget (a resumed
    fit continues up to it); ``downsample`` (2) spatial coarse-graining of the order
    parameter; ``frames`` (start, stop); ``crop`` (y0, y1, x0, x1) pixels; ``align`` (True)
    drift correction first; ``boundary`` ('window' | 'periodic' | 'neumann'); ``segment`` (5)
    frames per shooting segment; ``model_error`` (0.01) floor of the model-error standard
    deviation of u at segment joins; ``texture_sigma`` (px) scale above which each phase's
    intensity is uniform; ``device`` ('auto'); ``progress``, ``cancel``; ``callback(info)``
    every ``callback_every`` (25) steps with step, history, theta, the current middle frame
    of u and a resumable ``state``; ``state`` continues an earlier (cancelled) fit.
    ``driving_force``: fit dG (default True; False holds dG = 0, which measured worse on
    Cahn-Hilliard videos: the fit then falls into a slow, gradient-free solution). For
    Cahn-Hilliard dG is not identifiable (a tilt equals an affine re-definition of u, see
    :func:`symmetric_gauge`); it is kept as a redundant direction for the optimiser and the
    result is reported in the symmetric gauge dG = 0. ``substep_fraction``: integration
    sub-step as a fraction of the relaxation time (default 0.2 Allen-Cahn, 0.1 Cahn-Hilliard).
    ``threads``: torch CPU threads during the fit (1 avoids oversubscription on small grids;
    None keeps torch's setting).
    """
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _fit(dataset, model, **kwargs)
    finally:
        torch.set_num_threads(previous)


def _fit(dataset, model: str = "allen-cahn", *, steps: int = 1500, downsample: int = 2,
                   frames=None, crop=None, align: bool = True, boundary: str = "window",
                   segment: int = 5, substep_fraction: float | None = None, model_error: float = 0.01,
                   texture_sigma: float | None = None, driving_force: bool | None = None, lr: float = 0.02, device="auto", seed: int = 0,
                   progress=None, cancel=None, callback=None, callback_every: int = 25,
                   state=None) -> PhaseFieldResult:
    """Fit a phase-field model to a noisy video; see the module docstring and docs/phasefield.md.

    ``dataset``: Dataset (or array) (time, y, x) of counts. ``model``: 'allen-cahn' or
    'cahn-hilliard'. ``steps``: total optimiser steps (the training budget; a resumed fit
    continues up to it). ``downsample``: spatial coarse-graining of the order parameter
    (1, 2, 4 ...). ``frames``: (start, stop) frame range; ``crop``: (y0, y1, x0, x1) pixels.
    ``align``: drift correction before the fit. ``boundary``: 'window' (default: the field is
    integrated with a free margin around the field of view), 'periodic' or 'neumann'. ``model_error``: floor of the per-frame model-error standard
    deviation of the order parameter. ``callback(info)`` is called every
    ``callback_every`` steps with a dict (step, steps, history, u_frame, theta, state) for
    live display; ``state`` continues an earlier (cancelled) fit.
    """
    import torch

    from ..backend.device import resolve_device
    from .align import estimate_drift, shift_frames, valid_mask

    model = normalize_model(model)
    ds = _as_video(dataset)
    d = int(downsample)
    if d < 1:
        raise ParameterError(f"downsample={downsample!r} must be a positive integer (1 = no coarse-graining).")
    if boundary not in ("window", "neumann", "periodic"):
        raise ParameterError(f"boundary={boundary!r}: use 'window' (the frame is a window onto a larger "
                             "sample), 'periodic' or 'neumann'.")
    if steps < 0:
        raise ParameterError("steps must be >= 0.")
    tsl = _frame_slice(frames, ds.shape[0])
    ysl, xsl = _crop_slices(crop, ds.shape[1], ds.shape[2])
    T = tsl.stop - tsl.start
    if T < 3:
        raise ParameterError(f"The phase-field fit needs at least 3 frames; frames={frames!r} gives {T}.")
    ny, nx = (ysl.stop - ysl.start) // d * d, (xsl.stop - xsl.start) // d * d
    if ny // d < 8 or nx // d < 8:
        raise ParameterError(f"Crop {ysl.stop - ysl.start} x {xsl.stop - xsl.start} px with downsample={d} "
                             "leaves fewer than 8 x 8 grid points: enlarge the crop or lower downsample.")
    ysl = slice(ysl.start, ysl.start + ny)
    xsl = slice(xsl.start, xsl.start + nx)
    key = (model, driving_force, ds.shape, d, (tsl.start, tsl.stop), (ysl.start, ysl.stop, xsl.start, xsl.stop), bool(align),
           boundary)
    if state is not None and tuple(state.key) != key:
        raise ParameterError("The saved fit state belongs to another set-up (model, frames, crop, downsample, "
                             "alignment); start a new fit or restore those settings.")

    t_axis, y_axis, x_axis = ds.axes
    y = np.asarray(ds.data[tsl, ysl, xsl], dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"Dataset {ds.name!r} contains NaN or infinite values; clean them first.")
    dev = resolve_device(device)
    t0 = time.perf_counter()

    # -- drift correction ----------------------------------------------------------------
    if state is not None:
        drift = state.drift
    elif align:
        drift = estimate_drift(y, progress=None, cancel=cancel)
    else:
        drift = np.zeros((T, 2))
    y = shift_frames(y, drift)
    mask = valid_mask(y.shape, drift)
    check(cancel)

    # -- noise model -------------------------------------------------------------------------
    poisson = bool(y.min() >= 0)
    if state is not None:
        gain = state.settings["gain"]
    elif poisson:
        gain = estimate_gain(y, mask)
    else:
        diff = (y[1:] - y[:-1])[mask[1:] & mask[:-1]]
        gain = float((1.4826 * np.median(np.abs(diff - np.median(diff)))) ** 2 / 2)
    scale_I = float(max(y[mask].mean(), 1e-9)) if poisson else float(np.abs(y[mask]).mean() + 1e-9)

    fit_dG = True if driving_force is None else bool(driving_force)
    if substep_fraction is None:
        # Cahn-Hilliard needs finer sub-steps: at 0.2 M*W came out ~3 % higher (measured)
        substep_fraction = 0.2 if model == "allen-cahn" else 0.1
    if texture_sigma is None:
        texture_sigma = float(max(6.0, 3.0 * d))
    # -- initial guess ---------------------------------------------------------------------
    ridge = 1.0
    dx = float(y_axis.scale) * d
    if abs(x_axis.scale - y_axis.scale) > 1e-6 * y_axis.scale:
        raise ParameterError(f"Pixels are not square ({y_axis.scale} x {x_axis.scale}): the phase-field "
                             "fit needs equal y and x scales; resample the video first.")
    hstep = float(t_axis.scale)
    # 'window': the frame is a window onto a larger sample; the field is integrated on a grid
    # with a free margin that no data constrain, so the unknown outside cannot distort the
    # physics inside (periodic wrap-around happens in the margin)
    pad = max(4, int(math.ceil(_WINDOW_MARGIN * min(ny, nx) / d))) if boundary == "window" else 0
    m_seg = max(1, min(int(segment), T))
    n_seg = int(math.ceil(T / m_seg))
    if state is None:
        u_pix = _initial_order_parameter(y, d, sigma_px=max(2.0, 1.5 * d))
        u_init, A, B = _refine_initial(y, _block_mean(u_pix, d), mask, d, ridge, texture_sigma)
        a0, b0 = A / scale_I, B / scale_I
        b_rms = float(np.mean(b0))  # mean phase contrast: fixes the scale of u
        theta0 = _initial_theta(u_init, dx, hstep, model)
        U0 = u_init[np.arange(n_seg) * m_seg]  # the state one interval earlier: close enough to start
        if boundary == "window":
            U0 = np.pad(U0, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        raw0 = np.array([math.log(theta0[0]), math.log(theta0[1]),
                         math.atanh(float(np.clip(3.2 * theta0[2] / theta0[1], -0.95, 0.95)))])
        settings = {"gain": gain, "scale_I": scale_I, "b_rms": b_rms, "poisson": poisson, "theta0": theta0,
                    "boundary": boundary}
        history = {"step": [], "loss": [], "data": [], "pde": [], "theta": [], "pde_r2": []}
        start_step, opt_state = 0, None
    else:
        U0, a0, b0, raw0 = state.u, state.a, state.b, np.array(state.settings["raw_theta"])
        settings = dict(state.settings)
        b_rms = settings["b_rms"]
        boundary = settings["boundary"]
        history = {k: list(v) for k, v in state.history.items()}
        start_step, opt_state = state.step, state.optimizer

    dtype = torch.float32
    torch.manual_seed(seed)
    U_t = torch.tensor(U0, dtype=dtype, device=dev, requires_grad=True)
    a_t = torch.tensor(a0, dtype=dtype, device=dev, requires_grad=True)
    b_t = torch.tensor(b0, dtype=dtype, device=dev, requires_grad=True)
    raw_t = torch.tensor(raw0, dtype=dtype, device=dev, requires_grad=True)
    contrast0 = float(settings["b_rms"])
    contrast_t = torch.tensor(settings.get("contrast", contrast0), dtype=dtype, device=dev, requires_grad=True)
    y_t = torch.tensor(y, dtype=dtype, device=dev)
    m_t = torch.tensor(mask, dtype=dtype, device=dev)
    n_data = float(mask.sum())
    gy_, gx_ = ny // d + 2 * pad, nx // d + 2 * pad
    prop = Propagator((gy_, gx_), dx, model, boundary="neumann" if boundary == "neumann" else "periodic",
                      device=dev, dtype=dtype)
    fov = (slice(pad, pad + ny // d), slice(pad, pad + nx // d))
    border = max(2, int(round(0.06 * min(ny, nx) / d))) if boundary == "neumann" else 0
    interior = torch.zeros((gy_, gx_), dtype=dtype, device=dev)  # where joins are penalised
    interior[border:gy_ - border, border:gx_ - border] = 1.0
    n_int = float(interior.sum())
    in_fov = torch.zeros((gy_, gx_), dtype=dtype, device=dev)  # where the data are
    in_fov[fov] = 1.0
    gain_t = float(gain)
    prior_w = 0.5 * scale_I / gain_t if poisson else 0.5 * scale_I ** 2 / gain_t
    # segment j starts one frame interval before frame j m, and frame k comes from segment
    # k // m at interval k - j m + 1 (1..m): every frame is a propagated state, so a segment's
    # free start state never fits the noise of a frame
    seg_idx = np.arange(T) // m_seg
    int_idx = np.arange(T) - seg_idx * m_seg + 1
    seg_idx_t = torch.as_tensor(seg_idx, device=dev)
    int_idx_t = torch.as_tensor(int_idx, device=dev)

    opt = torch.optim.Adam([{"params": [U_t], "lr": lr}, {"params": [a_t, b_t, contrast_t], "lr": lr},
                            {"params": [raw_t], "lr": lr}], lr=lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    base_lrs = [lr, lr, lr]

    def theta_of(raw):
        mw = torch.exp(raw[1])
        # dG / W = tanh(raw) / 3.2: both wells stay minima (|dG| < W / 3), so the two phases exist
        tilt = torch.tanh(raw[2]) / 3.2 if fit_dG else raw[2] * 0.0
        return torch.stack([torch.exp(raw[0]), mw, mw * tilt])

    def substeps(theta):
        mk, mw = float(theta[0]), float(theta[1])
        relax = 1.0 / mw if model == "allen-cahn" else (2 * mk / mw) / mw  # 1/(MW) or delta^2/(MW)
        return int(np.clip(math.ceil(hstep / (substep_fraction * relax)), 1, 64))

    lowpass = _torch_lowpass((ny, nx), texture_sigma, dev, dtype)

    def render(u, a, b):
        # templates = their mean + lattice texture (high-pass): the coarse-scale intensity of
        # each phase is uniform, so a spatially varying offset or scale of u cannot hide in them
        a = a.mean() + a - lowpass(a)
        b_eff = contrast_t / contrast0 * b_rms + b - lowpass(b)
        up = torch.nn.functional.interpolate(u[:, None], scale_factor=d, mode="bilinear",
                                             align_corners=False)[:, 0] if d > 1 else u
        return scale_I * (a + up * b_eff), b_eff

    def data_nll(intensity):
        if poisson:
            # Poisson NLL, continued quadratically below eps so negative intensities are pushed back
            eps = 0.02 * scale_I
            I = torch.clamp(intensity, min=eps)
            ext = intensity - I
            nll = I - y_t * torch.log(I) + (1 - y_t / eps) * ext + 0.5 * y_t / eps ** 2 * ext * ext
            return torch.sum(m_t * nll) / gain_t
        return torch.sum(m_t * (intensity - y_t) ** 2) / (2 * gain_t)

    sigma_start = max(0.1, float(model_error))
    n_sub = substeps(theta_of(raw_t.detach()))
    w_j = np.ones(max(n_seg - 1, 0))

    def floor_at(step_frac):
        # continuation: the model-error floor shrinks from sigma_start to model_error over the
        # first half of the steps, so the data shape the field before the physics stiffens it
        s = min(1.0, step_frac / 0.5)
        return math.exp((1 - s) * math.log(sigma_start) + s * math.log(float(model_error))) ** 2

    def forward(step_frac, n_sub):
        nonlocal w_j
        theta = theta_of(raw_t)
        traj = prop.run(U_t, theta, hstep, m_seg, n_sub)  # (S, m+1, h, w)
        u_full = traj[seg_idx_t, int_idx_t]
        u_video = u_full[:, fov[0], fov[1]]
        intensity, b_eff = render(u_video, a_t, b_t)
        nll = data_nll(intensity)
        if n_seg > 1:
            # gaps in units of the initial contrast: rescaling u and the contrast together
            # changes nothing, so the scale of u is fixed by the wells, not by the initial guess
            gap = (traj[:-1, m_seg] - U_t[1:]) * (contrast_t / contrast0)
            ms = (gap.detach() ** 2 * interior).sum(dim=(1, 2)) / n_int
            w_j = 1.0 / np.maximum(ms.double().cpu().numpy(), floor_at(step_frac))
            wt = torch.tensor(w_j, dtype=dtype, device=dev).reshape(-1, 1, 1)
            pde = 0.5 * torch.sum(wt * gap * gap * interior)
            with torch.no_grad():
                change = U_t[1:] - U_t[:-1]
                r2 = 1.0 - float((gap * gap * interior).sum() / ((change * change * interior).sum() + 1e-30))
        else:
            pde = torch.zeros((), dtype=dtype, device=dev)
            r2 = float("nan")
        prior = prior_w * 1e-2 * torch.sum((b_t - lowpass(b_t)) ** 2)
        loss = (nll + pde + prior) / n_data
        return loss, nll, pde, r2, theta, u_full, intensity, b_eff

    total_steps = int(steps)
    lr_min_frac = 1 / 20

    def snapshot(step):
        settings["raw_theta"] = [float(v) for v in raw_t.detach().cpu()]
        settings["contrast"] = float(contrast_t.detach())
        return PhaseFieldState(key=key, u=U_t.detach().cpu().numpy().copy(), a=a_t.detach().cpu().numpy().copy(),
                               b=b_t.detach().cpu().numpy().copy(), step=step,
                               optimizer=_cpu_state(opt.state_dict()), history={k: list(v) for k, v in history.items()},
                               drift=drift, settings=settings)

    step = start_step
    try:
        for step in range(start_step, total_steps):
            check(cancel)
            frac = step / max(total_steps - 1, 1)
            factor = lr_min_frac + 0.5 * (1 - lr_min_frac) * (1 + math.cos(math.pi * frac))
            for group, base in zip(opt.param_groups, base_lrs):
                group["lr"] = base * factor
            if step % 50 == 0:
                n_sub = substeps(theta_of(raw_t.detach()))
            opt.zero_grad(set_to_none=True)
            loss, nll, pde, r2, theta, u_full, _, _ = forward(frac, n_sub)
            loss.backward()
            opt.step()
            if step % 5 == 0 or step == total_steps - 1:
                history["step"].append(step + 1)
                history["loss"].append(float(loss.detach()))
                history["data"].append(float(nll.detach()) / n_data)
                history["pde"].append(float(pde.detach()) / n_data)
                history["theta"].append([float(v) for v in theta.detach().cpu()])
                history["pde_r2"].append(r2)
            report(progress, step + 1, total_steps, "phase-field fit")
            if callback is not None and ((step + 1) % max(1, callback_every) == 0 or step == total_steps - 1):
                k_show = T // 2
                callback({"step": step + 1, "steps": total_steps, "history": history,
                          "theta": theta.detach().cpu().numpy().astype(float),
                          "u_frame": u_full.detach()[k_show][fov].cpu().numpy().copy(), "frame": k_show,
                          "state": snapshot(step + 1)})
    except Cancelled as error:
        error.state = snapshot(step)
        raise
    step = max(step + 1, start_step) if total_steps > start_step else start_step

    # -- final estimates -----------------------------------------------------------------------
    with torch.no_grad():
        n_sub = substeps(theta_of(raw_t.detach()))
        loss, nll, pde, pde_r2, theta_t, u_full, intensity, b_eff = forward(1.0, n_sub)
        u_video = u_full[:, fov[0], fov[1]]
        theta = theta_t.double().cpu().numpy()
        denoised = intensity.cpu().numpy()
        b_final = b_eff.cpu().numpy()
        a_final = (a_t.mean() + a_t - lowpass(a_t)).detach().cpu().numpy()
        if model == "cahn-hilliard":
            # report in the symmetric gauge (dG = 0, binodal phases at u = 0 and 1): the same
            # dynamics and the same intensities (A + B u = A' + B' w), see symmetric_gauge
            g_s, g_b, theta = symmetric_gauge(theta)
            u_full = 0.5 + (u_full - g_s) / g_b
            u_video = u_full[:, fov[0], fov[1]]
            a_final = a_final + b_final * (g_s - 0.5 * g_b)
            b_final = b_final * g_b
        u = u_video.cpu().numpy()
        # least-squares view of the same field: increments explained by the equation, and the
        # spread of the kinetics over transitions (jackknife) as the uncertainty
        steps_t = torch.full((T - 1,), hstep, dtype=dtype, device=dev)
        D, G = trapezoid_design(u_full, prop.lap, model, steps_t)
        fov_interior = in_fov * interior
        XtX, Xty = normal_equations(D, G, fov_interior)
        n_fi = float(fov_interior.sum())
        XtX, Xty = XtX.double().cpu().numpy(), Xty.double().cpu().numpy()
        if model == "cahn-hilliard":
            # the field is in the symmetric gauge, where dG = 0 exactly: least squares for
            # (M kappa, M W) only (a free dG would only add the gauge's noise)
            XtX[:, 2, :] = 0.0
            XtX[:, :, 2] = 0.0
            Xty[:, 2] = 0.0
        th = torch.tensor(theta, dtype=dtype, device=dev).reshape(3, 1, 1, 1)
        r = D - (th * G).sum(0)
        resid_ms = ((r * r * fov_interior).sum(dim=(1, 2)) / n_fi).double().cpu().numpy()
        incr_ms = ((D * D * fov_interior).sum(dim=(1, 2)) / n_fi).double().cpu().numpy()
    fit_seconds = time.perf_counter() - t0
    w_k = 1.0 / np.maximum(resid_ms, float(model_error) ** 2)

    # jackknife over transitions: uncertainty of every identifiable quantity
    derived = derived_parameters(theta, model)
    theta_ls, _, _ = solve_theta(XtX, Xty, w_k)
    derived_ls = derived_parameters(theta_ls, model)
    jack = []
    A_all = np.einsum("k,kji->ji", w_k, XtX)
    b_all = np.einsum("k,kj->j", w_k, Xty)
    for k in range(T - 1):
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
        # the shooting estimate and the least-squares one on the same field should agree:
        # their difference is part of the uncertainty
        stderr[name] = float(math.hypot(spread, derived_ls[name] - derived[name])) \
            if np.isfinite(derived_ls[name]) else float("inf")

    # -- diagnostics -------------------------------------------------------------------------
    if poisson:
        chi2 = float(np.sum(mask * (y - denoised) ** 2 / (gain * np.maximum(denoised, 0.05 * scale_I))) / n_data)
    else:
        chi2 = float(np.sum(mask * (y - denoised) ** 2) / (gain * n_data))
    pde_r2_shooting = float(pde_r2)
    pde_r2 = float(1 - resid_ms.sum() / max(incr_ms.sum(), 1e-30))
    weighted = w_k / w_k.max()
    pde_r2_w = float(1 - (weighted * resid_ms).sum() / max((weighted * incr_ms).sum(), 1e-30))
    noise_u = math.sqrt(gain * scale_I) / (scale_I * b_rms * d) if poisson else \
        math.sqrt(gain) / (scale_I * b_rms * d)
    contrast_snr = 1.0 / noise_u
    up_u = np.repeat(np.repeat(u, d, 1), d, 2)
    phase1 = up_u >= 0.5
    frac1 = phase1.mean(axis=(1, 2))
    both_phases = bool(np.any((frac1 > 0.005) & (frac1 < 0.995)))
    dynamics = float(np.sqrt(incr_ms.mean()))

    m_ = mask.astype(np.float64)
    static_img = (y * m_).sum(0) / np.maximum(m_.sum(0), 1)
    structure, unexplained = _residual_structure(y, denoised, mask, gain if poisson else None, scale_I,
                                                 static=static_img)
    significance = _dynamics_significance(y, denoised, mask, gain, poisson, n_free=n_seg * (ny // d) * (nx // d) + ny * nx)
    at_floor = [PARAM_NAMES[j] for j in (0, 1) if theta[j] <= 1e-8]
    judged = verdict(model, contrast_snr=contrast_snr, both_phases=both_phases, significance=significance,
                     structure=structure, unexplained=unexplained, chi2=chi2, pde_r2=pde_r2,
                     driving_force=derived["dG/W"], at_floor=at_floor, derived=derived, stderr=stderr)
    if not fit_dG or model == "cahn-hilliard":
        for name in ("M*dG", "dG/W", "front_velocity"):
            if name in stderr:
                stderr[name] = 0.0
    quality = {
        **judged,
        "reduced_chi2": chi2,
        "residual_structure": structure,
        "unexplained_change_fraction": unexplained,
        "dynamics_significance": significance,
        "pde_explained_fraction": pde_r2,
        "pde_explained_fraction_weighted": pde_r2_w,
        "segment_continuity_explained": pde_r2_shooting,
        "boundary": boundary, "segment_frames": m_seg, "substeps_per_frame": n_sub,
        "contrast_to_noise": contrast_snr,
        "rms_increment_per_frame": dynamics,
        "gain": float(gain),
        "noise_model": "scaled Poisson" if poisson else "Gaussian",
        "transition_weights": (w_k / w_k.max()).tolist(),
        "fit_seconds": fit_seconds,
        "steps": int(step),
        "device": str(dev),
    }

    # -- units and the parameter table ------------------------------------------------------------
    L = y_axis.units or "px"
    Tu = t_axis.units or "frame"
    units = _theta_entries(theta, model, y_axis.units, t_axis.units)
    E = "E"
    notes = {"M*kappa": "identifiable", "M*W": "identifiable", "M*dG": "identifiable",
             "interface_width": "identifiable: delta = sqrt(2 kappa / W); profile (1 + tanh(x/delta))/2",
             "dG/W": "identifiable: driving force relative to the well height",
             "front_velocity": "identifiable: flat-front velocity 3 M |dG| delta, > 0 when phase 1 grows"}
    if model == "cahn-hilliard":
        ch_note = ("not identifiable for Cahn-Hilliard: a tilt of the wells is equivalent to an affine "
                   "re-definition of u (which the intensity map absorbs) with M W' = M W (1 + 3 (dG/W)^2); "
                   "reported in the symmetric gauge dG = 0")
        notes["M*W"] = "identifiable: M W' of the equivalent symmetric double well (symmetric gauge)"
        notes["interface_width"] = "identifiable: delta = sqrt(2 kappa / W') in the symmetric gauge"
        notes["M*dG"] = ch_note
        notes["dG/W"] = ch_note
    elif not fit_dG:
        notes["M*dG"] = "fixed at 0 (driving_force=False)"
        notes["dG/W"] = "fixed at 0 (driving_force=False)"
    values = {}
    for name in derived:
        unit = units.get(name, {"interface_width": L, "dG/W": "", "front_velocity": f"{L}/{Tu}"}.get(name, ""))
        values[name] = {"value": derived[name], "stderr": stderr[name], "units": unit, "note": notes[name]}
    mw = derived["M*W"]
    gauge = {
        "M": {"value": mw, "units": f"1/({E}*{Tu})" if model == "allen-cahn" else f"{L}^2/({E}*{Tu})",
              "note": "in the gauge W = 1 E (only products with M are identifiable)"},
        "kappa": {"value": derived["M*kappa"] / mw if mw > 0 else float("nan"), "units": f"{E}*{L}^2",
                  "note": "in the gauge W = 1 E"},
        "W": {"value": 1.0, "units": E, "note": "gauge choice: sets the energy unit E"},
        "dG": {"value": derived["M*dG"] / mw if mw > 0 else float("nan"), "units": E,
               "note": "in the gauge W = 1 E; < 0 favours phase 1" if model == "allen-cahn" else
                       "0 in the symmetric gauge (not identifiable for Cahn-Hilliard)"},
    }
    for name in ("M", "kappa", "dG"):
        src = {"M": "M*W", "kappa": None, "dG": "dG/W"}[name]
        if src:
            gauge[name]["stderr"] = stderr[src]
        else:
            gauge[name]["stderr"] = stderr["M*kappa"] / mw if mw > 0 else float("nan")
    for name, entry in gauge.items():
        values.setdefault(name, entry)
    parameters = {
        "model": model,
        "equation": ("u_t = M (kappa Lap u - f'(u))" if model == "allen-cahn"
                     else "u_t = M Lap (f'(u) - kappa Lap u)"),
        "free_energy": "f(u) = W u^2 (1-u)^2 + dG u^2 (3 - 2u); phase 1 (u = 1) is the brighter phase",
        "identifiable": (["M*kappa", "M*W", "M*dG", "interface_width", "dG/W", "front_velocity"]
                         if model == "allen-cahn" else ["M*kappa", "M*W", "interface_width"]),
        "not_identifiable": "M, kappa, W, dG separately (scaling f and kappa by c and M by 1/c leaves "
                            "the dynamics unchanged); reported in the gauge W = 1 E"
                            + ("" if model == "allen-cahn" else
                               "; for Cahn-Hilliard also M*dG and dG/W (a tilt of the wells equals an "
                               "affine re-definition of u: reported in the symmetric gauge dG = 0, "
                               "M W' = M W (1 + 3 (dG/W)^2))"),
        "values": values,
        "length_unit": L, "time_unit": Tu,
    }

    # -- observables over time ------------------------------------------------------------------
    gy, gx = np.gradient(u, dx, axis=(1, 2))
    grad = np.sqrt(gx ** 2 + gy ** 2)
    length = grad.sum(axis=(1, 2)) * dx * dx  # interface length (for a 0 -> 1 profile)
    du = (u[1:] - u[:-1]).sum(axis=(1, 2)) * dx * dx / hstep
    velocity = du / np.maximum(0.5 * (length[1:] + length[:-1]), 1e-12)
    interface = _interface_labels(up_u)
    width_field = interface_width_from_field(u, dx)
    quality["interface_width_from_field"] = width_field

    times = t_axis.offset + t_axis.scale * np.arange(tsl.start, tsl.stop)
    out_axes = (Axis(t_axis.name, T, t_axis.scale, float(times[0]), t_axis.units, True),
                Axis(y_axis.name, ny, y_axis.scale, y_axis.offset + ysl.start * y_axis.scale, y_axis.units),
                Axis(x_axis.name, nx, x_axis.scale, x_axis.offset + xsl.start * x_axis.scale, x_axis.units))
    coarse_axes = (out_axes[0],
                   Axis(y_axis.name, ny // d, y_axis.scale * d,
                        out_axes[1].offset + (d - 1) / 2 * y_axis.scale, y_axis.units),
                   Axis(x_axis.name, nx // d, x_axis.scale * d,
                        out_axes[2].offset + (d - 1) / 2 * x_axis.scale, x_axis.units))
    final_state = snapshot(step)
    return PhaseFieldResult(
        model=model, order_parameter=u.astype(np.float32), denoised=denoised.astype(np.float32),
        interface=interface, parameters=parameters, quality=quality, history=history, drift=drift,
        times=times, phase_fraction=frac1, interface_velocity=velocity, interface_length=length,
        templates={"phase0": (scale_I * a_final).astype(np.float32),
                   "phase1": (scale_I * (a_final + b_final)).astype(np.float32)},
        axes=out_axes, coarse_axes=coarse_axes, name=ds.name or "video", state=final_state)


def _residual_structure(y, model, mask, gain, scale, sigma=(1.0, 1.5, 1.5), static=None):
    """Variance of the smoothed normalised residual relative to white noise (1 for a good fit).

    The residual (y - I) / sqrt(variance) is white for a correct model whatever the gain;
    a wrong model leaves correlated, smooth misfit that survives a Gaussian filter.
    Normalising by the residual's own variance makes it independent of the gain estimate.
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


def _dynamics_significance(y, model, mask, gain, poisson, n_free) -> float:
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


def _torch_lowpass(shape, sigma, device, dtype):
    """Gaussian low-pass (``sigma`` px) with mirrored edges, as a function on (H, W) tensors."""
    import torch

    H, W = shape
    ky = np.fft.fftfreq(2 * H)[:, None]
    kx = np.fft.rfftfreq(2 * W)[None, :]
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (ky ** 2 + kx ** 2))
    tr = torch.as_tensor(transfer, device=device, dtype=dtype)

    def apply(img):
        ext = torch.cat([img, torch.flip(img, dims=(0,))], dim=0)
        ext = torch.cat([ext, torch.flip(ext, dims=(1,))], dim=1)
        return torch.fft.irfft2(torch.fft.rfft2(ext) * tr, s=(2 * H, 2 * W))[:H, :W]

    return apply


def _cpu_state(state_dict):
    import torch

    def conv(v):
        if isinstance(v, torch.Tensor):
            return v.detach().cpu().clone()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return conv(state_dict)


def _interface_labels(u_up) -> np.ndarray:
    """uint8 (T, H, W): 1 on the pixels where the 0.5 level of u passes to a 4-neighbour."""
    p = u_up >= 0.5
    edge = np.zeros_like(p)
    edge[:, 1:, :] |= p[:, 1:, :] != p[:, :-1, :]
    edge[:, :-1, :] |= p[:, 1:, :] != p[:, :-1, :]
    edge[:, :, 1:] |= p[:, :, 1:] != p[:, :, :-1]
    edge[:, :, :-1] |= p[:, :, 1:] != p[:, :, :-1]
    return edge.astype(np.uint8)


def interface_width_from_field(u, dx: float) -> float:
    """Interface width delta of an order-parameter field, for profiles (1 + tanh(x/delta))/2.

    Across such a profile int u(1-u) = delta/2 and int |u'|^2 = 1/(3 delta), so
    delta = sqrt(2/3 * int u(1-u) / int |grad u|^2) for any set of (curved) interfaces
    wider than the grid. ``u``: (..., ny, nx).
    """
    u = np.asarray(u, dtype=np.float64)
    gy, gx = np.gradient(u, dx, axis=(-2, -1))
    num = np.clip(u * (1 - u), 0, None).sum()
    den = (gx ** 2 + gy ** 2).sum()
    return float(math.sqrt(2.0 / 3.0 * num / den)) if den > 0 else float("nan")
