"""Make abTEM multislice bicrystals for the crystal classifier's boundary benchmark: two grains
(two phases, or one phase in two orientations) side by side with straight, known boundaries.

    pip install "napari-stemlab[bench]"        # abtem + ase
    python benchmarks/make_abtem_bicrystals.py [--out benchmarks/data/abtem_bicrystals.npz] [--only 0 2]

Each grain is an orthogonal ase cell with its zone axis along z (built along explicit crystal
directions, as in ``make_abtem_heldout.py``). The supercell is :data:`WIDTH` angstrom across the
boundary (x) and a common period of both grains along it (y, between 20 and 30 angstrom; each
grain is strained along y by the small mismatch, at most :data:`MAX_MISMATCH`, so that the
supercell is periodic). Grain A fills x in [0, WIDTH / 2), grain B [WIDTH / 2, WIDTH): the
periodic supercell has two boundaries, at x = 0 and x = WIDTH / 2. Atoms of B closer than
:data:`MIN_DISTANCE` angstrom to an atom of A are removed. The whole supercell is scanned by
PRISM (abTEM SMatrix, 200 kV, 20 mrad, HAADF 60-115 mrad, 0.2 angstrom probe step, interpolation
so that the probe sees a 12-14 angstrom cell); the image is periodic in x and y, so the benchmark
(``bench_classify_abtem.py --bicrystals``) resamples, turns and tiles it like the held-out cells.

Stores per bicrystal: the two grains' names and class names, the supercell (angstrom), the
boundary x positions (angstrom) and the image (float16, indexed [x, y]). Never used for training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from make_abtem_heldout import DETECTOR, ENERGY, SAMPLING, SEMIANGLE, SLICE

OUT = Path(__file__).resolve().parent / "data" / "abtem_bicrystals.npz"
WIDTH = 48.0  # angstrom across the boundaries (two grains of 24 angstrom)
THICKNESS = 30.0  # angstrom (nearest whole number of each grain's periods above)
SCAN_STEP = 0.2  # angstrom
MIN_DISTANCE = 1.5  # angstrom
MAX_MISMATCH = 0.02

# (name, ase builder kind, symbol, a, c, directions x, y, z (beam), class name)
GRAINS = {
    "Al [100]": ("fcc", "Al", 4.05, None, [[0, 1, 0], [0, 0, 1], [1, 0, 0]], "fcc [100]"),
    "Al [100] 45 deg": ("fcc", "Al", 4.05, None, [[0, 1, 1], [0, -1, 1], [1, 0, 0]], "fcc [100]"),
    "Cu [110]": ("fcc", "Cu", 3.61, None, [[0, 0, 1], [1, -1, 0], [1, 1, 0]], "fcc [110]"),
    "Ti [0001]": ("hcp", "Ti", 2.95, 4.68, [[2, -1, -1, 0], [0, 1, -1, 0], [0, 0, 0, 1]], "hcp [0001]"),
    "Fe [100]": ("bcc", "Fe", 2.87, None, [[0, 1, 0], [0, 0, 1], [1, 0, 0]], "bcc [100]"),
    "Ni [111]": ("fcc", "Ni", 3.52, None, [[1, -1, 0], [1, 1, -2], [1, 1, 1]], "fcc [111]"),
}
PAIRS = [("Al [100]", "Al [100] 45 deg"), ("Cu [110]", "Ti [0001]"), ("Fe [100]", "Ni [111]")]


def grain_cell(name):
    from ase.lattice.cubic import BodyCenteredCubic, FaceCenteredCubic
    from ase.lattice.hexagonal import HexagonalClosedPacked

    kind, symbol, a, c, directions, _ = GRAINS[name]
    if kind == "hcp":
        return HexagonalClosedPacked(symbol=symbol, latticeconstant={"a": a, "c": c}, directions=directions,
                                     size=(1, 1, 1))
    make = FaceCenteredCubic if kind == "fcc" else BodyCenteredCubic
    return make(symbol=symbol, latticeconstant=a, directions=directions, size=(1, 1, 1))


def common_period(ly_a, ly_b, lo=20.0, hi=30.0):
    """The length in [lo, hi] angstrom closest to whole multiples of both periods (their mean)."""
    best = None
    for n in range(int(np.ceil(lo / ly_a)), int(hi / ly_a) + 1):
        m = max(1, int(round(n * ly_a / ly_b)))
        mismatch = abs(n * ly_a - m * ly_b) / (n * ly_a)
        if best is None or mismatch < best[0]:
            best = (mismatch, n, m)
    mismatch, n, m = best
    if mismatch > 2 * MAX_MISMATCH:
        raise ValueError(f"periods {ly_a:.3f} and {ly_b:.3f} A have no common period in [{lo}, {hi}] A")
    return 0.5 * (n * ly_a + m * ly_b), n, m


def build(pair):
    """ase Atoms of the bicrystal supercell and the boundary x positions (angstrom)."""
    from ase import Atoms

    cells = [grain_cell(name) for name in pair]
    ly, *reps_y = common_period(cells[0].cell[1, 1], cells[1].cell[1, 1])
    parts = []
    for k, (cell, ny) in enumerate(zip(cells, reps_y)):
        lx, lyc, lz = np.diag(cell.cell)
        block = cell * (int(np.ceil(WIDTH / 2 / lx)) + 1, ny, int(np.ceil(THICKNESS / lz)))
        pos = block.positions.copy()
        pos[:, 1] *= ly / (ny * lyc)  # the small strain that makes the supercell periodic along y
        pos[:, 0] += k * WIDTH / 2
        keep = (pos[:, 0] >= k * WIDTH / 2) & (pos[:, 0] < (k + 1) * WIDTH / 2)
        parts.append(Atoms(block.numbers[keep], positions=pos[keep]))
    a, b = parts
    depth = max(p.positions[:, 2].max() for p in parts) + 1.0
    atoms = Atoms(cell=[WIDTH, ly, depth], pbc=True)
    atoms += a
    # drop atoms of B too close to A across either boundary (periodic in x and y)
    d = b.positions[:, None, :] - a.positions[None, :, :]
    d[..., 0] -= WIDTH * np.round(d[..., 0] / WIDTH)
    d[..., 1] -= ly * np.round(d[..., 1] / ly)
    atoms += b[np.linalg.norm(d, axis=-1).min(1) >= MIN_DISTANCE]
    return atoms, np.array([0.0, WIDTH / 2])


def simulate(atoms):
    """HAADF image (nx, ny) float32 of the whole supercell, by PRISM."""
    import abtem

    lx, ly, lz = np.diag(atoms.cell)
    pot = abtem.Potential(atoms, sampling=SAMPLING, slice_thickness=lz / int(np.ceil(lz / SLICE)),
                          projection="infinite", parametrization="lobato")
    interp = (max(1, int(lx // 12)), max(1, int(ly // 12)))
    detector = abtem.AnnularDetector(inner=DETECTOR[0], outer=DETECTOR[1])
    scan = abtem.GridScan(start=(0, 0), end=(lx, ly), sampling=SCAN_STEP, endpoint=False)
    s = abtem.SMatrix(semiangle_cutoff=SEMIANGLE, energy=ENERGY, potential=pot, interpolation=interp).build(lazy=False)
    ctf = abtem.CTF(defocus=0.0, semiangle_cutoff=SEMIANGLE, energy=ENERGY)
    meas = s.reduce(scan=scan, ctf=ctf, detectors=detector)
    meas = meas.compute() if hasattr(meas, "compute") else meas
    return np.asarray(meas.array, dtype=np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--only", type=int, nargs="*", default=None, help="indices into PAIRS (default all)")
    args = ap.parse_args(argv)
    import dask

    dask.config.set(scheduler="synchronous")
    rec = {"grain_a": [], "grain_b": [], "class_a": [], "class_b": [], "cell": [], "boundaries": [], "image": []}
    for i, pair in enumerate(PAIRS):
        if args.only is not None and i not in args.only:
            continue
        t0 = time.perf_counter()
        atoms, boundaries = build(pair)
        img = simulate(atoms)
        for key, val in zip(rec, (pair[0], pair[1], GRAINS[pair[0]][-1], GRAINS[pair[1]][-1],
                                  np.diag(atoms.cell)[:2], boundaries, img / img.mean())):
            rec[key].append(val)
        print(f"{pair[0]} | {pair[1]}: {atoms.cell[0, 0]:.1f} x {atoms.cell[1, 1]:.2f} A, {len(atoms)} atoms, "
              f"image {img.shape}, {time.perf_counter() - t0:.0f} s", flush=True)
        save(Path(args.out), rec)


def save(out: Path, rec):
    """Write the bicrystals made so far (atomically)."""
    import os

    shape = max(i.shape[0] for i in rec["image"]), max(i.shape[1] for i in rec["image"])
    stack = np.zeros((len(rec["image"]),) + shape, np.float16)
    for k, img in enumerate(rec["image"]):
        stack[k, :img.shape[0], :img.shape[1]] = img
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.npz")
    np.savez_compressed(tmp, grain_a=np.array(rec["grain_a"]), grain_b=np.array(rec["grain_b"]),
                        class_a=np.array(rec["class_a"]), class_b=np.array(rec["class_b"]),
                        cell=np.array(rec["cell"]), boundaries=np.array(rec["boundaries"]),
                        image_pixels=np.array([i.shape for i in rec["image"]]), image=stack,
                        scan_step=np.array(SCAN_STEP))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
