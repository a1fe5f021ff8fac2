"""Set-up and first guess of the phase-field fit.

:func:`prepare_video` checks the options, selects frames and crop, corrects drift and fixes
the noise model (gain g, 1 for counts, from frame-to-frame differences);
:func:`initial_start` gives the optimiser its start: a rank-2 factorisation of the video
into templates and an order parameter, and kinetics from the interface width and velocity
of that first field (or the values of an earlier fit's state).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..backend.progress import check
from ..dataset import Axis, Dataset
from ..errors import ParameterError
from .model import TILT_LIMIT, interface_width_from_field
from .operators import normalize_model
from .texture import lattice_transfer, texture_numpy

CHI2_MEDIAN_1DOF = 0.454936  # median of a chi-square variable with one degree of freedom
WINDOW_MARGIN = 0.25  # free margin each side of the frame (fraction of its size), boundary='window'; 0.12 measured ~20 % low kinetics
BOUNDARIES = ("window", "neumann", "periodic")
TEMPLATE_RIDGE = 1.0  # pull of each pixel's template fit towards the global fit (in frames)


@dataclass
class FitSetup:
    """The prepared video and every fixed choice of one fit."""

    model: str
    ds: Dataset  # the input video
    key: tuple  # identifies the set-up a saved state belongs to
    tsl: slice  # frames
    ysl: slice  # crop rows (a multiple of d)
    xsl: slice  # crop columns (a multiple of d)
    y: np.ndarray  # (T, ny, nx) aligned counts
    mask: np.ndarray  # (T, ny, nx) pixels with data after the alignment shift
    drift: np.ndarray  # (T, 2) px
    poisson: bool  # scaled Poisson noise (data >= 0) or Gaussian
    gain: float  # detector gain (variance / mean), or the Gaussian noise variance
    scale_I: float  # intensity scale s
    d: int  # downsampling of the order parameter
    dx: float  # coarse grid spacing (length units of the video)
    hstep: float  # frame interval (time units of the video)
    boundary: str
    pad: int  # free margin of the coarse grid on each side (boundary='window')
    m_seg: int  # frames per shooting segment
    n_seg: int
    fit_dG: bool
    substep_fraction: float
    texture_sigma: float  # px
    texture_transfer: np.ndarray  # Fourier mask of the templates' lattice texture (.texture)
    model_error: float
    t0: float  # perf_counter at the start of the fit

    @property
    def T(self) -> int:
        return self.tsl.stop - self.tsl.start

    @property
    def ny(self) -> int:
        return self.ysl.stop - self.ysl.start

    @property
    def nx(self) -> int:
        return self.xsl.stop - self.xsl.start


@dataclass
class Start:
    """Start values for the optimiser: fresh from the video or from an earlier fit's state."""

    u: np.ndarray  # (n_seg, h, w) segment start states on the padded grid
    a: np.ndarray  # (H, W) phase-0 template / scale_I
    b: np.ndarray  # (H, W) contrast template / scale_I
    raw: np.ndarray  # unconstrained kinetics (log M kappa, log M W, atanh(3.2 dG / W))
    settings: dict
    history: dict
    step: int
    optimizer: dict | None


def as_video(dataset) -> Dataset:
    """The input as a (time, y, x) Dataset; a bare array gets uncalibrated axes t, y, x."""
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


def frame_slice(frames, n):
    """``frames`` (None, a slice or (start, stop)) as a slice of ``n`` frames."""
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


def crop_slices(crop, ny, nx):
    """``crop`` (None or (y0, y1, x0, x1) pixels) as row and column slices."""
    if crop is None:
        return slice(0, ny), slice(0, nx)
    y0, y1, x0, x1 = (int(c) for c in crop)
    if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
        raise ParameterError(f"crop={crop!r} is outside the {ny} x {nx} frame: give (y0, y1, x0, x1) pixels.")
    return slice(y0, y1), slice(x0, x1)


def _check_options(downsample, boundary, steps) -> int:
    d = int(downsample)
    if d < 1:
        raise ParameterError(f"downsample={downsample!r} must be a positive integer (1 = no coarse-graining).")
    if boundary not in BOUNDARIES:
        raise ParameterError(f"boundary={boundary!r}: use 'window' (the frame is a window onto a larger "
                             "sample), 'periodic' or 'neumann'.")
    if steps < 0:
        raise ParameterError("steps must be >= 0.")
    return d


def _select(ds, frames, crop, d):
    """Frame and crop slices, the crop trimmed to a multiple of ``d``."""
    tsl = frame_slice(frames, ds.shape[0])
    ysl, xsl = crop_slices(crop, ds.shape[1], ds.shape[2])
    T = tsl.stop - tsl.start
    if T < 3:
        raise ParameterError(f"The phase-field fit needs at least 3 frames; frames={frames!r} gives {T}.")
    ny, nx = (ysl.stop - ysl.start) // d * d, (xsl.stop - xsl.start) // d * d
    if ny // d < 8 or nx // d < 8:
        raise ParameterError(f"Crop {ysl.stop - ysl.start} x {xsl.stop - xsl.start} px with downsample={d} "
                             "leaves fewer than 8 x 8 grid points: enlarge the crop or lower downsample.")
    return tsl, slice(ysl.start, ysl.start + ny), slice(xsl.start, xsl.start + nx)


def _noise_model(y, mask, state):
    """(poisson, gain, scale_I): scaled Poisson for counts, Gaussian for signed data."""
    poisson = bool(y.min() >= 0)
    if state is not None:
        gain = state.settings["gain"]
    elif poisson:
        gain = estimate_gain(y, mask)
    else:
        diff = (y[1:] - y[:-1])[mask[1:] & mask[:-1]]
        gain = float((1.4826 * np.median(np.abs(diff - np.median(diff)))) ** 2 / 2)
    scale_I = float(max(y[mask].mean(), 1e-9)) if poisson else float(np.abs(y[mask]).mean() + 1e-9)
    return poisson, gain, scale_I


def prepare_video(dataset, model, *, steps, downsample, frames, crop, align, boundary, segment,
                  substep_fraction, model_error, texture_sigma, driving_force, device, state, cancel):
    """Check the options, select, align and weigh the video; see :func:`~stemlab.phasefield.fit_phasefield`.

    Returns the :class:`FitSetup` and the resolved torch device.
    """
    from ..backend.device import resolve_device
    from .align import estimate_drift, shift_frames, valid_mask

    model = normalize_model(model)
    ds = as_video(dataset)
    d = _check_options(downsample, boundary, steps)
    tsl, ysl, xsl = _select(ds, frames, crop, d)
    key = (model, driving_force, ds.shape, d, (tsl.start, tsl.stop), (ysl.start, ysl.stop, xsl.start, xsl.stop),
           bool(align), boundary)
    if state is not None and tuple(state.key) != key:
        raise ParameterError("The saved fit state belongs to another set-up (model, frames, crop, downsample, "
                             "alignment); start a new fit or restore those settings.")
    t_axis, y_axis, x_axis = ds.axes
    y = np.asarray(ds.data[tsl, ysl, xsl], dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"Dataset {ds.name!r} contains NaN or infinite values; clean them first.")
    dev = resolve_device(device)
    t0 = time.perf_counter()
    T, ny, nx = y.shape
    if state is not None:
        drift = state.drift
    elif align:
        drift = estimate_drift(y, progress=None, cancel=cancel)
    else:
        drift = np.zeros((T, 2))
    y = shift_frames(y, drift)
    mask = valid_mask(y.shape, drift)
    check(cancel)
    poisson, gain, scale_I = _noise_model(y, mask, state)
    if substep_fraction is None:
        # Cahn-Hilliard needs finer sub-steps: at 0.2 M*W came out ~3 % higher (measured)
        substep_fraction = 0.2 if model == "allen-cahn" else 0.1
    if abs(x_axis.scale - y_axis.scale) > 1e-6 * y_axis.scale:
        raise ParameterError(f"Pixels are not square ({y_axis.scale} x {x_axis.scale}): the phase-field "
                             "fit needs equal y and x scales; resample the video first.")
    # 'window': the frame is a window onto a larger sample; the field is integrated on a grid
    # with a free margin that no data constrain, so the unknown outside cannot distort the
    # physics inside (periodic wrap-around happens in the margin)
    pad = max(4, int(math.ceil(WINDOW_MARGIN * min(ny, nx) / d))) if boundary == "window" else 0
    m_seg = max(1, min(int(segment), T))
    texture_sigma = float(max(6.0, 3.0 * d)) if texture_sigma is None else float(texture_sigma)
    mean_image = (y * mask).sum(0) / np.maximum(mask.sum(0), 1)
    noise_var = gain * scale_I / T if poisson else gain / T
    transfer = lattice_transfer(mean_image, texture_sigma, noise_var)
    setup = FitSetup(
        model=model, ds=ds, key=key, tsl=tsl, ysl=ysl, xsl=xsl, y=y, mask=mask, drift=drift, poisson=poisson,
        gain=gain, scale_I=scale_I, d=d, dx=float(y_axis.scale) * d, hstep=float(t_axis.scale),
        boundary=boundary, pad=pad, m_seg=m_seg, n_seg=int(math.ceil(T / m_seg)),
        fit_dG=True if driving_force is None else bool(driving_force), substep_fraction=substep_fraction,
        texture_sigma=texture_sigma, texture_transfer=transfer,
        model_error=model_error, t0=t0)
    return setup, dev


def initial_start(setup: FitSetup, state=None) -> Start:
    """Start values: from ``state`` (a resumed fit) or a first guess from the video."""
    if state is not None:
        return Start(u=state.u, a=state.a, b=state.b, raw=np.array(state.settings["raw_theta"]),
                     settings=dict(state.settings), history={k: list(v) for k, v in state.history.items()},
                     step=state.step, optimizer=state.optimizer)
    y, mask, d, scale_I = setup.y, setup.mask, setup.d, setup.scale_I
    u_pix = initial_order_parameter(y, d, sigma_px=max(2.0, 1.5 * d))
    u_init, A, B = refine_initial(y, block_mean(u_pix, d), mask, d, TEMPLATE_RIDGE, setup.texture_transfer)
    a0, b0 = A / scale_I, B / scale_I
    b_rms = float(np.mean(b0))  # mean phase contrast: fixes the scale of u
    theta0 = initial_theta(u_init, setup.dx, setup.hstep, setup.model)
    U0 = u_init[np.arange(setup.n_seg) * setup.m_seg]  # the state one interval earlier: close enough to start
    if setup.boundary == "window":
        U0 = np.pad(U0, ((0, 0), (setup.pad, setup.pad), (setup.pad, setup.pad)), mode="edge")
    raw0 = np.array([math.log(theta0[0]), math.log(theta0[1]),
                     math.atanh(float(np.clip(TILT_LIMIT * theta0[2] / theta0[1], -0.95, 0.95)))])
    settings = {"gain": setup.gain, "scale_I": scale_I, "b_rms": b_rms, "poisson": setup.poisson,
                "theta0": theta0, "boundary": setup.boundary}
    history = {"step": [], "loss": [], "data": [], "pde": [], "theta": [], "pde_r2": []}
    return Start(u=U0, a=a0, b=b0, raw=raw0, settings=settings, history=history, step=0, optimizer=None)


def estimate_gain(frames, mask=None) -> float:
    """Detector gain g (variance / mean) from differences of consecutive frames.

    For Poisson counts g = 1. Uses the median of (y_{k+1} - y_k)^2 / (y_k + y_{k+1}), which
    the few pixels where the sample changes between frames hardly move, to drop those pixels,
    then the mean of the rest.

    Parameters
    ----------
    frames : array_like, shape (T, H, W)
        Counts (or signal proportional to counts), aligned.
    mask : numpy.ndarray of bool, shape (T, H, W), optional
        Pixels to use.

    Returns
    -------
    float
        g in signal units per detected electron (1 for counts).
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


def initial_order_parameter(y, d, sigma_px):
    """First guess of u on the pixel grid.

    The leading principal component of smoothed local mean and local contrast, mapped so that
    the two clusters sit at 0 and 1 (phase 1 = the brighter phase).
    """
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
    c0, c1 = two_means(pc)
    if c1 - c0 < 1e-9:
        c0, c1 = pc.min(), pc.max() + 1e-9
    u = ((pc - c0) / (c1 - c0)).reshape(y.shape)
    return np.clip(u, -0.1, 1.1)


def block_mean(x, d):
    """Mean over d x d pixel blocks of (T, H, W)."""
    T, H, W = x.shape
    return x.reshape(T, H // d, d, W // d, d).mean(axis=(2, 4))


def block_sum(x, d):
    """Sum over d x d pixel blocks of (T, H, W)."""
    T, H, W = x.shape
    return x.reshape(T, H // d, d, W // d, d).sum(axis=(2, 4))


def init_templates(y, u_up, mask, ridge):
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


def texture_only(T_img, transfer):
    """Keep only the lattice texture of a template (see :mod:`.texture`) plus its mean."""
    return T_img.mean() + texture_numpy(T_img, transfer)


def two_means(values):
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


def refine_initial(y, u0, mask, d, ridge, transfer, rounds: int = 3):
    """Alternate templates and order parameter: a cheap rank-2 factorisation.

    Templates in closed form (texture-constrained), then the order parameter per grid point in
    closed form (smoothed over one grid point and one frame, two clusters mapped to 0 and 1);
    this gives the optimiser a smooth, data-consistent start.
    """
    from scipy import ndimage

    m = mask.astype(np.float64)
    for _ in range(rounds):
        u_up = np.repeat(np.repeat(u0, d, 1), d, 2)
        A, B = init_templates(y, u_up, mask, ridge)
        A, B = texture_only(A, transfer), texture_only(B, transfer)
        num = block_sum(m * B * (y - A), d)
        den = block_sum(m * B * B, d) + 1e-12
        u_new = ndimage.gaussian_filter(num / den, (1.0, 1.0, 1.0))
        c0, c1 = two_means(u_new.ravel())
        if c1 - c0 > 1e-6:
            u_new = (u_new - c0) / (c1 - c0)
        u0 = np.clip(u_new, -0.1, 1.1)
    u_up = np.repeat(np.repeat(u0, d, 1), d, 2)
    A, B = init_templates(y, u_up, mask, ridge)
    return u0, texture_only(A, transfer), texture_only(B, transfer)


def initial_theta(u0, dx, h, model):
    """Kinetics to start from.

    Interface width from the initial field, a relaxation time of two frames, and the driving
    force from the mean interface velocity (Allen-Cahn).
    """
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
