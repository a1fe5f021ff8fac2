"""Synthetic in-situ HAADF videos of a phase transformation with known phase-field physics.

An order parameter u(x, y, t) from :mod:`stemlab.simulate.phasefield` (Allen-Cahn growth of
nuclei under a driving force, or Cahn-Hilliard spinodal decomposition) selects, pixel by
pixel, between two atomic-column images (:mod:`stemlab.simulate.haadf`):
clean = (1 - u) I_0 + u I_1 + background, then Poisson noise at the dose. Phase 1 columns
are heavier, so u also shows as mean intensity. The solver runs on the image grid
(spacing = pixel_size nm, time in s); frame k is u at t = k * frame_time.
"""

from __future__ import annotations

import numpy as np

from ..dataset import Axis, Dataset
from ..errors import ParameterError
from .haadf import project_structure, render_lattice
from .phasefield import PhaseFieldParameters, nuclei, solve

DEFAULTS = {
    # W, dG in an arbitrary energy-density unit E; kappa E nm^2; M 1/(E s) (AC) or nm^2/(E s) (CH)
    "allen-cahn": {"M": 1.0, "kappa": 0.045, "W": 1.0, "dG": -0.1},
    "cahn-hilliard": {"M": 0.25, "kappa": 0.045, "W": 1.0, "dG": 0.0},
}


def phase_transformation_video(n_frames: int = 40, shape=(128, 128), pixel_size: float = 0.04,
                               frame_time: float = 0.5, model: str = "allen-cahn", dose: float = 30.0,
                               seed: int = 0, *, parameters: dict | None = None, n_nuclei: int = 3,
                               nucleus_radius: float = 0.8, mean_composition: float = 0.4,
                               phases=("Al", "Ti"), probe_sigma: float = 0.045, background: float = 0.1,
                               progress=None, cancel=None) -> Dataset:
    """Noisy HAADF video (n_frames, ny, nx) float32 counts of a phase transformation.

    Units: ``pixel_size`` nm, ``frame_time`` s, ``dose`` mean electrons per pixel in phase 0,
    ``nucleus_radius`` nm, ``probe_sigma`` nm. ``model`` 'allen-cahn' (``n_nuclei`` nuclei of
    phase 1 grow; dG < 0 favours phase 1) or 'cahn-hilliard' (spinodal decomposition of a
    noisy field of mean ``mean_composition``). ``parameters`` overrides
    :data:`DEFAULTS` (keys M, kappa, W, dG).

    ``metadata['ground_truth']``: 'clean' (noise-free frames), 'order_parameter' u (float32,
    same shape), 'model', 'parameters' (values, units, identifiable combinations, interface
    width delta = sqrt(2 kappa / W) nm, AC front velocity 3 M |dG| delta nm/s),
    'phase_names', 'times' (s).
    """
    model = model.lower().replace("_", "-")
    if model not in DEFAULTS:
        raise ParameterError(f"Unknown model {model!r}: 'allen-cahn' or 'cahn-hilliard'.")
    if n_frames < 1 or frame_time <= 0 or pixel_size <= 0:
        raise ParameterError("n_frames, frame_time (s) and pixel_size (nm) must be positive.")
    rng = np.random.default_rng(seed)
    ny, nx = (int(s) for s in shape)
    values = {**DEFAULTS[model], **(parameters or {})}
    params = PhaseFieldParameters(**values)
    delta = params.interface_width
    if model == "allen-cahn":
        centres = rng.random((n_nuclei, 2)) * [ny * pixel_size, nx * pixel_size]
        u0 = nuclei((ny, nx), centres, nucleus_radius, delta, dx=pixel_size)
    else:
        u0 = mean_composition + 0.02 * rng.standard_normal((ny, nx))
    times = np.arange(n_frames) * frame_time
    u = solve(u0, times, params, model=model, dx=pixel_size, progress=progress, cancel=cancel)
    u = u.astype(np.float32)

    ps = pixel_size * 10.0  # angstrom
    images = []
    for name, rot in zip(phases, (10.0, 25.0)):
        lat = project_structure(name, (0, 0, 1))
        images.append(render_lattice((ny, nx), ps, lat, rotation_deg=rot, origin=tuple(rng.random(2) * 3),
                                     probe_sigma=probe_sigma * 10.0, thickness=200.0))
    i0, i1 = (im.astype(np.float32) for im in images)
    scale = np.float32(dose / ((1 + background) * i0.mean()))
    bg = np.float32(background * i0.mean())
    clean = ((1 - u) * i0 + u * i1 + bg) * scale
    noisy = rng.poisson(clean).astype(np.float32)

    units = {"M": "1/(E*s)" if model == "allen-cahn" else "nm^2/(E*s)", "kappa": "E*nm^2", "W": "E",
             "dG": "E", "length": "nm", "time": "s", "E": "arbitrary energy density"}
    mk_units = "nm^2/s" if model == "allen-cahn" else "nm^4/s"
    mw_units = "1/s" if model == "allen-cahn" else "nm^2/s"
    parameters_gt = {
        **{k: float(v) for k, v in values.items()},
        "units": units,
        "identifiable": {"M*kappa": float(params.M * params.kappa), "M*W": float(params.M * params.W),
                         "M*dG": float(params.M * params.dG),
                         "units": {"M*kappa": mk_units, "M*W": mw_units, "M*dG": mw_units}},
        "interface_width_nm": float(delta),
        "free_energy": "f(u) = W u^2 (1-u)^2 + dG u^2 (3 - 2u)",
        "equation": ("u_t = M (kappa Lap u - f'(u))" if model == "allen-cahn"
                     else "u_t = M Lap (f'(u) - kappa Lap u)"),
    }
    if model == "allen-cahn":
        parameters_gt["front_velocity_nm_per_s"] = float(abs(params.front_velocity))
    axes = (Axis("t", n_frames, frame_time, 0.0, "s", True), Axis("y", ny, pixel_size, 0.0, "nm"),
            Axis("x", nx, pixel_size, 0.0, "nm"))
    metadata = {
        "simulation": {"model": "stemlab.simulate.video.phase_transformation_video", "seed": int(seed),
                       "dose_electrons_per_pixel": float(dose), "probe_sigma_nm": float(probe_sigma)},
        "ground_truth": {"clean": clean.astype(np.float32), "order_parameter": u, "model": model,
                         "parameters": parameters_gt, "phase_names": [str(p) for p in phases],
                         "times": times},
    }
    return Dataset(noisy, axes, kind="video", name=f"phase transformation video ({model}, simulated)",
                   metadata=metadata)
