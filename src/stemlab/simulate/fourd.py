"""Synthetic 4D-STEM scans: a polycrystalline two-phase sample with kinematic spot patterns.

Detector convention (docs/simulation.md): pixel (row, col) of a pattern sits at
ky = (row - cy) * cal, kx = (col - cx) * cal (1/angstrom), with (cy, cx) the direct-beam
centre. The dataset's ky/kx axes put k = 0 at pixel n // 2; the true centre of each
pattern moves off it by the recorded descan shift. Lab x -> detector columns,
lab y -> detector rows, beam along +z (see :mod:`stemlab.crystal.reflections`).
"""

from __future__ import annotations

import numpy as np

from ..dataset import Axis, Dataset
from ..errors import ParameterError
from ..units import electron_wavelength
from ..crystal.reflections import diffraction_spots, reflections
from ..crystal.rotations import axis_angle_matrix, random_rotations, zone_axis_rotation
from ..crystal.structure import Structure, structure as named_structure

# Zone axes grains are put near, per crystal system, most distinctive first. For bcc the
# [001] axis is left out: an fcc [001] pattern of a_fcc ~ sqrt(2) a_bcc (Al/Fe) is the
# bcc [001] pattern turned by 45 degrees.
ZONE_AXES = {
    "cubic": [(0, 0, 1), (0, 1, 1), (1, 1, 1), (1, 1, 2)],
    "cubic-bcc": [(0, 1, 1), (1, 1, 1), (1, 1, 2), (1, 1, 3)],
    "hexagonal": [(0, 0, 1), (1, 0, 0), (2, 1, 0), (1, 0, 1)],
}

CONVENTIONS = (
    "orientation: crystal->lab rotation matrices R (v_lab = R @ v_crystal, crystal frame a||x, "
    "b in xy), beam along lab +z; orix: Orientation.from_matrix(R.T) (orix maps sample->crystal). "
    "detector: ky = (row - cy) * cal, kx = (col - cx) * cal; descan[..., 0] = cy (row), "
    "descan[..., 1] = cx (col) in pixels."
)


def _as_structure(phase) -> Structure:
    return phase if isinstance(phase, Structure) else named_structure(phase)


def _zone_axes(st: Structure):
    if st.crystal_system == "cubic" and st.space_group.startswith("I"):
        return ZONE_AXES["cubic-bcc"]
    return ZONE_AXES.get(st.crystal_system, ZONE_AXES["cubic"])


def _gauss_rows(centres, sigma, n):
    """Normalised 1D Gaussians exp(-(i - c)^2 / 2 s^2) / (sqrt(2 pi) s), shape centres.shape + (n,)."""
    i = np.arange(n, dtype=np.float32)
    d = (i - centres[..., None].astype(np.float32)) / np.float32(sigma)
    return np.exp(-0.5 * d * d) / np.float32(np.sqrt(2 * np.pi) * sigma)


def two_phase_scan(scan_shape=(48, 48), pattern_shape=(128, 128), *, reciprocal_pixel: float = 0.0165,
                   scan_step: float = 2.0, voltage_kv: float = 200.0, dose: float = 20000.0,
                   seed: int = 0, phases=("Al", "Fe"), phase_fraction: float = 0.6, n_grains: int = 14,
                   zone_axis_fraction: float = 0.75, max_tilt_deg: float = 1.0,
                   convergence_mrad: float = 1.0, s_width: float = 0.012, precession_deg: float = 0.0,
                   spot_scale: float = 0.12, background_fraction: float = 0.25,
                   descan_offset=(0.6, -0.4), descan_gradient=((0.05, 0.02), (-0.015, 0.06)),
                   min_tilt_deg: float = 0.0, intensity_jitter: float = 0.0,
                   progress=None) -> Dataset:
    """A Poisson-noisy 4D-STEM scan of Voronoi grains of two phases (default fcc Al + bcc Fe).

    Parameters (units): ``scan_shape`` (ny, nx) positions, ``scan_step`` nm;
    ``pattern_shape`` detector pixels, ``reciprocal_pixel`` 1/angstrom per pixel; ``dose``
    electrons per pattern (each clean pattern sums to it); ``convergence_mrad`` probe
    semi-angle -> disc radius alpha/lambda, rendered as a Gaussian of sigma = radius/2
    (same second moment as the disc); ``s_width`` Gaussian relrod width (1/angstrom);
    ``precession_deg`` precession semi-angle; ``spot_scale`` integrated intensity of a
    spot with |F|^2 equal to the strongest reflection of the first phase, relative to the
    direct beam; ``background_fraction`` share of the dose in the diffuse background;
    ``descan_offset`` (rows, cols) of the centre at the scan middle relative to pixel n//2
    and ``descan_gradient`` [[d row/d iy, d row/d ix], [d col/d iy, d col/d ix]] in pixels
    per scan step. ``max_tilt_deg`` tilts zone-axis grains off their axis by up to that angle,
    ``min_tilt_deg`` by at least that angle (uniform in between). ``intensity_jitter``: each
    reflection of each grain gets its intensity multiplied by exp(jitter * N(0, 1)) (an intensity
    error a kinematic library does not model: dynamical effects, strain, thickness), from its own
    random stream so that 0 leaves the scan unchanged.

    Ground truth in ``metadata['ground_truth']``: 'phase' (ny, nx) int, 'phase_names',
    'grain' (ny, nx) int, 'orientation' (ny, nx, 3, 3) crystal->lab matrices, 'descan'
    (ny, nx, 2) centre (row, col) px, per-grain 'grain_phase', 'grain_orientation',
    'grain_zone_axis' ([0, 0, 0] = random orientation) and 'conventions'.
    """
    ny, nx = (int(v) for v in scan_shape)
    py, px = (int(v) for v in pattern_shape)
    if min(ny, nx, py, px) < 1 or n_grains < 1:
        raise ParameterError("scan_shape, pattern_shape and n_grains must be positive.")
    if dose <= 0 or reciprocal_pixel <= 0:
        raise ParameterError("dose and reciprocal_pixel must be positive.")
    rng = np.random.default_rng(seed)
    structures = [_as_structure(p) for p in phases]
    names = [p if isinstance(p, str) else p.name for p in phases]
    lam = electron_wavelength(voltage_kv)

    # -- grains: Voronoi cells of random seeds, phase and orientation per grain ----------
    seeds = rng.random((n_grains, 2)) * [ny, nx]
    yy, xx = np.mgrid[0:ny, 0:nx]
    dist = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    grain = np.argmin(dist, axis=-1).astype(np.int32)
    n_first = int(round(phase_fraction * n_grains)) if len(structures) > 1 else n_grains
    grain_phase = np.array([0] * n_first + [1] * (n_grains - n_first), dtype=np.int32)
    rng.shuffle(grain_phase)
    grain_rot = np.empty((n_grains, 3, 3))
    grain_axis = np.zeros((n_grains, 3), dtype=np.int32)
    counters = [0] * len(structures)
    for gi in range(n_grains):
        p = grain_phase[gi]
        st = structures[p]
        if rng.random() < zone_axis_fraction:
            axes = _zone_axes(st)
            uvw = axes[counters[p] % len(axes)]
            counters[p] += 1
            tilt_axis = np.r_[rng.normal(size=2), 0.0]
            # written so that min_tilt_deg = 0 gives bit-identical scans to before
            tilt_rad = np.radians(min_tilt_deg) + np.radians(max_tilt_deg - min_tilt_deg) * rng.random()
            tilt = axis_angle_matrix(tilt_axis, tilt_rad)
            grain_rot[gi] = tilt @ zone_axis_rotation(st, uvw, rng.uniform(0, 360))
            grain_axis[gi] = uvw
        else:
            grain_rot[gi] = random_rotations(1, rng)[0]

    # -- spots per grain in detector pixels relative to the centre -----------------------
    half_extent = np.hypot(py, px) / 2 * reciprocal_pixel
    refls = [reflections(st, half_extent + 0.05) for st in structures]
    i_ref = refls[0].intensity.max()
    radius_px = convergence_mrad * 1e-3 / lam / reciprocal_pixel
    sigma = max(radius_px / 2.0, 0.6)
    spot_lists = []
    jitter_rng = np.random.default_rng([seed, 1]) if intensity_jitter > 0 else None
    for gi in range(n_grains):
        sp = diffraction_spots(refls[grain_phase[gi]], grain_rot[gi], voltage_kv, s_width=s_width,
                               precession_deg=precession_deg, min_intensity=None)
        w = spot_scale * sp.intensity / i_ref
        if jitter_rng is not None:
            w = w * np.exp(intensity_jitter * jitter_rng.standard_normal(len(w)))
        dy, dx = sp.ky / reciprocal_pixel, sp.kx / reciprocal_pixel
        # keep spots on the detector that are worth more than ~1e-3 of the direct beam
        keep = (w > 1e-3 * spot_scale) & (np.abs(dy) < py / 2 + 4 * sigma) & (np.abs(dx) < px / 2 + 4 * sigma)
        spot_lists.append((dy[keep], dx[keep], w[keep]))
    n_spots = max(len(s[0]) for s in spot_lists)

    # -- descan: linear drift of the pattern centre over the scan ------------------------
    G = np.asarray(descan_gradient, dtype=float)
    iy, ix = yy - (ny - 1) / 2.0, xx - (nx - 1) / 2.0
    cy = py // 2 + descan_offset[0] + G[0, 0] * iy + G[0, 1] * ix
    cx = px // 2 + descan_offset[1] + G[1, 0] * iy + G[1, 1] * ix
    descan = np.stack([cy, cx], axis=-1)

    # -- per-grain padded spot tables: direct beam, diffracted spots, two halo terms --------
    halo = (6.0 * sigma, 0.35), (py / 4.0, 0.65)  # (sigma px, share of the background)
    n_terms = 1 + n_spots + len(halo)
    table = np.zeros((n_grains, n_terms, 4), dtype=np.float32)  # dy, dx, weight, sigma
    table[..., 3] = sigma
    for gi, (dy, dx, w) in enumerate(spot_lists):
        table[gi, 0, 2] = 1.0
        table[gi, 1:1 + len(w), 0], table[gi, 1:1 + len(w), 1], table[gi, 1:1 + len(w), 2] = dy, dx, w
        signal = 1.0 + w.sum()
        bg_total = background_fraction / (1 - background_fraction) * signal
        for j, (s_h, share) in enumerate(halo):
            table[gi, 1 + n_spots + j, 2:] = bg_total * share, s_h

    # -- render in chunks: separable Gaussians -> one batched matmul per chunk --------------
    out_dtype = np.uint16 if dose * 0.5 < 60000 else np.uint32
    data = np.empty((ny * nx, py, px), dtype=out_dtype)
    flat_grain = grain.ravel()
    flat_c = descan.reshape(-1, 2).astype(np.float32)
    chunk = 256
    total = ny * nx
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        t = table[flat_grain[start:stop]]  # (n, terms, 4)
        rows = flat_c[start:stop, None, 0] + t[..., 0]
        cols = flat_c[start:stop, None, 1] + t[..., 1]
        s = t[..., 3]
        ir = np.arange(py, dtype=np.float32)
        ic = np.arange(px, dtype=np.float32)
        gr = np.exp(-0.5 * ((ir - rows[..., None]) / s[..., None]) ** 2) / (np.sqrt(2 * np.pi) * s[..., None])
        gc = np.exp(-0.5 * ((ic - cols[..., None]) / s[..., None]) ** 2) / (np.sqrt(2 * np.pi) * s[..., None])
        clean = np.einsum("nsr,nsc->nrc", gr * t[..., 2:3], gc, optimize=True)  # (n, py, px)
        clean *= (dose / clean.sum(axis=(1, 2)))[:, None, None]
        data[start:stop] = np.minimum(rng.poisson(clean), np.iinfo(out_dtype).max)
        if progress is not None:
            progress(stop, total, "rendering diffraction patterns")
    data = data.reshape(ny, nx, py, px)

    orientation = grain_rot[grain]
    axes = (
        Axis("scan_y", ny, scan_step, 0.0, "nm", True),
        Axis("scan_x", nx, scan_step, 0.0, "nm", True),
        Axis("ky", py, reciprocal_pixel, -(py // 2) * reciprocal_pixel, "1/angstrom"),
        Axis("kx", px, reciprocal_pixel, -(px // 2) * reciprocal_pixel, "1/angstrom"),
    )
    ground_truth = {
        "phase": grain_phase[grain],
        "phase_names": names,
        "grain": grain,
        "orientation": orientation,
        "descan": descan,
        "descan_model": {"offset_px": [float(v) for v in descan_offset], "gradient_px_per_step": G.tolist(),
                         "formula": "c = (n//2) + offset + gradient @ (iy - (ny-1)/2, ix - (nx-1)/2)"},
        "grain_phase": grain_phase,
        "grain_orientation": grain_rot,
        "grain_zone_axis": grain_axis,
        "conventions": CONVENTIONS,
    }
    metadata = {
        "voltage_kv": float(voltage_kv),
        "wavelength_angstrom": float(lam),
        "convergence_mrad": float(convergence_mrad),
        "reciprocal_pixel_per_angstrom": float(reciprocal_pixel),
        "simulation": {"model": "stemlab.simulate.fourd.two_phase_scan", "seed": int(seed),
                       "dose_electrons_per_pattern": float(dose), "s_width_per_angstrom": float(s_width),
                       "precession_deg": float(precession_deg), "spot_sigma_px": float(sigma),
                       "tilt_deg": [float(min_tilt_deg), float(max_tilt_deg)],
                       "intensity_jitter": float(intensity_jitter),
                       "phases": names},
        "ground_truth": ground_truth,
    }
    return Dataset(data, axes, kind="4dstem", name="two-phase 4D-STEM (simulated)", metadata=metadata)
