"""Continuous orientation refinement of matching candidates on the full detector (torch).

The discrete search (:mod:`.matching`) finds, for each pattern, a handful of candidate
orientations on the library grid (beam directions ~``resolution`` apart, in-plane angle from
the FFT). Each candidate is then refined over all three rotation parameters by scoring the
*exact* kinematic template of the trial orientation against the pattern:

* pattern side (once per pattern): the gamma-transformed pattern is band-pass filtered by a
  difference of Gaussians (matched to the spot width; removes the direct-beam tails, the diffuse
  halo and any slowly varying background), masked to r >= r_min (no direct beam) and
  normalised to unit norm. The whole detector is used, corners included (the polar search only
  sees the inscribed circle).
* template side (per trial orientation R): every reflection g of the phase (|g| up to the
  detector corner) at lab position R g, excitation error s = -(R g)_z - lambda |g|^2 / 2,
  amplitude a = (|F|^2 S(s))^gamma with the library's relrod width / precession. The score is
  sum_j a_j Q(x_j) / sqrt(sum_j a_j^2): the correlation of the filtered pattern with the
  template of Gaussian spots (the filtered pattern already is the spot profile convolved with
  the matched filter, so sampling it at the spot centres is the inner product), normalised by
  the template norm (well-separated spots). Templates with many weak spots are neither
  favoured nor penalised; the pattern norm is the same for every candidate and phase.
* search: a pattern search in the rotation vector (lab frame, left perturbation
  R <- exp([w]x) R): centre and +-delta along lab x, y (tilts) and z (in-plane), a parabola
  per axis, delta shrinking geometrically from ~the library spacing to ~0.1 deg in 4 steps.
  Everything is batched over patterns x candidates x trial rotations x reflections in one
  tensor per step.

Rotation convention as everywhere: crystal->lab R, v_lab = R @ v_crystal.
"""

from __future__ import annotations

import math

import numpy as np

from ..crystal.reflections import reflections
from ..crystal.rotations import rotation_vector_matrix_torch
from ..units import electron_wavelength
from .filters import gaussian_blur, wide_gaussian_blur


# pattern-search steps (degrees): from about the library spacing down to 0.1 deg (4 steps: 82.3 % within
# 2 deg on bench_orientation.py's zone-axis scan against 82.5 % with 5 steps down to 0.05 deg in
# session 7's engine, for 29 instead of 36 scored trials; 3 steps lost 1 point there); reflections are
# chosen once for the whole walk
REFINE_STEPS_DEG = np.geomspace(1.0, 0.1, 4)
SEARCH_MARGIN_DEG = float(REFINE_STEPS_DEG.sum()) * 1.5 + 0.5


class SpotRefiner:
    """Full-detector template scores and local refinement for one library + detector geometry."""

    def __init__(self, library, settings, pattern_shape, grid, device, n_keep: int = 64):
        import torch

        self.settings = settings
        self.device = device
        self.H, self.W = pattern_shape
        self.r_min = float(grid.r_min)
        p = library.params
        self.wavelength = electron_wavelength(float(p.get("voltage_kv", 200.0)))
        self.s_width = float(p.get("s_width", 0.02))
        self.precession = float(p.get("precession_deg", 0.0))
        self.n_keep = int(n_keep)
        cal = settings.calibration
        # reflections out to the detector corner (plus a spot width)
        corner = math.hypot(self.H, self.W) / 2 * cal + 0.05
        g_list, i_list = [], []
        for ph in library.phases:
            refl = reflections(ph.structure, corner, min_relative_intensity=float(p.get("min_relative_intensity", 1e-3)))
            g_list.append(refl.g)
            i_list.append(refl.intensity / refl.intensity.max())
        S = max(len(g) for g in g_list)
        G = np.zeros((len(g_list), S, 3))
        I = np.zeros((len(g_list), S))
        for k, (g, i) in enumerate(zip(g_list, i_list)):
            G[k, :len(g)], I[k, :len(i)] = g, i
        self.n_reflections = [len(g) for g in g_list]
        self.g = torch.as_tensor(G, dtype=torch.float32, device=device)  # (P, S, 3), zero-padded
        self.intensity = torch.as_tensor(I, dtype=torch.float32, device=device)  # (P, S)
        self.g_norm = torch.linalg.norm(self.g, dim=-1)  # (P, S)
        self.log_intensity = torch.log(torch.clamp(self.intensity, min=1e-30))  # padding ranks last
        if self.precession > 0:
            a = math.radians(self.precession)
            phi = torch.arange(16, dtype=torch.float32, device=device) * (2 * math.pi / 16)
            self.prec_dirs = torch.stack([math.sin(a) * torch.cos(phi), math.sin(a) * torch.sin(phi),
                                          torch.full_like(phi, math.cos(a))], 1)  # (n, 3)
        else:
            self.prec_dirs = None

    # -- pattern side ------------------------------------------------------------------------------
    def filtered(self, x, centres):
        """Band-passed, masked, unit-norm patterns (B, H, W) from gamma-transformed patterns."""
        import torch

        s = max(float(self.settings.sigma_px), 0.5)
        q = gaussian_blur(x, 0.7 * s) - (wide_gaussian_blur if 3.0 * s >= 3 else gaussian_blur)(x, 3.0 * s)
        # few passes over the images (each pass over a batch costs about as much as a blur's matrix product)
        rows = torch.arange(self.H, device=x.device, dtype=x.dtype)
        cols = torch.arange(self.W, device=x.device, dtype=x.dtype)
        dr2 = ((rows[None] - centres[:, :1]) ** 2)[:, :, None]  # (B, H, 1)
        dc2 = ((cols[None] - centres[:, 1:]) ** 2)[:, None, :]  # (B, 1, W)
        q.masked_fill_((dr2 + dc2) < self.r_min ** 2, 0.0)
        norm = torch.linalg.vector_norm(q, dim=(1, 2))
        return q.mul_((1.0 / torch.where(norm > 0, norm, torch.ones_like(norm)))[:, None, None])

    # -- template side -----------------------------------------------------------------------------
    def _amplitudes(self, g_lab, half, intensity_gamma):
        """(…, S) amplitudes (|F|^2 S(s))^gamma of lab-frame reflections g_lab (…, S, 3), given
        ``half`` = lambda |g|^2 / 2 and ``intensity_gamma`` = (|F|^2)^gamma, each (…, S)."""
        import torch

        # exponents clamped at -60 (exp = 1e-26, nothing): torch's exp is ~10x slower where it underflows
        w2 = 2 * self.s_width ** 2
        if self.prec_dirs is None:  # s = -g_z - half; S(s)^gamma = exp(-gamma s^2 / w2): one exp
            s = g_lab[..., 2] + half
            return intensity_gamma * torch.exp(torch.clamp((s * s) * (-self.settings.gamma / w2), min=-60.0))
        s = g_lab @ self.prec_dirs.T + half[..., None]
        shape = torch.exp(torch.clamp((s * s) * (-1 / w2), min=-60.0)).mean(-1)
        return intensity_gamma * shape ** self.settings.gamma

    def select(self, R, phase, margin_deg: float):
        """Per candidate, the ``n_keep`` reflections that can matter within ``margin_deg`` of R.

        R (B, C, 3, 3) float32, phase (B, C) long -> g (B, C, K, 3), intensity (B, C, K)."""
        import torch

        B, C = phase.shape
        K = min(self.n_keep, self.g.shape[1])
        g_out = torch.zeros((B, C, K, 3), dtype=self.g.dtype, device=self.g.device)
        i_out = torch.zeros((B, C, K), dtype=self.intensity.dtype, device=self.g.device)
        cal = self.settings.calibration
        slack = math.radians(margin_deg)
        if self.prec_dirs is not None:
            slack += math.sin(math.radians(self.precession))
        for p, n in enumerate(self.n_reflections):
            of_phase = phase == p
            if not bool(of_phase.any()):
                continue
            g, gn = self.g[p, :n], self.g_norm[p, :n]
            g_lab = (R[of_phase].reshape(-1, 3) @ g.T).reshape(-1, 3, n)  # (candidates of p, 3, S_p)
            # smallest |s| within the margin (and the precession cone): |s| - |g| (margin + sin(cone))
            s = torch.clamp((g_lab[:, 2] + 0.5 * self.wavelength * gn * gn).abs() - gn * slack, min=0)
            log_best = torch.addcmul(self.log_intensity[p, :n], s, s, value=-0.5 / self.s_width ** 2)  # log(I S(s))
            x, y = g_lab[:, 0], g_lab[:, 1]
            off = ((x * x + y * y < (max(self.r_min - 2, 0.0) * cal) ** 2) | (x.abs() >= (self.W / 2 + 2) * cal)
                   | (y.abs() >= (self.H / 2 + 2) * cal))
            idx = torch.topk(log_best.masked_fill_(off, -torch.inf), min(K, n), dim=-1).indices
            g_out[of_phase, :idx.shape[1]] = g[idx]
            i_out[of_phase, :idx.shape[1]] = self.intensity[p, idx]
        return g_out, i_out

    def score(self, q, centres, R, g, inten):
        """Scores (B, C, E) of trial rotations R (B, C, E, 3, 3) against filtered patterns q (B, H, W)."""
        import torch
        import torch.nn.functional as F

        B, C, E = R.shape[:3]
        g_lab = torch.einsum("bceij,bcsj->bcesi", R, g)  # (B, C, E, K, 3)
        half = (0.5 * self.wavelength) * (g * g).sum(-1)  # |R g| = |g|: once per reflection, not per trial
        a = self._amplitudes(g_lab, half[:, :, None], (inten ** self.settings.gamma)[:, :, None])
        cal = self.settings.calibration
        v = g_lab[..., 1] / cal
        u = g_lab[..., 0] / cal
        rows = centres[:, 0, None, None, None] + v
        cols = centres[:, 1, None, None, None] + u
        inside = ((rows >= 0) & (rows <= self.H - 1) & (cols >= 0) & (cols <= self.W - 1)
                  & (u * u + v * v >= self.r_min ** 2))
        a = torch.where(inside, a, torch.zeros_like(a))
        grid = torch.stack([cols * (2.0 / (self.W - 1)) - 1.0, rows * (2.0 / (self.H - 1)) - 1.0], -1)
        val = F.grid_sample(q[:, None], grid.reshape(B, 1, -1, 2), mode="bilinear", padding_mode="zeros",
                            align_corners=True).reshape(B, C, E, -1)
        num = (a * val).sum(-1)
        den = torch.sqrt((a * a).sum(-1))
        return num / torch.where(den > 0, den, torch.ones_like(den))

    # -- local search ------------------------------------------------------------------------------
    def refine(self, q, centres, R, phase, reflections=None, scores=None):
        """Refine candidate rotations R (B, C, 3, 3) of phases ``phase`` (B, C); ``reflections``:
        (g, intensity) from :meth:`select` with ``margin_deg=SEARCH_MARGIN_DEG`` (else selected here);
        ``scores``: their :meth:`score` at R if already known.

        Returns refined R (B, C, 3, 3) float32 and scores (B, C)."""
        import torch

        dt = torch.float32
        R = R.to(dt)
        g, inten = reflections if reflections is not None else self.select(R, phase, SEARCH_MARGIN_DEG)
        eye = torch.eye(3, dtype=dt, device=R.device)
        offsets = torch.cat([torch.zeros(1, 3, dtype=dt, device=R.device), eye, -eye])  # (7, 3)
        best_R = R
        best_f = scores if scores is not None else self.score(q, centres, R[:, :, None], g, inten)[..., 0]
        for delta in REFINE_STEPS_DEG:
            d = math.radians(float(delta))
            trial = rotation_vector_matrix_torch(offsets * d)  # (7, 3, 3)
            Rt = trial[None, None] @ R[:, :, None]  # (B, C, 7, 3, 3)
            f = self.score(q, centres, Rt, g, inten)  # (B, C, 7)
            f0, fp, fm = f[..., :1], f[..., 1:4], f[..., 4:7]
            curv = fp + fm - 2 * f0
            step = torch.where(curv < 0, 0.5 * (fm - fp) / torch.where(curv < 0, curv, -torch.ones_like(curv)),
                               torch.where(fp > fm, torch.ones_like(fp), -torch.ones_like(fp)))
            step = torch.clamp(step, -1.5, 1.5) * d
            # the best trial point so far (centre or one of the six)
            fmax, jmax = f.max(-1)
            better = fmax > best_f
            best_f = torch.where(better, fmax, best_f)
            Rj = torch.gather(Rt, 2, jmax[..., None, None, None].expand(Rt.shape[:2] + (1, 3, 3)))[:, :, 0]
            best_R = torch.where(better[..., None, None], Rj, best_R)
            R = rotation_vector_matrix_torch(step) @ R
        f = self.score(q, centres, R[:, :, None], g, inten)[..., 0]
        better = f > best_f
        return torch.where(better[..., None, None], R, best_R), torch.where(better, f, best_f)
