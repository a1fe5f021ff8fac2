"""Template library: kinematic spot patterns over the reduced fundamental zone of each phase.

Beam directions (in the crystal frame) are sampled at a given angular spacing over the
fundamental sector of the phase's *Laue group* (point group + inversion: kinematic patterns
obey Friedel's law). Directions related by a proper rotation of the group give patterns
related by an in-plane rotation (found by the search); directions related by an improper
operation give mirror-image patterns, found by the search's mirror branch. So the sector
is 1/48 of the sphere for m-3m (the standard triangle), 1/24 for 6/mmm.

Sampling: a Fibonacci sphere with nearest-neighbour spacing ~``resolution_deg`` reduced to
the Dirichlet cell {d : d.p0 >= d.(g p0) for all g} of a generic point p0 (for the reflection
groups m-3m and 6/mmm this is exactly the standard triangle), plus every low-index zone axis
[uvw] (|u|, |v|, |w| <= 3) of the sector, where most grains of real samples sit.

Each template stores its crystal->lab rotation ``R`` (v_lab = R @ v_crystal) that takes the
beam direction to +z with the smallest rotation (in-plane angle 0), and its spots (kx, ky in
1/angstrom, intensity |F|^2 S(s), hkl). Libraries are cached on disk keyed by a hash of every
parameter and the structure (``cache=``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cache import cache_dir
from ..errors import ParameterError
from ..crystal.directions import sector_directions
from ..crystal.phase import Phase, resolve_phase
from ..crystal.reflections import diffraction_spots, reflections
from ..crystal.rotations import beam_rotations

LIBRARY_VERSION = 2


@dataclass
class TemplateLibrary:
    """Templates of one or more phases; rows of every per-template array line up.

    ``phase_index`` (N,) int: phase of each template (no off-by-one at phase boundaries: one
    array says which phase a row belongs to); ``rotations`` (N, 3, 3) crystal->lab;
    ``directions`` (N, 3) beam direction in the crystal frame; ``kx, ky, intensity`` (N, S)
    padded with zero intensity; ``hkl`` (N, S, 3).
    """

    phases: list[Phase]
    phase_index: np.ndarray
    rotations: np.ndarray
    directions: np.ndarray
    kx: np.ndarray
    ky: np.ndarray
    intensity: np.ndarray
    hkl: np.ndarray
    params: dict = field(default_factory=dict)
    build_seconds: float = 0.0
    from_cache: bool = False

    def __len__(self) -> int:
        return len(self.phase_index)

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]

    def phase_slice(self, p: int) -> slice:
        rows = np.flatnonzero(self.phase_index == p)
        return slice(int(rows[0]), int(rows[-1]) + 1) if len(rows) else slice(0, 0)

    def counts(self) -> dict[str, int]:
        return {p.name: int(np.sum(self.phase_index == i)) for i, p in enumerate(self.phases)}

    def spots(self, i: int):
        """(kx, ky, intensity, hkl) of template ``i`` without padding."""
        keep = self.intensity[i] > 0
        return self.kx[i, keep], self.ky[i, keep], self.intensity[i, keep], self.hkl[i, keep]

    @property
    def token(self) -> str:
        return self.params.get("key", "")


# -- building -------------------------------------------------------------------------------
def _structure_fingerprint(phase: Phase) -> dict:
    st = phase.structure
    return {"name": phase.name, "cell": [st.a, st.b, st.c, st.alpha, st.beta, st.gamma],
            "sites": [[s.element, *np.round(s.xyz, 6).tolist(), s.occupancy, s.debye_waller] for s in st.sites],
            "pg": phase.point_group}


def build_library(phases, *, voltage_kv: float = 200.0, resolution_deg: float = 1.0, g_max: float = 1.5,
                  s_width: float = 0.02, precession_deg: float = 0.0, min_relative_intensity: float = 1e-3,
                  max_spots: int | None = None, cache=True, progress=None, cancel=None) -> TemplateLibrary:
    """Templates of ``phases`` (CIF paths, shipped names like 'Al', or :class:`Phase`).

    ``resolution_deg``: spacing of beam directions; ``g_max`` (1/angstrom): largest |g| kept;
    ``s_width`` (1/angstrom): Gaussian relrod width (thickness ~ 1/s_width); ``precession_deg``:
    precession semi-angle; spots weaker than ``min_relative_intensity`` x the strongest |F|^2
    of the phase are dropped (this also drops extinct reflections); ``max_spots`` keeps the
    strongest per template. ``cache``: True (the stemlab cache, :mod:`stemlab.cache`), a
    folder, or False.
    """
    from ..backend.progress import check, report

    phases = [resolve_phase(p) for p in (phases if isinstance(phases, (list, tuple)) else [phases])]
    if not phases:
        raise ParameterError("Give at least one phase (a CIF file or a shipped name such as 'Al').")
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ParameterError(f"Phase names must be unique, got {names}.")
    if not 0.05 <= resolution_deg <= 10:
        raise ParameterError(f"resolution_deg={resolution_deg}: use 0.05 .. 10 degrees (1 is typical).")
    params = {"version": LIBRARY_VERSION, "voltage_kv": float(voltage_kv), "resolution_deg": float(resolution_deg),
              "g_max": float(g_max), "s_width": float(s_width), "precession_deg": float(precession_deg),
              "min_relative_intensity": float(min_relative_intensity), "max_spots": max_spots,
              "phases": [_structure_fingerprint(p) for p in phases]}
    key = hashlib.sha256(json.dumps(params, sort_keys=True, default=float).encode()).hexdigest()[:20]
    params["key"] = key
    folder = None if cache is False or cache is None else (cache_dir("orientation-libraries") if cache is True else Path(cache))
    if folder is not None:
        cached = _load_cached(folder / f"{key}.npz", phases, params)
        if cached is not None:
            return cached
    t0 = time.perf_counter()
    parts = []
    report(progress, 0, len(phases), "template library")
    for p, phase in enumerate(phases):
        check(cancel)
        dirs = sector_directions(phase, resolution_deg)
        R = beam_rotations(dirs)
        refl = reflections(phase.structure, g_max, min_relative_intensity=min_relative_intensity)
        kx, ky, inten, idx = [], [], [], []
        threshold = min_relative_intensity * refl.intensity.max()
        for start in range(0, len(R), 512):
            check(cancel)
            sp = diffraction_spots(refl, R[start:start + 512], voltage_kv, s_width=s_width,
                                   precession_deg=precession_deg)
            inside = np.hypot(sp.kx, sp.ky) <= g_max
            I = np.where(inside & (sp.intensity > threshold), sp.intensity, 0.0)
            order = np.argsort(-I, axis=1)
            n_keep = int((I > 0).sum(axis=1).max()) if I.size else 0
            if max_spots:
                n_keep = min(n_keep, max_spots)
            order = order[:, :max(n_keep, 1)]
            take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
            kx.append(take(sp.kx)), ky.append(take(sp.ky)), inten.append(take(I)), idx.append(order)
        S = max(a.shape[1] for a in kx)
        pad = lambda arrs: np.concatenate([np.pad(a, ((0, 0), (0, S - a.shape[1]))) for a in arrs])  # noqa: E731
        order = pad(idx)
        hkl = refl.hkl[order]
        parts.append((np.full(len(R), p), R, dirs, pad(kx), pad(ky), pad(inten), hkl))
        report(progress, p + 1, len(phases), "template library")
    S = max(part[3].shape[1] for part in parts)
    cat = lambda i, dtype: np.concatenate(  # noqa: E731
        [np.pad(part[i], ((0, 0), (0, S - part[i].shape[1])) + ((0, 0),) * (part[i].ndim - 2)) if part[i].ndim > 1
         and i >= 3 else part[i] for part in parts]).astype(dtype)
    lib = TemplateLibrary(phases, cat(0, np.int32), cat(1, np.float64), cat(2, np.float64), cat(3, np.float32),
                          cat(4, np.float32), cat(5, np.float32), cat(6, np.int16), params,
                          time.perf_counter() - t0, False)
    if folder is not None:
        _save_cached(folder / f"{key}.npz", lib)
    return lib


def _save_cached(path: Path, lib: TemplateLibrary) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.npz")
        np.savez(tmp, phase_index=lib.phase_index, rotations=lib.rotations, directions=lib.directions,
                 kx=lib.kx, ky=lib.ky, intensity=lib.intensity, hkl=lib.hkl,
                 build_seconds=lib.build_seconds, params=json.dumps(lib.params, default=float))
        os.replace(tmp, path)
    except OSError:  # a read-only cache is not an error: the library is just rebuilt next time
        pass


def _load_cached(path: Path, phases, params) -> TemplateLibrary | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            if json.loads(str(f["params"])).get("key") != params["key"]:
                return None
            return TemplateLibrary(phases, f["phase_index"], f["rotations"], f["directions"], f["kx"], f["ky"],
                                   f["intensity"], f["hkl"], params, float(f["build_seconds"]), True)
    except (OSError, ValueError, KeyError):
        return None
