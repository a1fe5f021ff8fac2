"""Adaptive acquisition in replay: accuracy of the filled-in maps against the budget, adaptive vs uniform.

For each scan the whole scan is indexed once (stemlab.index_orientations, Al + alpha-Fe, default
1 degree library, relrod width of the data: 0.012 1/A) and stemlab.live.replay simulates the
acquisitions on it; the table has, per budget (share of positions visited), the phase and
orientation accuracy against the known truth (orientation: within 2 degrees or kinematically
indistinguishable, stemlab.orientation.evaluate) and the agreement with the full scan, for the
adaptive and the uniform subsample, then the fill rules and five raster seeds at 25 % (docs/live.md,
"Where next and replay"). Scans:

* ``stemlab``: the sample scan, 48 x 48 positions of Voronoi Al + Fe grains (stemlab.simulate);
* ``diffsims``: 40 x 40 positions of a Voronoi Al + Fe polycrystal laid out here, every pattern made
  by diffsims (pyxem's kinematic simulator, none of our forward model; test extra) and drawn on a
  128 px detector in pyxem's convention with Poisson noise (tests/orientation/
  test_reference_simulators.py shows stemlab reads that convention: its rotations are diffsims'
  turned 180 degrees about y);
* ``astar``: the real 3 x 2 NanoMegas blockfile of ../shared/data (no truth; agreement only).

~5 min on 2 cores:  python benchmarks/bench_replay.py [--scans stemlab diffsims astar] [--json OUT_DIR]
[--figure docs/images/live_replay.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CAL = 0.0165  # 1/angstrom per detector pixel
PHASES = ["Al", "alpha-Fe"]
BUDGETS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Y180 = np.diag([-1.0, 1.0, -1.0])  # diffsims' frame -> stemlab's lab frame (beam along -z there, +z here)
ZONES = {"Al": [(0, 0, 1), (0, 1, 1), (1, 1, 1), (1, 1, 2)], "alpha-Fe": [(0, 1, 1), (1, 1, 1), (1, 1, 2), (1, 1, 3)]}


def diffsims_scan(shape=(40, 40), n_grains=12, *, pattern=128, dose=20000.0, seed=0):
    """A two-phase Voronoi polycrystal whose patterns diffsims simulates; truth in metadata['ground_truth']."""
    from diffsims.generators.simulation_generator import SimulationGenerator
    from orix.quaternion import Rotation

    from stemlab import Axis, Dataset
    from stemlab.crystal import resolve_phase
    from stemlab.crystal.rotations import axis_angle_matrix, random_rotations, zone_axis_rotation

    rng = np.random.default_rng(seed)
    ny, nx = shape
    seeds = rng.random((n_grains, 2)) * [ny, nx]
    yy, xx = np.mgrid[0:ny, 0:nx]
    grain = np.argmin((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2, axis=-1)
    grain_phase = rng.permutation(np.arange(n_grains) % 2)
    phases = [resolve_phase(p) for p in PHASES]
    R = np.empty((n_grains, 3, 3))
    for g in range(n_grains):
        ph = PHASES[grain_phase[g]]
        if rng.random() < 0.75:  # near a low-index zone, 0.5-1.5 degrees off, any in-plane angle
            uvw = ZONES[ph][rng.integers(len(ZONES[ph]))]
            tilt = axis_angle_matrix(np.r_[rng.normal(size=2), 0.0], np.radians(rng.uniform(0.5, 1.5)))
            R[g] = tilt @ zone_axis_rotation(phases[grain_phase[g]].structure, uvw, rng.uniform(0, 360))
        else:
            R[g] = random_rotations(1, rng)[0]
    gen = SimulationGenerator(200.0, scattering_params="lobato", minimum_intensity=1e-8)
    rr, cc = np.mgrid[:pattern, :pattern]
    c0 = pattern // 2
    images = np.empty((n_grains, pattern, pattern))
    for g in range(n_grains):
        sim = gen.calculate_diffraction2d(phases[grain_phase[g]].orix_phase(),
                                          rotation=Rotation.from_matrix(R[g].T[None]), reciprocal_radius=1.45,
                                          max_excitation_error=0.03, with_direct_beam=False)
        coords = sim.coordinates
        img = 50 * np.exp(-((rr - c0) ** 2 + (cc - c0) ** 2) / 8.0) + 2.0 * np.exp(
            -((rr - c0) ** 2 + (cc - c0) ** 2) / (2 * (pattern / 4) ** 2))  # direct beam + diffuse halo
        x, y, w = coords.data[:, 0], coords.data[:, 1], coords.intensity
        for xi, yi, wi in zip(x, y, w / w.max()):  # pyxem's detector: col = c0 - x / cal, row = c0 + y / cal
            img += 30 * wi * np.exp(-((rr - c0 - yi / CAL) ** 2 + (cc - c0 + xi / CAL) ** 2) / (2 * 1.5**2))
        images[g] = img * dose / img.sum()
    data = rng.poisson(images[grain]).astype(np.uint16)
    axes = (Axis("scan_y", ny, 2.0, 0.0, "nm", True), Axis("scan_x", nx, 2.0, 0.0, "nm", True),
            Axis("ky", pattern, CAL, -c0 * CAL, "1/angstrom"), Axis("kx", pattern, CAL, -c0 * CAL, "1/angstrom"))
    truth = {"phase": grain_phase[grain], "grain": grain, "orientation": (Y180 @ R)[grain], "phase_names": PHASES}
    meta = {"voltage_kv": 200.0, "reciprocal_pixel_per_angstrom": CAL, "ground_truth": truth,
            "simulation": {"model": "diffsims SimulationGenerator (lobato), drawn by bench_replay.py",
                           "s_width_per_angstrom": 0.012, "spot_sigma_px": 1.5, "precession_deg": 0.0}}
    return Dataset(data, axes, kind="4dstem", name="two-phase polycrystal (diffsims)", metadata=meta)


def load_scan(name):
    """(dataset, index_orientations keyword arguments) of a named scan."""
    if name == "stemlab":
        import stemlab

        return stemlab.sample_4dstem(), {"s_width": 0.012}  # the sample's relrod width (docs/orientation.md)
    if name == "diffsims":
        # diffsims' relrod is linear, 1 - |s| / 0.03: the library's Gaussian of the same variance
        return diffsims_scan(), {"calibration": CAL, "s_width": 0.012}
    from stemlab.io import load_one

    return load_one(DATA / "4dstem" / "astar_sped_3x2.blo"), {}


def print_table(name, report):
    truth = "full_phase_accuracy" in report
    head = ["budget", "visited"]
    keys = []
    for quantity in ("phase", "orientation"):
        for what in (("accuracy", "agreement") if truth else ("agreement",)):
            for how in ("adaptive", "uniform"):
                keys.append(f"{how}_{quantity}_{what}")
    print(f"\n{name}: {report['settings']['positions']} positions" + (
        f"; full scan: phase accuracy {report['full_phase_accuracy']:.3f}, orientation accuracy "
        f"{report['full_orientation_accuracy']:.3f}" if truth else " (no ground truth)"))
    print(" | ".join(head + [k.replace("_phase_", " phase ").replace("_orientation_", " orient. ") for k in keys]))
    for row in report["curve"]:
        print(" | ".join([f"{row['budget']:.2f}", str(row["visited"])] + [f"{row[k]:.3f}" for k in keys]))


def save_figure(path, ds, reference, budget=0.25):
    """Full-scan phase map, where_next on the adaptive visit, and the filled maps of both samplings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stemlab.live.advice import where_next
    from stemlab.live.neighbours import fill_phase, nearest_indexed
    from stemlab.live.replay import adaptive_masks, uniform_mask

    rng = np.random.default_rng(0)
    (_, adaptive), = adaptive_masks(reference, [budget], rng=rng)
    uniform = uniform_mask(adaptive.shape, budget, rng)
    full = reference.arrays["phase"]
    panels = [("full scan: phase", full, None)]
    advice = where_next(reference, pending=~adaptive)
    panels.append((f"where next after {budget:.0%} adaptive", advice.score, adaptive))
    for name, mask in (("adaptive", adaptive), ("uniform", uniform)):
        filled, _ = fill_phase(full, mask, nearest_indexed(mask, 4))
        agree = np.mean(filled == full)
        panels.append((f"{name} {budget:.0%}: filled phase (agr. {agree:.3f})", filled, mask))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3))
    ay, ax = ds.nav_axes
    extent = (ax.offset - ax.scale / 2, ax.offset + (ax.size - 0.5) * ax.scale,
              ay.offset + (ay.size - 0.5) * ay.scale, ay.offset - ay.scale / 2)
    for axis, (title, image, mask) in zip(axes, panels):
        axis.imshow(image, extent=extent, cmap="viridis" if "where" in title else "coolwarm", interpolation="nearest")
        if mask is not None:
            yy, xx = np.nonzero(mask)
            axis.plot(ax.offset + xx * ax.scale, ay.offset + yy * ay.scale, "k.", ms=1.5)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel(f"x ({ax.units})")
    axes[0].set_ylabel(f"y ({ay.units})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", nargs="+", default=["stemlab", "diffsims", "astar"],
                    choices=["stemlab", "diffsims", "astar"])
    ap.add_argument("--json", type=Path, help="folder for the replay reports (one JSON per scan)")
    ap.add_argument("--figure", type=Path, help="PNG of the maps at 25 %% (first scan with ground truth)")
    args = ap.parse_args(argv)
    from stemlab.live.replay import replay
    from stemlab.orientation import index_orientations

    print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    for name in args.scans:
        if name == "astar" and not (DATA / "4dstem" / "astar_sped_3x2.blo").exists():
            print("\nastar: ../shared/data absent, skipped")
            continue
        t0 = time.perf_counter()
        ds, settings = load_scan(name)
        t1 = time.perf_counter()
        reference = index_orientations(ds, PHASES, **settings)
        t2 = time.perf_counter()
        budgets = BUDGETS if name != "astar" else (0.34, 0.5)
        report = replay(ds, PHASES, reference=reference, budget=budgets[3] if len(budgets) > 3 else budgets[0],
                        budgets=budgets)
        t3 = time.perf_counter()
        print_table(name, report)
        fills = {k: replay(ds, PHASES, reference=reference, budget=report["budget"], budgets=[],
                           fill_neighbours=k) for k in (1, 4, 8)}
        print("fill rule at budget {:.2f}: ".format(report["budget"]) + "; ".join(
            f"{k} neighbour(s): adaptive phase agreement {r['adaptive_phase_agreement']:.3f}, "
            f"uniform {r['uniform_phase_agreement']:.3f}" for k, r in fills.items()))
        seeds = [replay(ds, PHASES, reference=reference, budget=report["budget"], budgets=[], seed=seed)
                 for seed in range(5)]
        keys = [k for k in seeds[0] if k.startswith(("adaptive_phase", "uniform_phase", "adaptive_orientation_acc",
                                                        "uniform_orientation_acc"))]
        print("5 seeds (raster offsets) at budget {:.2f}: ".format(report["budget"]) + "; ".join(
            f"{k} {np.mean([r[k] for r in seeds]):.3f} [{min(r[k] for r in seeds):.3f}, "
            f"{max(r[k] for r in seeds):.3f}]" for k in keys))
        print(f"time: data {t1 - t0:.1f} s, indexing {t2 - t1:.1f} s, replay over {len(budgets)} budgets "
              f"{t3 - t2:.1f} s; load average {open('/proc/loadavg').read().split()[:3]}")
        if args.figure and "full_phase_accuracy" in report:
            save_figure(args.figure, ds, reference)
            args.figure = None
        if args.json:
            args.json.mkdir(parents=True, exist_ok=True)
            (args.json / f"replay_{name}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
