"""The differentiable model of the phase-field fit and its loss (torch).

Measured counts y(t, x) after drift correction are modelled as

  I(t, x) = s [a(x) + b(x) U(u)(t, x)],   y ~ g Poisson(I / g)

with u(t, y, x) the order parameter on a coarse grid (spatial downsampling ``d``), U the
bilinear up-sampling to the pixels, a(x) and b(x) the per-pixel images of phase 0 and of the
contrast phase 1 - phase 0 (the learned intensity -> order-parameter map; they carry the
lattice texture) and g the detector gain. The video is cut into shooting segments; each
segment's start state is free and propagated by :class:`~stemlab.phasefield.operators.Propagator`,
and the gap at every segment join is penalised as a Gaussian model error (profiled per join,
with a floor that shrinks over the first half of the fit).

Also here: what the kinetic parameters theta = (M kappa, M W, M dG) mean
(:func:`derived_parameters`, :func:`symmetric_gauge`) and the interface width of a field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from .operators import Propagator
from .texture import TextureFilter

TILT_LIMIT = 3.2  # dG / W = tanh(raw) / 3.2: both wells stay minima (|dG| < W / 3), so two phases exist
MAX_SUBSTEPS = 64  # integration sub-steps per frame interval, at most


def symmetric_gauge(theta):
    """Cahn-Hilliard: the symmetric double well equivalent to a tilted one.

    For a conserved order parameter the tilt dG u^2 (3 - 2u) is not a separate piece of
    physics: with r = dG/W, s = (1 + r)/2 and b = sqrt(1 + 3 r^2), the field
    w = 1/2 + (u - s)/b obeys Cahn-Hilliard with the same M kappa, dG = 0 and
    W' = W (1 + 3 r^2) exactly (the constant that the substitution adds to f' drops out of
    Lap f'). The intensity model A + B u absorbs any affine map of u, so no video can
    tell these apart.

    Parameters
    ----------
    theta : sequence of 3 float
        (M kappa, M W, M dG) in the units of the fit (length^4/time, length^2/time,
        length^2/time for Cahn-Hilliard).

    Returns
    -------
    s, b : float
        The affine map w = 1/2 + (u - s) / b (dimensionless).
    theta_sym : numpy.ndarray
        (M kappa, M W', 0), same units as ``theta``.
    """
    mk, mw, mg = (float(v) for v in theta)
    r = mg / mw if mw > 0 else 0.0
    return 0.5 * (1 + r), math.sqrt(1 + 3 * r * r), np.array([mk, mw * (1 + 3 * r * r), 0.0])


def derived_parameters(theta, model):
    """Identifiable quantities from theta = (M kappa, M W, M dG).

    For Cahn-Hilliard they are given in the symmetric gauge dG = 0 (see
    :func:`symmetric_gauge`: only M kappa and M W' are identifiable).

    Parameters
    ----------
    theta : sequence of 3 float
        (M kappa, M W, M dG); Allen-Cahn units length^2/time, 1/time, 1/time.
    model : {'allen-cahn', 'cahn-hilliard'}

    Returns
    -------
    dict
        'M*kappa', 'M*W', 'M*dG', 'interface_width' (length, sqrt(2 kappa / W)), 'dG/W'
        (dimensionless) and for Allen-Cahn 'front_velocity' (length/time, 3 M |dG| delta,
        > 0 when phase 1 grows).
    """
    if model == "cahn-hilliard":
        theta = symmetric_gauge(theta)[2]
    mk, mw, mg = (float(v) for v in theta)
    out = {"M*kappa": mk, "M*W": mw, "M*dG": mg,
           "interface_width": math.sqrt(2 * mk / mw) if mk > 0 and mw > 0 else float("nan"),
           "dG/W": mg / mw if mw > 0 else float("nan")}
    if model == "allen-cahn":
        out["front_velocity"] = -3 * mg * out["interface_width"]  # > 0: phase 1 grows
    return out


def interface_width_from_field(u, dx: float) -> float:
    """Interface width delta of an order-parameter field, for profiles (1 + tanh(x/delta))/2.

    Across such a profile int u(1-u) = delta/2 and int |u'|^2 = 1/(3 delta), so
    delta = sqrt(2/3 * int u(1-u) / int |grad u|^2) for any set of (curved) interfaces
    wider than the grid.

    Parameters
    ----------
    u : array_like, shape (..., ny, nx)
        Order parameter (0 and 1 in the two phases).
    dx : float
        Grid spacing (length units of the result).

    Returns
    -------
    float
        delta in the units of ``dx``; NaN for a flat field.
    """
    u = np.asarray(u, dtype=np.float64)
    gy, gx = np.gradient(u, dx, axis=(-2, -1))
    num = np.clip(u * (1 - u), 0, None).sum()
    den = (gx ** 2 + gy ** 2).sum()
    return float(math.sqrt(2.0 / 3.0 * num / den)) if den > 0 else float("nan")


def theta_of(raw, fit_dG: bool):
    """theta = (M kappa, M W, M dG) from the unconstrained optimiser variables ``raw`` (torch)."""
    import torch

    mw = torch.exp(raw[1])
    tilt = torch.tanh(raw[2]) / TILT_LIMIT if fit_dG else raw[2] * 0.0
    return torch.stack([torch.exp(raw[0]), mw, mw * tilt])


def substeps_per_frame(theta, model: str, hstep: float, substep_fraction: float) -> int:
    """Integration sub-steps per frame interval: ``substep_fraction`` of the relaxation time."""
    mk, mw = float(theta[0]), float(theta[1])
    if not (math.isfinite(mk) and math.isfinite(mw) and mk > 0 and mw > 0):
        raise ParameterError(f"The phase-field fit diverged (kinetics M*kappa = {mk:g}, M*W = {mw:g}): lower the "
                             "learning rate (lr), raise downsample or check that the video shows a phase "
                             "transformation.")
    relax = 1.0 / mw if model == "allen-cahn" else (2 * mk / mw) / mw  # 1/(MW) or delta^2/(MW)
    return int(np.clip(math.ceil(hstep / (substep_fraction * relax)), 1, MAX_SUBSTEPS))


@dataclass
class ForwardPass:
    """One evaluation of the model: the loss, its parts and what they were computed from."""

    loss: object  # (nll + pde + prior) / number of data pixels
    nll: object  # data negative log-likelihood
    pde: object  # model-error penalty at the segment joins
    r2: float  # fraction of the change of the start states explained by the propagation
    theta: object  # (M kappa, M W, M dG)
    u_full: object  # (T, h + 2 pad, w + 2 pad) order parameter on the padded grid
    intensity: object  # (T, H, W) rendered video
    b_eff: object  # (H, W) effective contrast template


class PhaseFieldModel:
    """The fit's unknowns (torch leaves) and its loss, on one device.

    Parameters
    ----------
    setup : stemlab.phasefield.initialise.FitSetup
        The prepared video, grid and noise model.
    start : stemlab.phasefield.initialise.Start
        Start values of the segment start states, templates and kinetics.
    device : torch.device
    """

    def __init__(self, setup, start, device):
        import torch

        dtype = self.dtype = torch.float32
        self.setup, self.device = setup, device
        self.U = torch.tensor(start.u, dtype=dtype, device=device, requires_grad=True)
        self.a = torch.tensor(start.a, dtype=dtype, device=device, requires_grad=True)
        self.b = torch.tensor(start.b, dtype=dtype, device=device, requires_grad=True)
        self.raw = torch.tensor(start.raw, dtype=dtype, device=device, requires_grad=True)
        self.b_rms = start.settings["b_rms"]
        self.contrast0 = float(start.settings["b_rms"])
        self.contrast = torch.tensor(start.settings.get("contrast", self.contrast0), dtype=dtype, device=device,
                                     requires_grad=True)
        self.y = torch.tensor(setup.y, dtype=dtype, device=device)
        self.m = torch.tensor(setup.mask, dtype=dtype, device=device)
        self.n_data = float(setup.mask.sum())
        self._grid(setup, device, dtype)
        gain = self.gain = float(setup.gain)
        scale_I = setup.scale_I
        self.prior_w = 0.5 * scale_I / gain if setup.poisson else 0.5 * scale_I ** 2 / gain
        self.texture = TextureFilter(setup.texture_transfer, device, dtype)
        self.sigma_start = max(0.1, float(setup.model_error))

    def _grid(self, setup, device, dtype):
        """The padded grid, its propagator, where joins are penalised and which frame comes from where."""
        import torch

        d, pad = setup.d, setup.pad
        gy, gx = setup.ny // d + 2 * pad, setup.nx // d + 2 * pad
        self.prop = Propagator((gy, gx), setup.dx, setup.model,
                               boundary="neumann" if setup.boundary == "neumann" else "periodic",
                               device=device, dtype=dtype)
        self.fov = (slice(pad, pad + setup.ny // d), slice(pad, pad + setup.nx // d))
        border = max(2, int(round(0.06 * min(setup.ny, setup.nx) / d))) if setup.boundary == "neumann" else 0
        self.interior = torch.zeros((gy, gx), dtype=dtype, device=device)  # where joins are penalised
        self.interior[border:gy - border, border:gx - border] = 1.0
        self.n_int = float(self.interior.sum())
        self.in_fov = torch.zeros((gy, gx), dtype=dtype, device=device)  # where the data are
        self.in_fov[self.fov] = 1.0
        # segment j starts one frame interval before frame j m, and frame k comes from segment
        # k // m at interval k - j m + 1 (1..m): every frame is a propagated state, so a segment's
        # free start state never fits the noise of a frame
        seg_idx = np.arange(setup.T) // setup.m_seg
        int_idx = np.arange(setup.T) - seg_idx * setup.m_seg + 1
        self.seg_idx = torch.as_tensor(seg_idx, device=device)
        self.int_idx = torch.as_tensor(int_idx, device=device)

    def theta(self):
        """Current kinetics (M kappa, M W, M dG) as a tensor in the graph."""
        return theta_of(self.raw, self.setup.fit_dG)

    def substeps(self) -> int:
        """Sub-steps per frame interval for the current kinetics."""
        s = self.setup
        return substeps_per_frame(theta_of(self.raw.detach(), s.fit_dG), s.model, s.hstep, s.substep_fraction)

    def render(self, u):
        """Intensity (T, H, W) of the coarse field ``u`` (T, h, w) and the effective contrast b."""
        import torch

        # templates = their mean + lattice texture (Fourier peaks, see .texture): the intensity
        # of each phase is otherwise uniform, so neither a varying offset or scale of u nor the
        # static image of the interfaces can hide in them
        a = self.a.mean() + self.texture(self.a)
        b_eff = self.contrast / self.contrast0 * self.b_rms + self.texture(self.b)
        d = self.setup.d
        up = torch.nn.functional.interpolate(u[:, None], scale_factor=d, mode="bilinear",
                                             align_corners=False)[:, 0] if d > 1 else u
        return self.setup.scale_I * (a + up * b_eff), b_eff

    def phase0_template(self):
        """Phase-0 template a as rendered (mean + texture), detached."""
        return (self.a.mean() + self.texture(self.a)).detach()

    def data_nll(self, intensity):
        """Negative log-likelihood of the data (scaled Poisson, or Gaussian for signed data)."""
        import torch

        y, m = self.y, self.m
        if self.setup.poisson:
            # Poisson NLL, continued quadratically below eps so negative intensities are pushed back
            eps = 0.02 * self.setup.scale_I
            I = torch.clamp(intensity, min=eps)
            ext = intensity - I
            nll = I - y * torch.log(I) + (1 - y / eps) * ext + 0.5 * y / eps ** 2 * ext * ext
            return torch.sum(m * nll) / self.gain
        return torch.sum(m * (intensity - y) ** 2) / (2 * self.gain)

    def floor_at(self, step_frac: float) -> float:
        """Model-error variance floor at a fraction of the fit (continuation).

        The floor shrinks from ``sigma_start`` to ``model_error`` over the first half of the
        steps, so the data shape the field before the physics stiffens it.
        """
        s = min(1.0, step_frac / 0.5)
        return math.exp((1 - s) * math.log(self.sigma_start) + s * math.log(float(self.setup.model_error))) ** 2

    def join_penalty(self, traj, step_frac: float):
        """Model-error penalty of the gaps at the segment joins and the explained fraction r2."""
        import torch

        if self.setup.n_seg <= 1:
            return torch.zeros((), dtype=self.dtype, device=self.device), float("nan")
        U, interior = self.U, self.interior
        # gaps in units of the initial contrast: rescaling u and the contrast together
        # changes nothing, so the scale of u is fixed by the wells, not by the initial guess
        gap = (traj[:-1, self.setup.m_seg] - U[1:]) * (self.contrast / self.contrast0)
        ms = (gap.detach() ** 2 * interior).sum(dim=(1, 2)) / self.n_int
        w_j = 1.0 / np.maximum(ms.double().cpu().numpy(), self.floor_at(step_frac))
        wt = torch.tensor(w_j, dtype=self.dtype, device=self.device).reshape(-1, 1, 1)
        pde = 0.5 * torch.sum(wt * gap * gap * interior)
        with torch.no_grad():
            change = U[1:] - U[:-1]
            r2 = 1.0 - float((gap * gap * interior).sum() / ((change * change * interior).sum() + 1e-30))
        return pde, r2

    def forward(self, step_frac: float, n_sub: int) -> ForwardPass:
        """Propagate the segments, render the video and evaluate the loss."""
        import torch

        s = self.setup
        theta = self.theta()
        traj = self.prop.run(self.U, theta, s.hstep, s.m_seg, n_sub)  # (S, m+1, h, w)
        u_full = traj[self.seg_idx, self.int_idx]
        intensity, b_eff = self.render(u_full[:, self.fov[0], self.fov[1]])
        nll = self.data_nll(intensity)
        pde, r2 = self.join_penalty(traj, step_frac)
        prior = self.prior_w * 1e-2 * torch.sum(self.texture(self.b) ** 2)
        loss = (nll + pde + prior) / self.n_data
        return ForwardPass(loss, nll, pde, r2, theta, u_full, intensity, b_eff)
