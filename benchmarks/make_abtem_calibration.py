"""Make the abTEM *calibration* library of the crystal classifier's fast HAADF model: a few
multislice (PRISM) cell images of materials and zone axes that the held-out set
(``make_abtem_heldout.py``) does not contain, at other thicknesses, tilts, defocus values and
seeds. It is used only to fit the channelling column profile of
:mod:`stemlab.simulate.haadf` (``fit_channelling.py``); it is never used as training windows,
and the held-out set is never used for any of this.

    python benchmarks/make_abtem_calibration.py [--out benchmarks/data/abtem_calibration.npz]

The microscope, potential, detector and file format are the held-out script's (its functions are
reused), so the library differs from the held-out set only in what is sampled: materials and
zone axes (listed in :data:`CASES`; Ni, Au, Mg, W, Co appear in the held-out set too, in other zone
axes), thicknesses 4, 6, 9 nm, tilts 0.5 and 1.5 degrees, defocus -20 and +15 angstrom, seed 99.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from make_abtem_heldout import oriented_cell, save, simulate, supercell, tilt_shear, zone_label

OUT = Path(__file__).resolve().parent / "data" / "abtem_calibration.npz"
THICKNESSES = (40.0, 60.0, 90.0)  # angstrom, taken in turn
TILTS = (0.0, 0.5, 1.5)  # degrees, one drawn per case
DEFOCI = (-20.0, 15.0)  # angstrom
# (material, kind, a, c, zone axis): none of these (material, zone) pairs is in the held-out set
CASES = [
    ("Ni", "fcc", 3.52, None, (1, 0, 0)), ("Ag", "fcc", 4.09, None, (1, 1, 0)),
    ("Pd", "fcc", 3.89, None, (1, 1, 1)), ("Au", "fcc", 4.08, None, (2, 1, 1)),
    ("Cr", "bcc", 2.88, None, (1, 1, 0)), ("V", "bcc", 3.03, None, (1, 0, 0)),
    ("Ta", "bcc", 3.31, None, (1, 1, 1)), ("W", "bcc", 3.16, None, (1, 1, 0)),
    ("Zr", "hcp", 3.23, 5.15, (1, 0, 0)), ("Mg", "hcp", 3.21, 5.21, (1, 0, 0)),
    ("Co", "hcp", 2.51, 4.07, (0, 0, 1)),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--only", nargs="*", default=None, help="materials to make (default all)")
    args = ap.parse_args(argv)
    import dask

    dask.config.set(scheduler="synchronous")
    rng = np.random.default_rng(99)
    records, images = [], []
    t_all = time.perf_counter()
    for n_case, (sym, kind, a, c, hkl) in enumerate(CASES):
        tilt, direction = float(rng.choice(TILTS)), float(rng.uniform(0, 360))
        if args.only and sym not in args.only:
            continue
        t0 = time.perf_counter()
        zone = zone_label(kind, hkl)
        atoms, cell_xy = supercell(oriented_cell(kind, sym, a, c, hkl), THICKNESSES[n_case % len(THICKNESSES)])
        atoms = tilt_shear(atoms, tilt, direction)
        for df, img in simulate(atoms, cell_xy, DEFOCI).items():
            records.append((sym, kind, zone, a, c or 0.0, f"{kind} [{zone}]", float(atoms.cell[2, 2]), df, tilt,
                            cell_xy[0], cell_xy[1]))
            images.append(img)
        print(f"{sym} [{zone}]: {atoms.cell[2, 2]:.0f} A thick, tilt {tilt:g}, {time.perf_counter() - t0:.0f} s",
              flush=True)
        save(Path(args.out), records, images)
    print(f"{len(images)} images, {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
