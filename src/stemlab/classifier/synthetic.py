"""Simulated HAADF windows and images for training and testing the classifier.

Everything is rendered by the project's incoherent HAADF model
(:func:`stemlab.simulate.haadf.render_columns`) at the microscope's pixel size and then goes
through the same resampling + descriptor pipeline as real data. Nuisance parameters are
drawn from :class:`Ranges`: lattice constant (and c/a), in-plane rotation, small shear,
probe size, extra blur, column-intensity scatter (Z contrast / alloying / thickness),
diffuse background, scan-line jitter, Poisson dose and Gaussian read noise, pixel size.
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

    pixel_size: tuple[float, float] = (0.08, 0.25)  # angstrom / px
    dose: tuple[float, float] = (300.0, 20000.0)  # electrons / angstrom^2 (log-uniform)
    read_noise: tuple[float, float] = (0.0, 2.0)  # counts / px
    probe_sigma: tuple[float, float] = (0.30, 0.55)  # angstrom
    blur: tuple[float, float] = (0.0, 0.25)  # angstrom, extra Gaussian blur
    shear: float = 0.02  # max |strain component|
    column_scatter: tuple[float, float] = (0.0, 0.25)  # relative sd of column weights
    background: tuple[float, float] = (0.0, 0.6)  # diffuse background / mean column signal
    jitter: tuple[float, float] = (0.0, 0.08)  # angstrom, sd of scan-line shifts
    window: tuple[float, float] = (10.5, 13.5)  # angstrom


TRAIN_RANGES = Ranges()
# Held-out settings outside the training ranges: other pixel sizes and other noise.
TEST_RANGES = Ranges(pixel_size=(0.04, 0.07), dose=(150.0, 300.0), read_noise=(0.3, 1.0), window=(12.0, 12.0))
TEST_RANGES_COARSE = Ranges(pixel_size=(0.27, 0.33), dose=(20000.0, 60000.0), read_noise=(3.0, 5.0),
                            window=(12.0, 12.0))


def distort(lattice: ProjectedLattice, strain: np.ndarray) -> ProjectedLattice:
    """The lattice with its cell deformed by (I + strain) (2 x 2, acting on (x, y))."""
    cell = lattice.cell @ (np.eye(2) + strain).T
    return ProjectedLattice(lattice.name, cell, lattice.basis, lattice.weights, lattice.zone_axis)


def sample_parameters(proj: ZoneAxisProjection, rng: np.random.Generator, ranges: Ranges = TRAIN_RANGES) -> dict:
    """One random draw of every parameter for ``proj``."""
    e = rng.uniform(-ranges.shear, ranges.shear, size=3)
    lo, hi = np.log(ranges.dose)
    return {
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
        "window": float(rng.uniform(*ranges.window)),
        "origin": rng.uniform(0.0, 5.0, size=2),
    }


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
                                 margin=4 * params["probe_sigma"] + 1.0)
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
    clean = render_columns((H, W), pixel_size, pos, w, sigma)
    if params["jitter"] > 0:  # scan-line jitter: each row shifted along x
        shift = rng.normal(scale=params["jitter"] / pixel_size, size=H)
        shift = ndimage.gaussian_filter1d(shift, 1.0) + (shift - ndimage.gaussian_filter1d(shift, 1.0)) * 0.5
        rows, cols = np.mgrid[0:H, 0:W].astype(np.float32)
        clean = ndimage.map_coordinates(clean, [rows, cols + shift[:, None]], order=1, mode="nearest")
    mean = max(float(clean.mean()), 1e-12)
    if params["background"] > 0:
        yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
        g = rng.normal(size=3)
        ramp = 1.0 + 0.3 * (g[0] * (yy - 0.5) + g[1] * (xx - 0.5))
        clean = clean + params["background"] * mean * ramp
    dose_px = params["dose"] * pixel_size**2
    scaled = clean * (dose_px / max(float(clean.mean()), 1e-12))
    noisy = rng.poisson(np.clip(scaled, 0, None)).astype(np.float32)
    if params["read_noise"] > 0:
        noisy += rng.normal(scale=params["read_noise"], size=noisy.shape).astype(np.float32)
    return noisy


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


__all__ = ["Ranges", "TRAIN_RANGES", "TEST_RANGES", "TEST_RANGES_COARSE", "sample_parameters", "simulate_window",
           "simulate_descriptors", "bicrystal", "single_crystal", "distort"]
