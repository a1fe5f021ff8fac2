"""Make the held-out abTEM set of the crystal classifier: multislice HAADF images of real
materials along their zone axes, from a simulator that is not ours (abTEM, PRISM).

    pip install "napari-stemlab[bench]"        # abtem + ase
    python benchmarks/make_abtem_heldout.py [--out benchmarks/data/abtem_heldout.npz] [--only Fe] [--append]

Per material and zone axis: the orthogonal cell (ase.lattice along explicit orthogonal
directions, so the stacking along the beam is the crystal's: ase.build.surface + orthogonalize
can stack the layers of bcc (110) on top of each other) is repeated to a supercell at least
:data:`SUPERCELL` angstrom wide (the probe must not wrap onto itself), each atom of a layer at
height z shifted by z tan(tilt) in-plane (a crystal tilted off the zone axis by a small angle is,
to first order, this shear; the cell stays periodic), and one projected unit cell is scanned
with PRISM (abTEM SMatrix, interpolation 2, 200 kV, 20 mrad) at two defocus values; the
thickness (3, 5 or 7 nm) and the tilt (0, 1 or 2 degrees) change from case to case; a perfect crystal's image is periodic, so that one cell tiles the whole field
(:func:`tile` in ``bench_classify_abtem.py``). HAADF 60-115 mrad (below the 119 mrad that the
0.07 angstrom potential sampling simulates). No frozen phonons and no source size: the
benchmark adds a Gaussian source blur, a random in-plane rotation, shot noise and pixel size
when it tiles the cells.

The file stores, per case: material, structure, zone, lattice constants, class name (or
'out-of-class'), thickness (angstrom), defocus (angstrom), tilt (degrees), the cell size
(angstrom) and the scanned cell image (float16, a few thousand values): a few hundred kB in all.
This set is never used for training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "abtem_heldout.npz"
SUPERCELL = 12.0  # angstrom, minimum lateral supercell side
SAMPLING = 0.07  # angstrom, potential sampling
SCAN_STEP = 0.12  # angstrom, probe step inside the scanned cell
ENERGY = 200e3
SEMIANGLE = 20.0  # mrad
DETECTOR = (60.0, 115.0)  # mrad
THICKNESSES = (30.0, 50.0, 70.0)  # angstrom (whole cells: the nearest multiple above), taken in turn
TILTS = (0.0, 1.0, 2.0)  # degrees off the zone axis, one drawn per case
DEFOCI = (0.0, 30.0)  # angstrom
SLICE = 2.0  # angstrom

# (material, structure kind, a, c, zone axes (Miller indices of the normal, 3-index), class family)
IN_CLASS = [
    ("Fe", "bcc", 2.87, None, [(1, 0, 0), (1, 1, 0), (1, 1, 1)]),
    ("Mo", "bcc", 3.15, None, [(1, 0, 0), (1, 1, 0)]),
    ("W", "bcc", 3.16, None, [(1, 1, 1)]),
    ("Cu", "fcc", 3.61, None, [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 1)]),
    ("Al", "fcc", 4.05, None, [(1, 0, 0), (1, 1, 0)]),
    ("Au", "fcc", 4.08, None, [(1, 0, 0), (1, 1, 1)]),
    ("Ni", "fcc", 3.52, None, [(1, 1, 0)]),
    ("Pt", "fcc", 3.92, None, [(2, 1, 1)]),
    ("Ti", "hcp", 2.95, 4.68, [(0, 0, 1), (1, 0, 0), (1, 1, 0)]),
    ("Mg", "hcp", 3.21, 5.21, [(0, 0, 1), (1, 1, 0)]),
    ("Zn", "hcp", 2.66, 4.95, [(0, 0, 1), (1, 0, 0)]),
    ("Co", "hcp", 2.51, 4.07, [(1, 0, 0)]),
]
OUT_OF_CLASS = ["Si [110]", "SrTiO3 [001]", "MoS2 [0001]", "In [100]"]
HCP_ZONE = {(0, 0, 1): "0001", (1, 0, 0): "10-10", (1, 1, 0): "11-20"}  # plane (hki0) -> direction [hki0]


def zone_label(kind: str, hkl) -> str:
    return HCP_ZONE[tuple(hkl)] if kind == "hcp" else "".join(str(i) for i in hkl)


# orthogonal cell edges (x, y) and beam direction z of each zone axis: cubic [uvw], hcp [UVTW]
CUBIC_DIRECTIONS = {(1, 0, 0): [[0, 1, 0], [0, 0, 1], [1, 0, 0]], (1, 1, 0): [[0, 0, 1], [1, -1, 0], [1, 1, 0]],
                    (1, 1, 1): [[1, -1, 0], [1, 1, -2], [1, 1, 1]], (2, 1, 1): [[0, 1, -1], [-1, 1, 1], [2, 1, 1]]}
HCP_DIRECTIONS = {(0, 0, 1): [[2, -1, -1, 0], [0, 1, -1, 0], [0, 0, 0, 1]],
                  (1, 0, 0): [[-1, 2, -1, 0], [0, 0, 0, 1], [1, 0, -1, 0]],
                  (1, 1, 0): [[0, 0, 0, 1], [1, -1, 0, 0], [1, 1, -2, 0]]}


def oriented_cell(kind, symbol, a, c, hkl):
    """Orthogonal ase cell (whole stacking period) with the zone axis along z, built by
    ase.lattice along explicit orthogonal directions."""
    from ase.lattice.cubic import BodyCenteredCubic, FaceCenteredCubic
    from ase.lattice.hexagonal import HexagonalClosedPacked

    if kind == "hcp":
        atoms = HexagonalClosedPacked(symbol=symbol, latticeconstant={"a": a, "c": c},
                                      directions=HCP_DIRECTIONS[tuple(hkl)], size=(1, 1, 1))
    else:
        make = FaceCenteredCubic if kind == "fcc" else BodyCenteredCubic
        atoms = make(symbol=symbol, latticeconstant=a, directions=CUBIC_DIRECTIONS[tuple(hkl)], size=(1, 1, 1))
    return atoms


def out_of_class_cell(name):
    """Orthogonal cells of structures outside the classes, zone axis along z."""
    import abtem
    from ase import Atoms
    from ase.build import mx2

    if name == "Si [110]":
        from ase.lattice.cubic import Diamond

        return Diamond(symbol="Si", latticeconstant=5.431, directions=CUBIC_DIRECTIONS[(1, 1, 0)],
                       size=(1, 1, 1)), "diamond", 5.431
    if name == "SrTiO3 [001]":
        a = 3.905
        atoms = Atoms("SrTiO3", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5),
                                                   (0, 0.5, 0.5)], cell=[a, a, a], pbc=True)
        return atoms, "perovskite", a
    if name == "MoS2 [0001]":
        atoms = mx2("MoS2", kind="2H", a=3.16, thickness=3.17, vacuum=0.0)
        atoms.cell[2, 2] = 12.3 / 2  # one layer per 6.15 A along the beam (2H stacking projected: one honeycomb)
        atoms.center(axis=2)
        return abtem.orthogonalize_cell(atoms), "MoS2", 3.16
    if name == "In [100]":
        a, c = 3.25, 4.95
        atoms = Atoms("In2", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5)], cell=[c, a, a], pbc=True)
        return atoms, "tetragonal-I (c along x)", a
    raise ValueError(name)


def supercell(cell_atoms, thickness):
    """Repeat laterally to >= SUPERCELL angstrom and along z to >= thickness angstrom."""
    lx, ly, lz = np.diag(cell_atoms.cell)
    reps = (int(np.ceil(SUPERCELL / lx)), int(np.ceil(SUPERCELL / ly)), int(np.ceil(thickness / lz)))
    return cell_atoms * reps, (lx, ly)


def tilt_shear(atoms, tilt_deg, direction_deg):
    """Shift every atom in-plane by z tan(tilt) along ``direction_deg`` (wrapped into the cell)."""
    atoms = atoms.copy()
    t = np.tan(np.radians(tilt_deg))
    d = np.radians(direction_deg)
    pos = atoms.positions
    pos[:, 0] += pos[:, 2] * t * np.cos(d)
    pos[:, 1] += pos[:, 2] * t * np.sin(d)
    atoms.positions = pos
    atoms.wrap()
    return atoms


def simulate(atoms, cell_xy, defoci):
    """{defocus: HAADF image of one cell (nx, ny) float32} by PRISM (abTEM's PRISM takes no exit
    planes, so each thickness is its own run)."""
    import abtem

    lz = float(atoms.cell[2, 2])
    pot = abtem.Potential(atoms, sampling=SAMPLING, slice_thickness=lz / int(np.ceil(lz / SLICE)),
                          projection="infinite", parametrization="lobato")
    detector = abtem.AnnularDetector(inner=DETECTOR[0], outer=DETECTOR[1])
    scan = abtem.GridScan(start=(0, 0), end=cell_xy, sampling=SCAN_STEP, endpoint=False)
    s = abtem.SMatrix(semiangle_cutoff=SEMIANGLE, energy=ENERGY, potential=pot, interpolation=2).build(lazy=False)
    out = {}
    for df in defoci:
        ctf = abtem.CTF(defocus=df, semiangle_cutoff=SEMIANGLE, energy=ENERGY)
        meas = s.reduce(scan=scan, ctf=ctf, detectors=detector)
        meas = meas.compute() if hasattr(meas, "compute") else meas
        out[df] = np.asarray(meas.array, dtype=np.float32)
    return out


FIRST = 2  # alpha-Fe [100] and [110] come first, then the out-of-class structures (the file is written after each case)


def cases():
    """(material, kind, a, c, hkl or None, class name or 'out-of-class'): alpha-Fe [100] and [110],
    the structures outside the classes, then the other in-class cases, smallest cell first (cheapest)."""
    inside = [(sym, kind, a, c, hkl, f"{kind} [{zone_label(kind, hkl)}]")
              for sym, kind, a, c, zones in IN_CLASS for hkl in zones]
    outside = [(name, "out", None, None, None, "out-of-class") for name in OUT_OF_CLASS]
    rest = sorted(inside[FIRST:], key=lambda k: np.prod(np.diag(oriented_cell(k[1], k[0], k[2], k[3], k[4]).cell)))
    yield from inside[:FIRST] + outside + rest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--only", nargs="*", default=None, help="materials to make (default all)")
    ap.add_argument("--append", action="store_true",
                    help="keep the cases already in --out and make only the missing ones")
    args = ap.parse_args(argv)
    import dask

    dask.config.set(scheduler="synchronous")
    rng = np.random.default_rng(15)
    records, images = load(Path(args.out)) if args.append and Path(args.out).exists() else ([], [])
    done = {(r[0], r[2]) for r in records}
    t_all = time.perf_counter()
    for n_case, (sym, kind, a, c, hkl, cls) in enumerate(cases()):
        # every case draws its tilt and tilt direction, made or not: a partial run draws what a full one does
        tilt, direction = float(rng.choice(TILTS)), float(rng.uniform(0, 360))
        name = (sym.split(" ")[0], sym.split(" ")[1].strip("[]")) if kind == "out" else (sym, zone_label(kind, hkl))
        if (args.only and sym not in args.only) or name in done:
            continue
        t0 = time.perf_counter()
        if kind == "out":
            cell, structure, a = out_of_class_cell(sym)
            material, zone = sym.split(" ")[0], sym.split(" ")[1].strip("[]")
        else:
            cell, structure, material, zone = oriented_cell(kind, sym, a, c, hkl), kind, sym, zone_label(kind, hkl)
        # thickness in turn over the cases
        for thickness in (THICKNESSES[n_case % len(THICKNESSES)],):
            atoms, cell_xy = supercell(cell, thickness)
            atoms = tilt_shear(atoms, tilt, direction)
            for df, img in simulate(atoms, cell_xy, DEFOCI).items():
                records.append((material, structure, zone, a, c or 0.0, cls, float(atoms.cell[2, 2]), df, tilt,
                                cell_xy[0], cell_xy[1]))
                images.append(img)
        print(f"{material} [{zone}] ({cls}): cell {cell_xy[0]:.2f} x {cell_xy[1]:.2f} A, {len(atoms)} atoms, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        save(Path(args.out), records, images)
    print(f"{len(images)} images, {time.perf_counter() - t_all:.0f} s")


def load(path: Path):
    """(records, images) of the cases in a file written by :func:`save`."""
    d = np.load(path)
    keys = ("material", "structure", "zone", "a", "c", "class_name", "thickness", "defocus", "tilt")
    records = [tuple(d[k][i].item() for k in keys) + tuple(float(v) for v in d["cell"][i])
               for i in range(len(d["material"]))]
    images = [d["image"][i][:nx, :ny].astype(np.float32) for i, (nx, ny) in enumerate(d["cell_pixels"])]
    return records, images


def save(out: Path, records, images):
    """Write the cases made so far (atomically: a partial run leaves a readable file)."""
    import os

    shape = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    stack = np.zeros((len(images),) + shape, np.float16)
    for k, img in enumerate(images):
        stack[k, :img.shape[0], :img.shape[1]] = img / img.mean()
    cols = list(zip(*records))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.npz")
    np.savez_compressed(tmp, material=np.array(cols[0]), structure=np.array(cols[1]), zone=np.array(cols[2]),
                        a=np.array(cols[3]), c=np.array(cols[4]), class_name=np.array(cols[5]),
                        thickness=np.array(cols[6]), defocus=np.array(cols[7]), tilt=np.array(cols[8]),
                        cell=np.stack([cols[9], cols[10]], 1), cell_pixels=np.array([i.shape for i in images]),
                        image=stack, scan_step=np.array(SCAN_STEP))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
