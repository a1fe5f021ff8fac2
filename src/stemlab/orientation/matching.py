"""The matching engine: every template x every in-plane angle x mirror, on torch (CPU or GPU).

For a batch of patterns with normalised angular harmonics P_k(r) (see :mod:`.polar`) and
templates T_k(r), the normalised correlation at in-plane angle phi is

    NCC(phi) = Re sum_k C_k exp(i k phi),   C_k = sum_r P_k(r) conj(T_k(r))   (template turned by phi)
    NCCm(phi) = Re sum_k M_k exp(i k phi),  M_k = sum_r P_k(r) T_k(r)         (mirrored template)

The coarse stage gets C_k and M_k of the first K1 harmonics for every template from one real
matrix product per harmonic and block of templates: [Re P; Im P] (2B x R) @ [Re T, Im T]
(R x 2n) gives the four real products from which C = (PrTr + PiTi) + i (PiTr - PrTi) and
M = (PrTr - PiTi) + i (PiTr + PrTi). sum_k |C_k| bounds max_phi NCC exactly; only the
``n_candidates`` best templates per phase by that bound get all K harmonics (each pattern its
own shortlist, gathered) and go through the inverse FFT over k (all angles at once) and a
parabolic sub-bin refinement of the angle. Blocks keep every temporary to a few MB: large
ones cost a page fault per 4 kB each time they are allocated.
A pattern is *certified* when its best score beats the bound of every
template not evaluated, i.e. the result equals the exhaustive search.

Orientation of a match (crystal->lab, v_lab = R @ v_crystal; orix: ``Orientation.from_matrix(R.T)``):
R = Rz(phi) @ R_t, or R = Rz(phi) @ diag(-1, 1, -1) @ R_t for the mirror branch (exact for
kinematic patterns by Friedel's law: the mirrored pattern of R_t is the pattern of that R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..crystal.rotations import rotation_about_z_torch
from ..diffraction.centre import beam_centres_torch
from ..errors import CalibrationError, ParameterError
from .library import TemplateLibrary
from .filters import gaussian_blur
from .polar import PolarGrid, pattern_harmonics, polar_coordinates, polar_sample, template_harmonics
from .refine import SEARCH_MARGIN_DEG

MIRROR = np.diag([-1.0, 1.0, -1.0])
TINY = 1e-30  # floor of the patterns' intensities before the gamma (counts; 1e-30 ** 0.5 is 1e-15)
RESCORED_PER_PHASE = 4  # distinct candidates per phase rescored on the full detector (with n_refine > 0)


@dataclass
class MatchSettings:
    """How patterns are prepared and searched.

    ``calibration``: reciprocal pixel size, 1/angstrom per detector pixel. ``gamma``: intensity
    transform applied to patterns and template spot intensities alike. ``sigma_px``: template
    spot width (px) - about the width of the data's spots after the gamma transform.
    ``r_min``/``r_max``: annulus used (px; None = automatic: inside the first reflection ring
    / the inscribed circle of the detector). ``n_theta``: angular samples = in-plane angle
    bins before sub-bin refinement (180: 2 deg bins; the parabolic sub-bin fit and the refinement
    make the angle continuous, and 360 gave the same share within 2 deg for 10 % more CPU time).
    ``n_harmonics``: angular harmonics kept. ``centre``:
    'auto' (fit the direct beam of every pattern) or 'fixed' (the detector axes' k = 0).
    ``background``: 'none' (ring means are always removed) or 'tophat' (subtract a local
    background estimated by a wide Gaussian). ``n_candidates``: templates per phase given the
    exact angular search. ``reliability_deg``: solutions closer than this are equivalent.
    ``n_refine``: of the best distinct candidates per phase (at least 4), rescored on the full
    detector, this many of the best (whatever their phase) are refined continuously over all
    three rotation parameters (:mod:`.refine`); 0 keeps the discrete library result (faster,
    less accurate).
    """

    calibration: float
    gamma: float = 0.5
    sigma_px: float = 1.5
    r_min: float | None = None
    r_max: float | None = None
    dr: float = 1.0
    n_theta: int = 180
    n_harmonics: int = 40
    centre: str = "auto"
    centre_radius_px: float = 4.0
    background: str = "none"
    n_candidates: int = 16
    reliability_deg: float = 5.0
    n_coarse_harmonics: int = 12
    n_refine: int = 2

    def check(self):
        if not self.calibration or not self.calibration > 0:
            raise CalibrationError("calibration: give the reciprocal pixel size, e.g. 0.0165 (1/angstrom per px).")
        if not 0.05 <= self.gamma <= 2:
            raise ParameterError(f"gamma={self.gamma}: use 0.05 .. 2 (0.5 is typical).")
        if self.centre not in ("auto", "fixed"):
            raise ParameterError(f"centre={self.centre!r}: use 'auto' or 'fixed'.")
        if self.background not in ("none", "tophat"):
            raise ParameterError(f"background={self.background!r}: use 'none' or 'tophat'.")
        if self.n_refine < 0:
            raise ParameterError(f"n_refine={self.n_refine}: use 0 (no refinement) or more candidates per phase.")


class Matcher:
    """Templates of a library prepared for one detector geometry and device; call :meth:`match`."""

    def __init__(self, library: TemplateLibrary, settings: MatchSettings, pattern_shape, device="cpu",
                 nominal_centre=None):
        import torch

        from ..backend.device import resolve_device

        settings.check()
        self.library = library
        self.settings = settings
        self.pattern_shape = tuple(int(v) for v in pattern_shape)
        self.device = resolve_device(device)
        H, W = self.pattern_shape
        self.nominal_centre = (np.array(nominal_centre, float) if nominal_centre is not None
                               else np.array([H // 2, W // 2], float))
        cal = settings.calibration
        g_min = _smallest_g(library)
        r_min = settings.r_min if settings.r_min is not None else max(4.0, 0.5 * g_min / cal)
        r_max_auto = min(H, W) / 2.0 - 2.0 - float(np.max(np.abs(self.nominal_centre - [(H - 1) / 2, (W - 1) / 2])))
        r_max = settings.r_max if settings.r_max is not None else min(r_max_auto, library.params.get("g_max", 9) / cal)
        if r_max <= r_min + 2:
            raise CalibrationError(
                f"With calibration {cal:g} 1/angstrom per px the first reflections lie at {g_min / cal:.1f} px, "
                f"outside the usable detector radius {r_max:.0f} px: check the calibration (1/angstrom per px).")
        self.grid = PolarGrid(r_min, r_max, settings.dr, settings.n_theta, settings.n_harmonics)
        self.k1 = min(settings.n_coarse_harmonics, settings.n_harmonics)
        self.batch = 64 if self.device.type == 'cpu' else 1024
        self.exact_chunk = 8 if self.device.type == 'cpu' else 128  # patterns per exact-stage gather
        self.T, self.T_exact, self.T_high = _template_tensors(library, self.grid, settings, self.k1, self.device)
        self.n_templates = self.T_high.shape[0]
        self.rotations = torch.as_tensor(library.rotations, dtype=torch.float64, device=self.device)
        self.phase_index = torch.as_tensor(library.phase_index, device=self.device)
        self.slices = [library.phase_slice(p) for p in range(len(library.phases))]
        # each phase's proper rotations S as columns (9, n): flattened A^T B @ columns = tr(A^T B S)
        self.symmetry_columns = [torch.as_tensor(ph.proper_laue_rotations, dtype=torch.float32, device=self.device)
                                 .transpose(1, 2).reshape(-1, 9).T.contiguous() for ph in library.phases]
        self._fixed_coordinates = None
        self.refiner = None
        if settings.n_refine > 0:
            from .refine import SpotRefiner

            self.refiner = SpotRefiner(library, settings, self.pattern_shape, self.grid, self.device)

    # -- preparation -------------------------------------------------------------------------
    def prepare(self, patterns):
        """(B, H, W) array/tensor -> float tensor on the device, gamma-transformed, and centres (B, 2)."""
        import torch

        from ..backend.device import to_device

        x = to_device(patterns, self.device, torch.float32)
        if x.ndim == 2:
            x = x[None]
        # clamped at a tiny positive value, not 0: torch's CPU pow/sqrt take a ~6x slower path on zeros
        x = torch.clamp(x, min=TINY)
        if self.settings.centre == "auto":
            centres = beam_centres_torch(x, self.nominal_centre, self.settings.centre_radius_px)
        else:
            centres = torch.as_tensor(self.nominal_centre, dtype=torch.float32, device=x.device).expand(len(x), 2)
        if self.settings.background == "tophat":
            x = torch.clamp(x - gaussian_blur(x, 4 * self.settings.sigma_px + 2), min=TINY)
        return x.pow_(self.settings.gamma), centres  # x is a fresh tensor here

    def harmonics(self, patterns, return_image: bool = False):
        """Normalised pattern harmonics (B, K, R), norms (B,) and centres (B, 2)."""
        x, centres = self.prepare(patterns)
        if self.settings.centre == "fixed":  # the same sampling grid for every batch
            if self._fixed_coordinates is None:
                self._fixed_coordinates = polar_coordinates(centres[:1], self.grid, self.pattern_shape)
            coords = self._fixed_coordinates.expand((len(x),) + self._fixed_coordinates.shape[1:])
        else:
            coords = polar_coordinates(centres, self.grid, self.pattern_shape)
        polar = polar_sample(x, coords)
        P, norm = pattern_harmonics(polar, self.grid)
        if return_image:
            return P, norm, centres, x
        return P, norm, centres

    # -- search ------------------------------------------------------------------------------
    def coarse_bounds(self, P):
        """sum_k |C_k| and sum_k |M_k| over the first K1 harmonics (B, 2N) of the patterns' harmonics
        P (B, K, R) with every template (direct, then mirror), one block of templates at a time."""
        import torch

        B = P.shape[0]
        N = self.n_templates
        X = torch.cat([P[:, :self.k1].real, P[:, :self.k1].imag], dim=0).transpose(0, 1).contiguous()  # (K1, 2B, R)
        out = torch.empty((B, 2 * N), dtype=X.dtype, device=X.device)
        for start in range(0, N, TEMPLATE_BLOCK):
            n = min(TEMPLATE_BLOCK, N - start)
            Y = torch.bmm(X, self.T[:, :, 2 * start:2 * (start + n)])  # (K1, 2B, 2n): [Re | Im] of the block
            X1, X4 = Y[:, :B, :n], Y[:, :B, n:]
            X3, X2 = Y[:, B:, :n], Y[:, B:, n:]
            # |z| as sqrt(re^2 + im^2): half the CPU time of torch.hypot here
            out[:, start:start + n] = _modulus(X1 + X2, X3 - X4).sum(0)
            out[:, N + start:N + start + n] = _modulus(X1 - X2, X3 + X4).sum(0)
        return out

    def match(self, patterns, n_top: int = 0) -> dict:
        """Index a batch (B, H, W): dict of per-pattern numpy arrays (see :func:`index_orientations`)."""
        import torch

        n = len(patterns) if np.ndim(patterns) == 3 else 1
        if n > self.batch:
            parts = [self.match(patterns[i:i + self.batch], n_top) for i in range(0, n, self.batch)]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        with torch.no_grad():
            P, norm, centres, x = self.harmonics(patterns, return_image=True)
            return self._search(P, norm, centres, n_top, x)

    def _search(self, P, norm, centres, n_top, x=None):
        import torch

        B = P.shape[0]
        dev = P.device
        N = self.n_templates
        # coarse stage: all templates, harmonics 1..K1; sum_k |C_k| ranks them
        coarse = self.coarse_bounds(P)  # (B, 2N)
        # exact upper bound of the full score: coarse bound + |P_high| |T_high| (Cauchy-Schwarz)
        p_high = torch.sqrt((P[:, self.k1:].abs() ** 2).sum(dim=(1, 2)))  # (B,)
        cand_t, cand_m, cand_p = [], [], []
        rest_bound = torch.full((B,), -1.0, device=dev)
        for p, sl in enumerate(self.slices):
            n_p = sl.stop - sl.start
            if n_p == 0:
                continue
            b = torch.cat([coarse[:, sl], coarse[:, N + sl.start:N + sl.stop]], dim=1)
            m = min(self.settings.n_candidates, 2 * n_p)
            vals, idx = torch.topk(b, m, dim=1)
            if 2 * n_p > m:
                full_bound = b + p_high[:, None] * self.T_high[sl].repeat(2)[None, :]
                full_bound.scatter_(1, idx, -1.0)
                rest_bound = torch.maximum(rest_bound, full_bound.max(1).values)
            cand_t.append(sl.start + idx % n_p)
            cand_m.append(idx >= n_p)
            cand_p.append(torch.full_like(idx, p))
        t = torch.cat(cand_t, 1)  # (B, M)
        mir = torch.cat(cand_m, 1)
        ph = torch.cat(cand_p, 1)
        # exact stage: every harmonic of each pattern's own shortlist, from gathered templates
        # (conjugated, or not for the mirror branch), a few patterns at a time
        table_rows, c = t + N * mir, self.exact_chunk
        spec = torch.cat([(self.T_exact[table_rows[i:i + c]] * P[i:i + c, None]).sum(-1)
                          for i in range(0, B, c)])  # (B, M, K)
        angle, score = refine_angle(spec, self.settings.n_theta)
        score = torch.where(norm[:, None] > 0, score, torch.zeros_like(score))
        rot = self.candidate_rotations(t, mir, angle)  # (B, M, 3, 3)
        certified = score.max(1).values >= rest_bound
        if self.refiner is not None and x is not None:
            sel = self._distinct_candidates(score, rot, ph, max(self.settings.n_refine, RESCORED_PER_PHASE))  # (B, C)
            t, mir, ph, angle, rot = (_take(v, sel) for v in (t, mir, ph, angle, rot))
            rot, score = self._rescore_and_refine(x, centres, rot.float(), ph)
            score = torch.where(norm[:, None] > 0, torch.clamp(score, -1, 1), torch.zeros_like(score))
        # -- best solution, phase and orientation reliabilities ---------------------------
        best = torch.argmax(score, dim=1)
        ar = torch.arange(B, device=dev)
        q1 = score[ar, best]
        best_phase = ph[ar, best]
        other = torch.where(ph != best_phase[:, None], score, torch.full_like(score, -2.0)).max(1).values
        if len(self.slices) > 1:
            phase_rel = 100 * (1 - torch.clamp(other, min=0) / torch.clamp(q1, min=1e-12))
        else:
            phase_rel = torch.full_like(q1, 100.0)
        rbest = rot[ar, best]  # (B, 3, 3)
        dis = self.pair_disorientation(rot, ph, rbest)[:, 0]
        same_phase = ph == best_phase[:, None]
        distinct = same_phase & (dis > self.settings.reliability_deg)
        q2 = torch.where(distinct, score, torch.full_like(score, -2.0)).max(1).values
        orient_rel = 100 * (1 - torch.clamp(q2, min=0) / torch.clamp(q1, min=1e-12))
        orient_rel = torch.where(q1 > 0, torch.clamp(orient_rel, 0, 100), torch.zeros_like(orient_rel))
        phase_rel = torch.where(q1 > 0, torch.clamp(phase_rel, 0, 100), torch.zeros_like(phase_rel))
        out = {
            "phase": best_phase.to(torch.int16),
            "template": t[ar, best].to(torch.int32),
            "mirror": mir[ar, best].to(torch.int8),
            "angle": angle[ar, best].float(),
            "score": q1.float(),
            "orientation_reliability": orient_rel.float(),
            "phase_reliability": phase_rel.float(),
            "rotation": rbest.reshape(B, 9).float(),
            "centre": centres.float(),
            "certified": certified.to(torch.int8),
        }
        if n_top:
            order = torch.argsort(score, dim=1, descending=True)[:, :n_top]
            out.update(top_rotation=_take(rot, order).reshape(B, -1, 9).float(),
                       top_template=t.gather(1, order).to(torch.int32), top_mirror=mir.gather(1, order).to(torch.int8),
                       top_angle=angle.gather(1, order).float(), top_score=score.gather(1, order).float(),
                       top_phase=ph.gather(1, order).to(torch.int16))
        return {k: v.cpu().numpy() for k, v in out.items()}

    def _distinct_candidates(self, score, rot, ph, n_keep: int):
        """Per phase, the columns (B, C) of the ``n_keep`` best candidates that are mutually more than
        ``reliability_deg`` apart (greedy non-maximum suppression among the 2 n_keep best)."""
        import torch

        keep = []
        for p in range(len(self.slices)):
            cols = torch.nonzero(ph[0] == p).flatten()
            if len(cols) == 0:
                continue
            top = cols[torch.topk(score[:, cols], min(2 * n_keep, len(cols)), dim=1).indices]  # (B, T), best first
            D = self.pair_disorientation(_take(rot, top), _take(ph, top))
            suppressed = torch.zeros_like(top, dtype=torch.bool)
            for i in range(top.shape[1]):
                near = (D[:, i] < self.settings.reliability_deg) & ~suppressed[:, i:i + 1]
                near[:, :i + 1] = False
                suppressed |= near
            rank = torch.arange(top.shape[1], 0, -1, device=top.device).expand(top.shape)
            first = torch.topk(torch.where(suppressed, rank - top.shape[1], rank), min(n_keep, top.shape[1]), dim=1)
            keep.append(top.gather(1, first.indices))
        return torch.cat(keep, 1)

    def _rescore_and_refine(self, x, centres, rot, ph):
        """Full-detector scores of candidates rot (B, C, 3, 3) float32 of phases ph (B, C); the
        ``n_refine`` best (of any phase) refined. Returns rotations (float64) and scores (B, C)."""
        import torch

        q = self.refiner.filtered(x, centres)
        g, inten = self.refiner.select(rot, ph.long(), SEARCH_MARGIN_DEG)
        score = self.refiner.score(q, centres, rot[:, :, None], g, inten)[..., 0]
        best = torch.topk(score, min(self.settings.n_refine, score.shape[1]), dim=1).indices
        rot_b, score_b = self.refiner.refine(q, centres, _take(rot, best), _take(ph, best).long(),
                                             reflections=(_take(g, best), _take(inten, best)),
                                             scores=_take(score, best))
        rot = rot.scatter(1, best[..., None, None].expand(best.shape + (3, 3)), rot_b)
        return rot.to(torch.float64), score.scatter(1, best, score_b)

    def pair_disorientation(self, rot, ph, ref=None):
        """Symmetry-aware angles (degrees) between candidates rot (B, M, 3, 3) of phases ph (B, M):
        (B, M, M) between all pairs, or (B, 1, M) to ``ref`` (B, 3, 3) with each candidate's own
        symmetry. Pairs of different phases get 180. Single precision: these angles are only
        compared with thresholds of degrees."""
        import torch

        rot = rot.float()
        A = rot if ref is None else ref.float()[:, None]
        AtB = torch.einsum("bnji,bmjk->bnmik", A, rot).flatten(-2)  # A^T B, (B, n, M, 9)
        trace = torch.full(AtB.shape[:3], -1.0, dtype=AtB.dtype, device=rot.device)  # -1: 180 deg
        for p, columns in enumerate(self.symmetry_columns):
            same = (ph[:, :, None] == p) & (ph[:, None, :] == p) if ref is None else (ph == p)[:, None, :]
            trace = torch.where(same, (AtB @ columns).max(-1).values, trace)  # max over S of tr(A^T B S)
        return torch.rad2deg(torch.arccos(torch.clamp((trace - 1) / 2, -1, 1)))

    def candidate_rotations(self, t, mirror, angle_deg):
        """Crystal->lab rotations (…, 3, 3) float64 of templates ``t`` at in-plane ``angle_deg``."""
        import torch

        Rt = self.rotations[t]
        M = torch.as_tensor(MIRROR, dtype=Rt.dtype, device=Rt.device)
        Rt = torch.where(mirror[..., None, None], M @ Rt, Rt)
        return rotation_about_z_torch(torch.deg2rad(angle_deg.to(Rt.dtype))) @ Rt

    # -- one pattern, for the GUI ------------------------------------------------------------
    def candidates(self, pattern, n: int = 5) -> list[dict]:
        """The ``n`` best solutions for one pattern: phase, template, mirror, angle, score, rotation."""
        res = self.match(np.asarray(pattern)[None], n_top=max(n, 1))
        out = []
        for j in range(res["top_template"].shape[1]):
            t = int(res["top_template"][0, j])
            mirror = bool(res["top_mirror"][0, j])
            angle = float(res["top_angle"][0, j])
            p = int(res["top_phase"][0, j])
            out.append({"phase": p, "phase_name": self.library.phases[p].name, "template": t, "mirror": mirror,
                        "angle": angle, "score": float(res["top_score"][0, j]),
                        "direction": self.library.directions[t].copy(),
                        "rotation": res["top_rotation"][0, j].reshape(3, 3).astype(np.float64),
                        "centre": res["centre"][0].copy()})
        return out

    def orientation_spots(self, phase: int, rotation, centre, min_relative: float = 0.01) -> dict:
        """Kinematic spots of crystal->lab ``rotation`` of ``phase`` on the detector (library's relrod
        width and precession): rows, cols (px), hkl (n, 3), intensity."""
        from ..crystal.reflections import diffraction_spots, reflections

        p = self.library.params
        H, W = self.pattern_shape
        cal = self.settings.calibration
        refl = reflections(self.library.phases[int(phase)].structure, float(np.hypot(H, W)) / 2 * cal + 0.05)
        sp = diffraction_spots(refl, np.asarray(rotation, float), float(p.get("voltage_kv", 200.0)),
                               s_width=float(p.get("s_width", 0.02)), precession_deg=float(p.get("precession_deg", 0.0)),
                               min_intensity=min_relative)
        rows = centre[0] + sp.ky / cal
        cols = centre[1] + sp.kx / cal
        keep = (rows >= 0) & (rows <= H - 1) & (cols >= 0) & (cols <= W - 1)
        return {"rows": rows[keep], "cols": cols[keep], "hkl": sp.hkl[keep], "intensity": sp.intensity[keep]}



def _modulus(re, im):
    """sqrt(re^2 + im^2) of fresh tensors (``re`` is overwritten)."""
    return re.mul_(re).addcmul_(im, im).sqrt_()


def _take(values, columns):
    """values (B, M, ...) at columns (B, C) of each row -> (B, C, ...)."""
    index = columns.reshape(columns.shape + (1,) * (values.ndim - 2)).expand(columns.shape + values.shape[2:])
    return values.gather(1, index)


def refine_angle(spec, n_phi: int):
    """Best in-plane angle (degrees, sub-bin) and NCC at it, for harmonics (…, K) complex."""
    import torch

    K = spec.shape[-1]
    full = torch.cat([torch.zeros_like(spec[..., :1]), spec], dim=-1)
    c = torch.fft.irfft(full, n=n_phi, dim=-1) * (n_phi / 2.0)  # NCC on the grid
    j = torch.argmax(c, dim=-1, keepdim=True)
    c0 = c.gather(-1, j)
    cm = c.gather(-1, (j - 1) % n_phi)
    cp = c.gather(-1, (j + 1) % n_phi)
    den = cm - 2 * c0 + cp
    delta = torch.where(den < 0, 0.5 * (cm - cp) / den, torch.zeros_like(den)).clamp(-0.5, 0.5)
    phi = (j.to(c.dtype) + delta)[..., 0] * (2 * math.pi / n_phi)
    k = torch.arange(1, K + 1, device=spec.device, dtype=c.dtype)
    ph = phi[..., None] * k
    score = (spec.real * torch.cos(ph) - spec.imag * torch.sin(ph)).sum(-1)
    score = torch.maximum(score, c0[..., 0])
    return torch.rad2deg(phi) % 360.0, score


_TEMPLATES: dict = {}  # the last library's template tensors: a preview and the run that follows share them


TEMPLATE_BLOCK = 512  # templates per coarse-stage matrix product


def _template_tensors(library: TemplateLibrary, grid: PolarGrid, settings: MatchSettings, k1: int, device):
    """The library's template harmonics T (K, R, N) as the coarse stage's [Re T | Im T] of its first
    K1 harmonics, block by block of TEMPLATE_BLOCK templates (K1, R, 2N), the exact stage's
    [conj T; T] (2N, K, R) (direct and mirror branch: one gather) and the norms (N,) of the
    harmonics above ``k1``; kept for the next Matcher of the same library, grid and settings."""
    import torch

    key = (library.token, grid, settings.calibration, settings.sigma_px, settings.gamma, k1, str(device))
    if key not in _TEMPLATES:
        amp = np.where(library.intensity > 0, np.power(np.maximum(library.intensity, 0), settings.gamma), 0.0)
        T = template_harmonics(library.kx, library.ky, amp, grid, settings.calibration, settings.sigma_px,
                               device=device, dtype=torch.float32)  # (K, R, N)
        blocks = [torch.cat([b.real, b.imag], dim=-1) for b in torch.split(T[:k1], TEMPLATE_BLOCK, dim=-1)]
        per_template = T.permute(2, 0, 1)  # (N, K, R)
        _TEMPLATES.clear()
        _TEMPLATES[key] = (torch.cat(blocks, dim=-1).contiguous(),
                           torch.cat([per_template.conj(), per_template]).resolve_conj().contiguous(),
                           torch.sqrt((T[k1:].abs() ** 2).sum(dim=(0, 1))))
    return _TEMPLATES[key]


def _smallest_g(library: TemplateLibrary) -> float:
    g = np.hypot(library.kx, library.ky)
    g = g[(library.intensity > 0) & (g > 1e-6)]
    return float(g.min()) if g.size else 1.0
