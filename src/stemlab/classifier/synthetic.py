"""Simulated HAADF windows and images for training and testing the classifier.

Everything is rendered by the project's incoherent HAADF model
(:func:`stemlab.simulate.haadf.render_columns`) at the microscope's pixel size and then goes
through the same resampling + descriptor pipeline as real data. Nuisance parameters are
drawn from :class:`Ranges`: lattice constant (and c/a), in-plane rotation, small shear,
probe size, extra blur, probe tails, column-intensity scatter (Z contrast / alloying /
thickness), specimen tilt (each column smeared along the tilt over its channelling depth),
an amorphous surface layer (random atoms), diffuse background with a gradient, scan-line
jitter and drift, detector non-linearity, Poisson dose and Gaussian read noise, pixel size.
All lengths in angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..simulate.haadf import ProjectedLattice, lattice_columns, render_columns
from ..simulate.projections import CLASS_PROJECTIONS, ZoneAxisProjection
from . import descriptor as D


@dataclass(frozen=True)
class Ranges:
    """Sampling ranges of the nuisance parameters (uniform unless noted)."""

    pixel_size: tuple[float, float] = (0.05, 0.30)  # angstrom / px
    dose: tuple[float, float] = (300.0, 20000.0)  # electrons / angstrom^2 (log-uniform)
    read_noise: tuple[float, float] = (0.0, 2.0)  # counts / px
    probe_sigma: tuple[float, float] = (0.30, 0.55)  # angstrom
    blur: tuple[float, float] = (0.0, 0.25)  # angstrom, extra Gaussian blur
    probe_tail: tuple[float, float] = (0.0, 0.3)  # share of the signal in the probe's tail
    tail_sigma: tuple[float, float] = (1.0, 3.0)  # angstrom, width of that tail
    # channelling (multislice-like) contrast; off here, calibrated in MULTISLICE_RANGES
    sharp: tuple[float, float] = (0.0, 0.0)  # share of a column's signal in a sharp core (half the windows)
    sharp_sigma: tuple[float, float] = (0.15, 0.30)  # angstrom, width of that core
    depth_contrast: tuple[float, float] = (0.0, 0.0)  # column contrast by the depth of its atoms
    column_shape: tuple[float, float] = (0.0, 0.0)  # sd of the log gain of the random column shape
    shear: float = 0.02  # max |strain component|
    column_scatter: tuple[float, float] = (0.0, 0.25)  # relative sd of column weights
    tilt: tuple[float, float] = (0.0, 3.0)  # degrees off the zone axis (half the windows)
    channelling_depth: tuple[float, float] = (10.0, 40.0)  # angstrom over which a tilted column smears
    amorphous: tuple[float, float] = (0.0, 0.4)  # amorphous-layer signal / crystal signal (half the windows)
    background: tuple[float, float] = (0.0, 0.6)  # diffuse background / mean column signal
    gradient: float = 0.6  # max relative background change across the field
    jitter: tuple[float, float] = (0.0, 0.08)  # angstrom, sd of scan-line shifts
    drift: float = 0.015  # max scan drift: x shift per row and y stretch (relative)
    gamma: tuple[float, float] = (0.75, 1.3)  # detector non-linearity: signal ** gamma
    window: tuple[float, float] = (10.5, 13.5)  # angstrom


TRAIN_RANGES = Ranges()
# Multislice-like contrast, ranges fitted on the abTEM calibration library (benchmarks/fit_channelling.py
# on benchmarks/make_abtem_calibration.py's cells; never the held-out set). Session 9's fine-tune on
# these lost the out-of-class goal (docs/classification.md), so they are not the default.
MULTISLICE_RANGES = Ranges(probe_tail=(0.0, 0.5), tail_sigma=(0.6, 3.0), sharp=(0.0, 0.6), depth_contrast=(0.0, 0.2),
                           column_shape=(0.0, 0.6), channelling_depth=(10.0, 90.0), background=(0.0, 2.0))
# Held-out settings outside the training ranges: other pixel sizes and other noise.
TEST_RANGES = Ranges(pixel_size=(0.04, 0.07), dose=(150.0, 300.0), read_noise=(0.3, 1.0), window=(12.0, 12.0))
TEST_RANGES_COARSE = Ranges(pixel_size=(0.27, 0.33), dose=(20000.0, 60000.0), read_noise=(3.0, 5.0),
                            window=(12.0, 12.0))


def distort(lattice: ProjectedLattice, strain: np.ndarray) -> ProjectedLattice:
    """The lattice with its cell deformed by (I + strain) (2 x 2, acting on (x, y))."""
    cell = lattice.cell @ (np.eye(2) + strain).T
    return ProjectedLattice(lattice.name, cell, lattice.basis, lattice.weights, lattice.zone_axis, lattice.depth)


def sample_parameters(proj: ZoneAxisProjection, rng: np.random.Generator, ranges: Ranges = TRAIN_RANGES) -> dict:
    """One random draw of every parameter for ``proj``."""
    e = rng.uniform(-ranges.shear, ranges.shear, size=3)
    lo, hi = np.log(ranges.dose)
    p = {
        "a": float(rng.uniform(*proj.a_range)),
        "c_over_a": float(rng.uniform(*proj.c_over_a_range)),
        "rotation": float(rng.uniform(0.0, 360.0)),
        "strain": np.array([[e[0], e[2]], [e[2], e[1]]]),
        "pixel_size": float(rng.uniform(*ranges.pixel_size)),
        "dose": float(np.exp(rng.uniform(lo, hi))),
        "read_noise": float(rng.uniform(*ranges.read_noise)),
        "probe_sigma": float(rng.uniform(*ranges.probe_sigma)),
        "blur": float(rng.uniform(*ranges.blur)),
        "column_scatter": float(rng.uniform(*ranges.column_scatter)),
        "background": float(rng.uniform(*ranges.background)),
        "jitter": float(rng.uniform(*ranges.jitter)),
        "probe_tail": float(rng.uniform(*ranges.probe_tail)),
        "tail_sigma": float(rng.uniform(*ranges.tail_sigma)),
        "tilt": float(rng.uniform(*ranges.tilt)) if rng.random() < 0.5 else 0.0,
        "tilt_direction": float(rng.uniform(0.0, 180.0)),
        "channelling_depth": float(rng.uniform(*ranges.channelling_depth)),
        "amorphous": float(rng.uniform(*ranges.amorphous)) if rng.random() < 0.5 else 0.0,
        "gradient": float(rng.uniform(0.0, ranges.gradient)),
        "drift": rng.uniform(-ranges.drift, ranges.drift, size=2),
        "gamma": float(rng.uniform(*ranges.gamma)),
        "window": float(rng.uniform(*ranges.window)),
        "origin": rng.uniform(0.0, 5.0, size=2),
    }
    p.update(sharp=0.0, sharp_sigma=ranges.sharp_sigma[0], depth_contrast=0.0, depth_phase=0.0, column_shape=0.0)
    if max(ranges.sharp[1], ranges.depth_contrast[1], ranges.column_shape[1]) > 0:
        # drawn last and only when on: without them a seed gives the windows it gave before they existed
        p.update(sharp=float(rng.uniform(*ranges.sharp)) if rng.random() < 0.5 else 0.0,
                 sharp_sigma=float(rng.uniform(*ranges.sharp_sigma)),
                 depth_contrast=float(rng.uniform(*ranges.depth_contrast)),
                 depth_phase=float(rng.uniform(0.0, 2 * np.pi)), column_shape=float(rng.uniform(*ranges.column_shape)))
    return p


def render_field(lattices, masks_fn, shape, pixel_size, params, rng) -> np.ndarray:
    """Noisy native-pixel image of one or more lattices.

    ``lattices``: list of (ProjectedLattice, rotation_deg, origin); ``masks_fn(i)`` returns a
    boolean mask (``shape``) for lattice i or None.
    """
    H, W = shape
    extent = (H * pixel_size, W * pixel_size)
    positions, weights = [], []
    for i, (lat, rot, origin) in enumerate(lattices):
        mask = masks_fn(i) if masks_fn is not None else None
        pos, w = lattice_columns(lat, extent, rotation_deg=rot, origin=origin, mask=mask, pixel_size=pixel_size,
                                 margin=4 * params["probe_sigma"] + 1.0,
                                 depth_contrast=(params.get("depth_contrast", 0.0), params.get("depth_phase", 0.0)))
        if positions and len(pos):
            from scipy.spatial import cKDTree

            prev = np.concatenate(positions)
            if len(prev):
                d, _ = cKDTree(prev).query(pos, k=1)
                pos, w = pos[d > 1.0], w[d > 1.0]
        positions.append(pos)
        weights.append(w / lat.weights.mean())
    pos = np.concatenate(positions)
    w = np.concatenate(weights)
    if params["column_scatter"] > 0:
        w = w * np.clip(1.0 + params["column_scatter"] * rng.standard_normal(len(w)), 0.2, None)
    sigma = float(np.hypot(params["probe_sigma"], params["blur"]))
    pos, w = _tilt_columns(pos, w, params)
    clean = render_columns((H, W), pixel_size, pos, w, sigma)
    sharp = params.get("sharp", 0.0)
    if sharp > 0:  # channelling: a share of each column's signal in a core sharper than the probe
        core = render_columns((H, W), pixel_size, pos, w, float(np.hypot(params["sharp_sigma"], params["blur"])))
        clean = (1.0 - sharp) * clean + sharp * core
    clean = _column_shape(clean, pixel_size, params.get("column_shape", 0.0), rng)
    clean = clean + _amorphous_layer((H, W), pixel_size, float(w.sum()), sigma, params, rng)
    tail = params.get("probe_tail", 0.0)
    if tail > 0:  # the probe's tails: a share of the signal spread over a few angstrom
        clean = (1.0 - tail) * clean + tail * ndimage.gaussian_filter(clean, params["tail_sigma"] / pixel_size,
                                                                      mode="nearest")
    clean = _scan_distortions(clean, pixel_size, params, rng)
    mean = max(float(clean.mean()), 1e-12)
    if params["background"] > 0:
        yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
        g = rng.normal(size=2)
        ramp = 1.0 + params.get("gradient", 0.3) * (g[0] * (yy - 0.5) + g[1] * (xx - 0.5))
        clean = clean + params["background"] * mean * np.clip(ramp, 0.1, None)
    gamma = params.get("gamma", 1.0)
    if gamma != 1.0:  # detector non-linearity
        clean = np.maximum(clean / max(float(clean.mean()), 1e-12), 0.0) ** gamma
    dose_px = params["dose"] * pixel_size**2
    scaled = clean * (dose_px / max(float(clean.mean()), 1e-12))
    noisy = rng.poisson(np.clip(scaled, 0, None)).astype(np.float32)
    if params["read_noise"] > 0:
        noisy += rng.normal(scale=params["read_noise"], size=noisy.shape).astype(np.float32)
    return noisy


SHAPE_STEP = 0.15  # 1/angstrom, correlation length of the column shape's random gain
SHAPE_MAX_G = 1.6  # 1/angstrom, the gain is random up to here (the descriptor reaches 1.33)


def _column_shape(clean, pixel_size, strength, rng):
    """Every column given the same random, non-circular shape: the image's Fourier transform times
    a smooth random gain exp(strength x e(g)) (e: unit-variance Gaussian field with correlation
    length SHAPE_STEP, even in g so the image stays real, 0 at g = 0). Multislice spots are not a
    smooth function of |g| (dynamical scattering and channelling reshape the column); this turns
    each reflection's strength by its own factor. Reflect-padded by 4 angstrom against wrap-around."""
    if strength <= 0:
        return clean
    pad = int(np.ceil(4.0 / pixel_size))
    big = np.pad(clean, pad, mode="reflect")
    n = int(np.ceil(2 * SHAPE_MAX_G / SHAPE_STEP)) | 1  # odd: the grid is symmetric about g = 0
    e = rng.standard_normal((n, n))
    e = (e + e[::-1, ::-1]) / np.sqrt(2.0)
    gy = np.fft.fftfreq(big.shape[0], pixel_size)
    gx = np.fft.rfftfreq(big.shape[1], pixel_size)
    half = (n - 1) / 2
    coords = np.meshgrid(gy / SHAPE_STEP + half, gx / SHAPE_STEP + half, indexing="ij")
    field = ndimage.map_coordinates(e, coords, order=3, mode="constant", cval=0.0)
    field -= field[0, 0]
    out = np.fft.irfft2(np.fft.rfft2(big) * np.exp(strength * field), s=big.shape)
    return np.clip(out[pad:pad + clean.shape[0], pad:pad + clean.shape[1]], 0.0, None)


TILT_SAMPLES = 5  # points along a tilted column


def _tilt_columns(pos, w, params):
    """Columns tilted by ``params['tilt']`` degrees: each one smeared into TILT_SAMPLES points
    along the tilt direction over its channelling depth x tan(tilt) (angstrom)."""
    tilt = params.get("tilt", 0.0)
    if tilt <= 0:
        return pos, w
    length = params["channelling_depth"] * np.tan(np.radians(tilt))
    t = np.radians(params["tilt_direction"])
    steps = (np.arange(TILT_SAMPLES) / (TILT_SAMPLES - 1) - 0.5) * length
    offsets = steps[:, None] * np.array([np.sin(t), np.cos(t)])  # (y, x)
    pos = (pos[None] + offsets[:, None]).reshape(-1, 2)
    return pos, np.tile(w / TILT_SAMPLES, TILT_SAMPLES)


AMORPHOUS_DENSITY = 0.3  # projected atoms per angstrom^2 of the amorphous layer


def _amorphous_layer(shape, pixel_size, crystal_signal, sigma, params, rng):
    """Image of an amorphous surface layer (atoms at random positions) holding
    ``params['amorphous']`` x the crystal's signal; zeros when there is none."""
    share = params.get("amorphous", 0.0)
    H, W = shape
    if share <= 0:
        return np.zeros(shape)
    n = max(1, int(AMORPHOUS_DENSITY * H * W * pixel_size**2))
    pos = rng.uniform(0.0, 1.0, size=(n, 2)) * np.array([H, W]) * pixel_size
    return render_columns(shape, pixel_size, pos, np.full(n, share * crystal_signal / n), sigma)


def _scan_distortions(clean, pixel_size, params, rng):
    """Scan-line jitter (each row shifted along x, ``params['jitter']`` angstrom sd) and linear
    drift (x shift per row ``drift[0]``, y stretch ``drift[1]``)."""
    H, W = clean.shape
    jitter = params.get("jitter", 0.0)
    drift = np.asarray(params.get("drift", (0.0, 0.0)), dtype=float)
    if jitter <= 0 and not np.any(drift):
        return clean
    shift = np.zeros(H)
    if jitter > 0:
        shift = rng.normal(scale=jitter / pixel_size, size=H)
        shift = ndimage.gaussian_filter1d(shift, 1.0) + (shift - ndimage.gaussian_filter1d(shift, 1.0)) * 0.5
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float32)
    shift = shift + drift[0] * (np.arange(H) - H / 2)
    return ndimage.map_coordinates(clean, [(rows - H / 2) * (1 + drift[1]) + H / 2, cols + shift[:, None]],
                                   order=1, mode="nearest")


def simulate_window(proj: ZoneAxisProjection, params: dict, rng: np.random.Generator) -> np.ndarray:
    """A resampled window (``window_pixels(params['window'])`` px at SAMPLING) of ``proj``."""
    lat = distort(proj.project(params["a"], params["c_over_a"]), params["strain"])
    w_px = D.window_pixels(params["window"])
    side_a = (w_px + 3) * D.SAMPLING
    n = int(np.ceil(side_a / params["pixel_size"])) + 1
    img = render_field([(lat, params["rotation"], params["origin"])], None, (n, n), params["pixel_size"], params, rng)
    res = D.resample(img, params["pixel_size"])
    r0 = (res.shape[0] - w_px) // 2
    c0 = (res.shape[1] - w_px) // 2
    return res[r0:r0 + w_px, c0:c0 + w_px]


def simulate_descriptors(n_per_class: int, seed: int, ranges: Ranges = TRAIN_RANGES,
                         projections=CLASS_PROJECTIONS, progress=None, cancel=None):
    """``n_per_class`` descriptors of every projection: (X (N, 64, 64) float32, y (N,) int64, params list).

    Deterministic for a given ``seed``. Windows of different sizes are batched by size.
    """
    from ..backend.progress import check, report

    rng = np.random.default_rng(seed)
    total = n_per_class * len(projections)
    X = np.empty((total, D.FFT_SIZE, D.FFT_SIZE), dtype=np.float32)
    y = np.empty(total, dtype=np.int64)
    params_list = []
    pending: dict[int, list] = {}
    k = 0
    for i in range(n_per_class):
        if i % 10 == 0:
            check(cancel)
            report(progress, k, total, "simulating windows")
        for label, proj in enumerate(projections):
            params = sample_parameters(proj, rng, ranges)
            win = simulate_window(proj, params, rng)
            pending.setdefault(win.shape[0], []).append((k, win))
            y[k] = label
            params_list.append(params)
            k += 1
    for items in pending.values():
        idx = np.array([j for j, _ in items])
        X[idx] = D.descriptors(np.stack([w for _, w in items]))
    report(progress, total, total, "simulating windows")
    return X, y, params_list


def bicrystal(shape, pixel_size: float, proj_a: ZoneAxisProjection, proj_b: ZoneAxisProjection, *,
              rotation_a: float = 0.0, rotation_b: float = 30.0, boundary_angle: float = 90.0,
              seed: int = 0, ranges: Ranges = TRAIN_RANGES, params: dict | None = None):
    """A noisy image with two grains meeting along a straight line through the centre.

    ``boundary_angle`` (degrees) is the line's direction from the x axis. Returns
    (image (H, W) float32 counts, grain (H, W) int 0/1, distance (H, W) signed distance to the
    boundary in angstrom, params). Lattice constants are the projections' reference values.
    """
    rng = np.random.default_rng(seed)
    base = sample_parameters(proj_a, rng, ranges)
    base.update({"strain": np.zeros((2, 2)), "jitter": min(base["jitter"], 0.03), "pixel_size": pixel_size})
    if params:
        base.update(params)
    H, W = shape
    rows, cols = np.mgrid[0:H, 0:W]
    t = np.radians(boundary_angle)
    dist = ((cols - W / 2) * np.sin(t) - (rows - H / 2) * np.cos(t)) * pixel_size
    grain = (dist > 0).astype(np.int32)
    lats = [(proj_a.project(), rotation_a, rng.uniform(0, 5, 2)), (proj_b.project(), rotation_b, rng.uniform(0, 5, 2))]
    img = render_field(lats, lambda i: grain == i, shape, pixel_size, base, rng)
    return img, grain, dist.astype(np.float32), base


def single_crystal(shape, pixel_size: float, proj: ZoneAxisProjection, *, seed: int = 0,
                   ranges: Ranges = TRAIN_RANGES, params: dict | None = None):
    """A noisy image of one grain; returns (image, params) with the true 'a', 'rotation', 'strain'."""
    rng = np.random.default_rng(seed)
    p = sample_parameters(proj, rng, ranges)
    p["pixel_size"] = pixel_size
    if params:
        p.update(params)
    lat = distort(proj.project(p["a"], p["c_over_a"]), p["strain"])
    img = render_field([(lat, p["rotation"], p["origin"])], None, shape, pixel_size, p, rng)
    return img, p


def tile_cell(cell_image, cell_size, shape, pixel_size: float, *, rotation: float = 0.0, origin=(0.0, 0.0),
              source_sigma: float = 0.0, dose: float | None = None, rng: np.random.Generator | None = None):
    """A field of ``shape`` pixels (``pixel_size`` angstrom) of a perfect crystal from the image of
    one periodic projected cell (e.g. a multislice simulation of one cell).

    ``cell_image`` (nx, ny) is indexed [x, y] over ``cell_size`` (lx, ly) angstrom (abTEM's scan
    order); the field is the cell image point-sampled at each probe position (a STEM scan),
    turned by ``rotation`` degrees (x towards y) about ``origin`` (y, x angstrom). ``source_sigma``
    (angstrom) blurs the cell first (the source size); ``dose`` (electrons / angstrom^2) adds
    Poisson noise. Returns float32.
    """
    cell = np.asarray(cell_image, dtype=np.float64)
    lx, ly = (float(v) for v in cell_size)
    step = np.array([lx / cell.shape[0], ly / cell.shape[1]])
    if source_sigma > 0:
        cell = ndimage.gaussian_filter(cell, source_sigma / step, mode="wrap")
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    y, x = rows * pixel_size - origin[0], cols * pixel_size - origin[1]
    t = np.radians(rotation)
    xc, yc = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)  # the lab point in the crystal frame
    img = ndimage.map_coordinates(cell, [xc / step[0], yc / step[1]], order=3, mode="grid-wrap")
    img = np.clip(img, 0.0, None)
    if dose is not None:
        rng = rng if rng is not None else np.random.default_rng()
        img = rng.poisson(img * dose * pixel_size**2 / max(img.mean(), 1e-30)).astype(np.float64)
    return img.astype(np.float32)


__all__ = ["Ranges", "TRAIN_RANGES", "MULTISLICE_RANGES", "TEST_RANGES", "TEST_RANGES_COARSE", "sample_parameters", "simulate_window",
           "simulate_descriptors", "bicrystal", "single_crystal", "distort", "tile_cell"]
