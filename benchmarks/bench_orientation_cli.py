"""Whole-command orientation mapping: ``stemlab orient`` against pyxem 0.21 at its defaults.

What a user runs, timed from the shell's point of view (interpreter start-up, imports, numba
compilation, library, reading, matching, writing): each tool is one subprocess on the same
file of patterns, and the wall time of that subprocess is the figure.

Patterns come from an independent renderer: diffsims 0.7 (pyxem's kinematic simulator) spot
lists of fcc Al (random orientations uniform over SO(3), 200 kV, ``max_excitation_error``
0.05 1/A), drawn as Gaussian spots (1.5 px) on a 128 x 128 px detector in pyxem's convention
(col = cx - x / cal, row = cy + y / cal; ``docs/orientation.md``), plus a direct beam and a flat
background, with Poisson noise. The truth is the rotation given to diffsims. Scoring: orix's
symmetry-aware disorientation < 2 deg (pyxem's rotation against the truth; stemlab's against the
truth turned 180 deg about y: diffsims' beam travels along -z, ours along +z, see
``tests/orientation/test_reference_simulators.py``).

pyxem runs at its documented defaults (``get_orientation(frac_keep=0.1, n_best=1)``), with the
library its tutorial builds (``get_sample_reduced_fundamental(1 deg)``, ``max_excitation_error``
matched to the data) and the square-root intensity its docstring recommends; ``--pyxem-full``
adds a labelled run at ``frac_keep=1.0, n_best=3`` (the setting older tables used).
stemlab runs as ``stemlab orient FILE --phase Al --calibration ... -o OUT.h5`` at its defaults,
with a cold library cache (first run ever) and a warm one (every later run).

    python benchmarks/bench_orientation_cli.py --scan 128            # 16384 patterns in memory-sized file
    python benchmarks/bench_orientation_cli.py --scan 320 --no-pyxem # 102400 patterns streamed from disk
    python benchmarks/bench_orientation_cli.py --scan 320 --pyxem-lazy

Requires the ``bench`` extra (pyxem 0.21, diffsims). Prints one table row per command, with the
load average (``/proc/loadavg``) before and after each and the CPU time (user + system) of the
command: on a shared machine the wall time stretches with the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

CAL = 0.02  # 1/angstrom per px: a 128 px detector reaches 1.28 1/A at its edge
SHAPE = (128, 128)
MAX_EXCITATION = 0.05  # diffsims' linear relrod half-width, 1/A; the same-variance Gaussian is 0.05 / sqrt(6)
S_WIDTH = round(MAX_EXCITATION / 6 ** 0.5, 4)
PY = sys.executable


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def render(path: Path, n_side: int, n_orientations: int, dose: float, seed: int = 3) -> None:
    """A (n_side, n_side, 128, 128) uint16 .npy of diffsims Al patterns and the truth (crystal->lab, .npy)."""
    from diffsims.generators.simulation_generator import SimulationGenerator
    from orix.quaternion import Rotation

    from stemlab.crystal import resolve_phase
    from stemlab.crystal.rotations import random_rotations

    rng = np.random.default_rng(seed)
    R = random_rotations(n_orientations, rng)
    gen = SimulationGenerator(200.0, minimum_intensity=1e-3)
    g_max = float(np.hypot(*SHAPE)) / 2 * CAL
    spots = []
    for start in range(0, n_orientations, 2048):
        part = R[start:start + 2048]
        sims = gen.calculate_diffraction2d(resolve_phase("Al").orix_phase(),
                                           rotation=Rotation.from_matrix(np.transpose(part, (0, 2, 1))),
                                           reciprocal_radius=g_max, max_excitation_error=MAX_EXCITATION,
                                           with_direct_beam=False)
        for i in range(len(part)):
            c = sims.irot[i].coordinates if len(part) > 1 else sims.coordinates
            spots.append((c.data[:, 0].copy(), c.data[:, 1].copy(), np.asarray(c.intensity, float).copy()))
    n = n_side * n_side
    which = np.arange(n) % n_orientations
    rng.shuffle(which)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(n_side, n_side) + SHAPE)
    flat = out.reshape((n,) + SHAPE)
    rr, cc = np.mgrid[:SHAPE[0], :SHAPE[1]].astype(np.float32)
    cy, cx = SHAPE[0] // 2, SHAPE[1] // 2
    beam = np.exp(-((rr - cy) ** 2 + (cc - cx) ** 2) / (2 * 2.0 ** 2))
    beam *= 0.3 * dose / beam.sum()
    flat_bg = np.full(SHAPE, 0.1 * dose / (SHAPE[0] * SHAPE[1]), np.float32)
    clean = {}
    for i in range(n):
        o = which[i]
        if o not in clean:
            x, y, inten = spots[o]
            img = np.zeros(SHAPE, np.float32)
            if len(inten):
                w = inten / inten.sum() * 0.6 * dose / (2 * np.pi * 1.5 ** 2)
                gy = np.exp(-0.5 * ((rr[:, :1] - cy - y[None, :] / CAL) / 1.5) ** 2)  # (H, S)
                gx = np.exp(-0.5 * ((cc[:1].T - cx + x[None, :] / CAL) / 1.5) ** 2)  # (W, S)
                img = (gy * w) @ gx.T
            clean[o] = (img + beam + flat_bg).astype(np.float32)
            if len(clean) > 4096:
                clean.pop(next(iter(clean)))
        flat[i] = np.minimum(rng.poisson(clean[o]), 65535)
    out.flush()
    del out
    np.save(path.with_name(path.stem + "_truth.npy"), R[which].reshape(n_side, n_side, 3, 3))


PYXEM_SCRIPT = """
import sys, time, json
t0 = time.perf_counter()
import numpy as np
import pyxem as pxm
from diffsims.generators.simulation_generator import SimulationGenerator
from orix.crystal_map import Phase
from orix.sampling import get_sample_reduced_fundamental
from orix.io import save
t_import = time.perf_counter() - t0
path, out, cal, max_exc, frac_keep, n_best, lazy = sys.argv[1:8]
cal, max_exc, frac_keep, n_best, lazy = float(cal), float(max_exc), float(frac_keep), int(n_best), lazy == "1"
data = np.load(path, mmap_mode="r")
if lazy:
    import dask.array as da
    s = pxm.signals.LazyElectronDiffraction2D(da.from_array(data, chunks=(16, 16, -1, -1)))
else:
    s = pxm.signals.ElectronDiffraction2D(np.asarray(data))
s.set_diffraction_calibration(cal)
s.calibration.center = None  # the detector centre
t1 = time.perf_counter()
al = Phase.from_cif(sys.argv[8])
rot = get_sample_reduced_fundamental(1.0, point_group=al.point_group)
sims = SimulationGenerator(200.0, minimum_intensity=1e-3).calculate_diffraction2d(
    al, rotation=rot, reciprocal_radius=float(np.hypot(*data.shape[-2:])) / 2 * cal, max_excitation_error=max_exc,
    with_direct_beam=False)
t_lib = time.perf_counter() - t1
t2 = time.perf_counter()
n_r = data.shape[-1] // 2
polar = s.get_azimuthal_integral2d(npt=n_r, npt_azim=360, radial_range=(0, n_r * cal), mean=True) ** 0.5
om = polar.get_orientation(sims, frac_keep=frac_keep, n_best=n_best)
if lazy:
    om.compute()
xmap = om.to_crystal_map()
t_match = time.perf_counter() - t2
save(out, xmap, overwrite=True)
rot = xmap.rotations
if len(rot.shape) > 1:
    rot = rot[:, 0]
np.save(out + ".rot.npy", rot.to_matrix())
print(json.dumps(dict(imports=t_import, library=t_lib, match=t_match, templates=int(sims.rotations.size),
                      inside=time.perf_counter() - t0)))
"""


def run_command(cmd, env=None) -> tuple[float, str, float, float]:
    """Wall time (s), stdout, peak RSS (GB) and CPU time (user + system, s) of one command."""
    timer = ["/usr/bin/time", "-f", "%M %U %S"] if Path("/usr/bin/time").exists() else []
    t0 = time.perf_counter()
    p = subprocess.run(timer + cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr[-3000:]}")
    rss, user, system = (float(v) for v in p.stderr.strip().splitlines()[-1].split()) if timer else (np.nan,) * 3
    return wall, p.stdout, rss / 2**20, user + system


def within_2deg(R_found_c2l, R_true_c2l) -> float:
    from stemlab.crystal import resolve_phase
    from stemlab.orientation.evaluate import disorientation_deg

    return float(np.mean(disorientation_deg(R_found_c2l, R_true_c2l, resolve_phase("Al")) < 2.0))


def stemlab_rotations(h5: Path) -> np.ndarray:
    from orix.io import load

    xmap = load(str(h5))
    return np.transpose(xmap.rotations.to_matrix().reshape(-1, 3, 3), (0, 2, 1))  # crystal->lab


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--scan", type=int, default=128, help="scan side (patterns = scan^2)")
    ap.add_argument("--orientations", type=int, default=16384, help="distinct orientations (patterns reuse them)")
    ap.add_argument("--dose", type=float, default=20000.0, help="electrons per pattern")
    ap.add_argument("--workdir", default=None, help="folder for the pattern file (default: a temporary one)")
    ap.add_argument("--no-pyxem", action="store_true")
    ap.add_argument("--pyxem-full", action="store_true", help="also pyxem at frac_keep=1.0, n_best=3 (labelled)")
    ap.add_argument("--pyxem-lazy", action="store_true", help="pyxem on a lazy (dask) signal, streamed from disk")
    ap.add_argument("--stemlab-args", default="", help="extra options for stemlab orient")
    ap.add_argument("--compare-src", default=None,
                    help="also run stemlab orient from this source tree (e.g. a checkout of an older commit's src)")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-orient-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"al_{args.scan}_{args.orientations}_{int(args.dose)}.npy"
    truth_path = data.with_name(data.stem + "_truth.npy")
    if not (data.exists() and truth_path.exists()):
        t0 = time.perf_counter()
        render(data, args.scan, min(args.orientations, args.scan ** 2), args.dose)
        print(f"rendered {data} ({data.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    truth = np.load(truth_path).reshape(-1, 3, 3)
    n = len(truth)
    y180 = np.diag([-1.0, 1.0, -1.0])
    from stemlab.crystal.phase import shipped_cifs

    cif = str(shipped_cifs()["Al"])  # the same CIF for both tools
    print(f"{n} patterns of {SHAPE[0]} x {SHAPE[1]} px, {os.cpu_count()} cores, dose {args.dose:g}")
    print(f"{'command':<44} {'wall s':>7} {'CPU s':>7} {'patterns/s':>10} {'<2 deg':>7} {'peak GB':>7} {'load':>10}  inside")
    rows = []
    stemlab_bin = [PY, "-m", "stemlab.cli"]  # = the stemlab script
    cache = tempfile.mkdtemp(prefix="stemlab-cache-")
    base = stemlab_bin + ["orient", str(data), "--phase", "Al", "--calibration", f"{CAL}/angstrom", "--voltage", "200",
                          "--relrod", str(S_WIDTH)] + args.stemlab_args.split()
    runs = [("stemlab orient (cold library cache)", "stemlab", base, cache),
            ("stemlab orient (warm cache)", "stemlab", base, cache)]
    if args.compare_src:
        runs.append((f"stemlab orient from {args.compare_src} (warm)", "stemlab-other", base, cache))
    if not args.no_pyxem:
        script = work / "pyxem_orient.py"
        script.write_text(textwrap.dedent(PYXEM_SCRIPT))
        lazy = "1" if args.pyxem_lazy else "0"
        runs.append(("pyxem 0.21 defaults (frac_keep=0.1, n_best=1)", "pyxem",
                     [PY, str(script), str(data), str(work / "pyxem.h5"), str(CAL), str(MAX_EXCITATION), "0.1", "1",
                      lazy, cif], None))
        if args.pyxem_full:
            runs.append(("pyxem 0.21 frac_keep=1.0, n_best=3", "pyxem",
                         [PY, str(script), str(data), str(work / "pyxem.h5"), str(CAL), str(MAX_EXCITATION), "1.0",
                          "3", lazy, cif], None))
    for label, tool, cmd, cache_dir in runs:
        env = dict(os.environ)
        if cache_dir:
            env["STEMLAB_CACHE"] = cache_dir
        if tool == "stemlab-other":
            env["PYTHONPATH"] = args.compare_src
        out = work / ("pyxem.h5" if tool == "pyxem" else "stemlab.h5")
        if tool != "pyxem":
            cmd = cmd + ["-o", str(out)]
        before = load_average()
        wall, stdout, rss, cpu = run_command(cmd, env)
        after = load_average()
        if tool != "pyxem":
            acc = within_2deg(stemlab_rotations(out), y180 @ truth)
            inside = stdout.strip().splitlines()[0][:60]
        else:
            R = np.load(str(out) + ".rot.npy").reshape(-1, 3, 3)
            acc = within_2deg(np.transpose(R, (0, 2, 1)), truth)
            stats = json.loads(stdout.strip().splitlines()[-1])
            inside = ", ".join(f"{k} {v:.1f}" for k, v in stats.items() if k != "templates")
        rows.append((label, wall, n / wall, acc, cpu))
        print(f"{label:<44} {wall:>7.1f} {cpu:>7.1f} {n / wall:>10.0f} {acc * 100:>6.1f}% {rss:>7.2f} {before:>4}->{after:<5} "
              f"{inside}", flush=True)
    if not args.no_pyxem:
        ref = next(r for r in rows if r[0].startswith("pyxem 0.21 defaults"))
        for r in rows:
            if r[0].startswith("stemlab"):
                print(f"{r[0]}: {ref[1] / r[1]:.1f}x pyxem at its defaults in wall time, {ref[4] / r[4]:.1f}x in CPU "
                      f"time, {r[3] * 100:.1f} % vs {ref[3] * 100:.1f} % within 2 deg")


if __name__ == "__main__":
    main()
