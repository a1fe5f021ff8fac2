"""Differentiable phase-field operators on a (time, y, x) grid (torch).

Spectral Laplacian with periodic or mirror (Neumann) boundaries, the right-hand sides of
Allen-Cahn and Cahn-Hilliard written as a *linear* combination of features of the field,

  u_t = sum_j theta_j F_j(u),   theta = (M kappa, M W, M dG)

  Allen-Cahn:    F = ( Lap u,     -f0'(u),      -h'(u) )
  Cahn-Hilliard: F = ( -Lap^2 u,  Lap f0'(u),   Lap h'(u) )

with f(u) = W u^2 (1-u)^2 + dG u^2 (3 - 2u), f0'(u) = 2 u (1-u)(1-2u), h'(u) = 6 u (1-u)
(the free energy of :mod:`stemlab.simulate.phasefield`), and the trapezoidal
(Crank-Nicolson) residual between consecutive frames

  r_k = u_{k+1} - u_k - h_k / 2 (F(u_k) + F(u_{k+1})) . theta .

Because the residual is linear in theta, the kinetic parameters that best explain a given
field follow from a small weighted least-squares problem (variable projection); only the
identifiable products M kappa, M W, M dG ever appear.
"""

from __future__ import annotations

import numpy as np

from ..simulate.phasefield import etdrk2_steps

MODELS = ("allen-cahn", "cahn-hilliard")
PARAM_NAMES = ("M*kappa", "M*W", "M*dG")


def normalize_model(model: str) -> str:
    from ..errors import ParameterError

    name = str(model).lower().replace("_", "-").replace(" ", "-")
    aliases = {"ac": "allen-cahn", "allen-cahn": "allen-cahn", "allencahn": "allen-cahn",
               "ch": "cahn-hilliard", "cahn-hilliard": "cahn-hilliard", "cahnhilliard": "cahn-hilliard"}
    if name not in aliases:
        raise ParameterError(f"Unknown phase-field model {model!r}: use 'allen-cahn' (non-conserved) "
                             "or 'cahn-hilliard' (conserved order parameter).")
    return aliases[name]


class SpectralLaplacian:
    """-q^2 in Fourier space for fields (..., ny, nx) of spacing ``dx``.

    ``boundary='neumann'`` mirrors the field to (2 ny, 2 nx) first (a cosine transform:
    zero normal derivative at the edges, right for non-periodic microscope frames);
    ``'periodic'`` uses the field as is.
    """

    def __init__(self, shape, dx: float, boundary: str = "neumann", device=None, dtype=None):
        import torch

        self.shape = tuple(int(s) for s in shape)
        self.boundary = boundary
        ny, nx = self.shape
        my, mx = (2 * ny, 2 * nx) if boundary == "neumann" else (ny, nx)
        ky = 2 * np.pi * np.fft.fftfreq(my, d=dx)
        kx = 2 * np.pi * np.fft.rfftfreq(mx, d=dx)
        q2 = ky[:, None] ** 2 + kx[None, :] ** 2
        self.ext_shape = (my, mx)
        self.minus_q2 = torch.as_tensor(-q2, device=device, dtype=dtype)

    def _extend(self, u):
        import torch

        if self.boundary != "neumann":
            return u
        u = torch.cat([u, torch.flip(u, dims=(-2,))], dim=-2)
        return torch.cat([u, torch.flip(u, dims=(-1,))], dim=-1)

    def apply(self, u, power: int = 1):
        """Lap^power u, same shape as ``u``."""
        import torch

        ny, nx = self.shape
        spec = torch.fft.rfft2(self._extend(u))
        spec = spec * self.minus_q2 ** power
        out = torch.fft.irfft2(spec, s=self.ext_shape)
        return out[..., :ny, :nx]

    def apply_many(self, fields, powers):
        """[Lap^p f for f, p in zip(fields, powers)] with one batched transform."""
        import torch

        ny, nx = self.shape
        stack = torch.stack([self._extend(f) for f in fields])
        spec = torch.fft.rfft2(stack)
        mults = torch.stack([self.minus_q2 ** p for p in powers])
        spec = spec * mults.reshape((len(powers),) + (1,) * (stack.ndim - 3) + mults.shape[-2:])
        out = torch.fft.irfft2(spec, s=self.ext_shape)[..., :ny, :nx]
        return list(out.unbind(0))


def features(u, lap: SpectralLaplacian, model: str):
    """The three right-hand-side features F_j(u) (see module docstring)."""
    f0p = 2 * u * (1 - u) * (1 - 2 * u)
    hp = 6 * u * (1 - u)
    if model == "allen-cahn":
        return [lap.apply(u), -f0p, -hp]
    l2u, lf, lh = lap.apply_many([u, f0p, hp], [2, 1, 1])
    return [-l2u, lf, lh]


def trapezoid_design(u, lap, model, steps):
    """Increments D_k = u_{k+1} - u_k and design G_jk = h_k/2 (F_j(u_k) + F_j(u_{k+1})).

    ``steps``: tensor (T-1,) of frame intervals h_k. Returns (D (T-1, ny, nx), G (3, T-1, ny, nx)).
    """
    import torch

    feats = features(u, lap, model)
    h = steps.reshape(-1, 1, 1)
    G = torch.stack([0.5 * h * (f[1:] + f[:-1]) for f in feats])
    return u[1:] - u[:-1], G


def normal_equations(D, G, mask):
    """Per-transition normal equations: XtX (T-1, 3, 3) and Xty (T-1, 3) over ``mask``."""
    import torch

    n, K = G.shape[0], G.shape[1]
    Gm = (G * mask).reshape(n, K, -1).permute(1, 0, 2)  # (K, 3, P)
    XtX = torch.bmm(Gm, G.reshape(n, K, -1).permute(1, 2, 0))
    Xty = torch.bmm(Gm, D.reshape(K, -1, 1))[..., 0]
    return XtX, Xty


def solve_theta(XtX, Xty, weights, positive=(0, 1), ridge: float = 1e-10):
    """Weighted least squares theta = argmin sum_k w_k |D_k - theta . G_k|^2 (numpy float64).

    Components listed in ``positive`` (M kappa, M W) are kept > 0: when the free solution
    violates that, those components are pinned to a tiny positive floor and the others
    re-solved. Returns (theta, A, b) with A, b the summed normal equations.
    """
    A = np.einsum("k,kji->ji", weights, XtX)
    b = np.einsum("k,kj->j", weights, Xty)
    n = A.shape[0]
    scale = np.sqrt(np.clip(np.diag(A), 1e-300, None))
    An = A / scale[:, None] / scale[None, :] + ridge * np.eye(n)
    bn = b / scale
    free = list(range(n))
    theta = np.zeros(n)
    for _ in range(n):
        sub = np.linalg.lstsq(An[np.ix_(free, free)], bn[free], rcond=None)[0]
        theta[:] = 0.0
        theta[free] = sub
        bad = [j for j in positive if j in free and theta[j] <= 0]
        if not bad:
            break
        free = [j for j in free if j not in bad]
    theta = theta / scale
    floor = 1e-9
    for j in positive:
        if theta[j] <= 0:
            theta[j] = floor
    return theta, A, b


def _phi_functions(z):
    """exp(z), phi1(z) = (e^z - 1)/z, phi2(z) = (e^z - 1 - z)/z^2, differentiable, safe near 0."""
    import torch

    small = z.abs() < 1e-2
    zs = torch.where(small, torch.ones_like(z), z)
    em1 = torch.expm1(zs)
    phi1 = torch.where(small, 1 + z / 2 + z * z / 6 + z ** 3 / 24, em1 / zs)
    phi2 = torch.where(small, 0.5 + z / 6 + z * z / 24 + z ** 3 / 120, (em1 - zs) / (zs * zs))
    return torch.exp(z), phi1, phi2


class Propagator:
    """Differentiable ETDRK2 (Cox & Matthews 2002) integrator of Allen-Cahn / Cahn-Hilliard on
    the coarse grid, in the identifiable parameters theta = (M kappa, M W, M dG).

    Stabilised splitting: the linear operator includes the well curvature f''(0) = 2W,
    L = -M kappa q^2 - 2 M W (AC) or -M kappa q^4 - 2 M W q^2 (CH), and the rest of f'
    is the explicit part, so steps of a few tenths of the relaxation time stay accurate.
    ``boundary``: 'neumann' (mirror extension) or 'periodic'.
    """

    def __init__(self, shape, dx: float, model: str, boundary: str = "neumann", device=None, dtype=None):
        self.lap = SpectralLaplacian(shape, dx, boundary=boundary, device=device, dtype=dtype)
        self.q2 = -self.lap.minus_q2
        self.model = model
        self.shape = tuple(shape)

    def run(self, u0, theta, h: float, n_intervals: int, n_sub: int):
        """Fields at 0, h, ..., n_intervals h from ``u0`` (S, ny, nx): (S, n_intervals + 1, ny, nx)."""
        import torch

        lap = self.lap
        mk, mw, mg = theta[0], theta[1], theta[2]
        q2 = self.q2
        if self.model == "allen-cahn":
            lin = -mk * q2 - 2 * mw
            nl_factor = -torch.ones_like(q2)
        else:
            lin = -mk * q2 * q2 - 2 * mw * q2
            nl_factor = -q2
        dt = h / n_sub
        E, P1, P2 = _phi_functions(lin * dt)
        P1 = P1 * dt * nl_factor
        P2 = P2 * dt * nl_factor
        ny, nx = self.shape

        def nonlinear_hat(u):
            f = mw * 2 * u * (1 - u) * (1 - 2 * u) + mg * 6 * u * (1 - u) - 2 * mw * u
            return torch.fft.rfft2(lap._extend(f))

        def back(v_hat):
            return torch.fft.irfft2(v_hat, s=lap.ext_shape)[..., :ny, :nx]

        u = u0
        u_hat = torch.fft.rfft2(lap._extend(u))
        out = [u]
        for _ in range(n_intervals):
            u, u_hat = etdrk2_steps(u, u_hat, n_sub, E, P1, P2, nonlinear_hat, back)
            out.append(u)
        return torch.stack(out, dim=1)
