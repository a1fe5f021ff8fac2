"""Speed of the forward models in stemlab.simulate; prints a table (not run in CI).

    .venv/bin/python benchmarks/bench_simulate.py
"""

import time

import numpy as np

from stemlab.crystal import reflections as kin
from stemlab.crystal import rotations
from stemlab.crystal.structure import structure
from stemlab.simulate.fourd import two_phase_scan
from stemlab.simulate.haadf import haadf_image
from stemlab.simulate.video import phase_transformation_video


def best(func, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    rows = []
    refl = kin.reflections(structure("Al"), 1.5)
    R = rotations.random_rotations(2000, np.random.default_rng(0))
    t = best(lambda: kin.diffraction_spots(refl, R, 200))
    rows.append((f"kinematic spots, Al, {len(refl)} refl, 2000 orientations", t, f"{2000 / t:,.0f} orient/s"))
    t = best(lambda: kin.diffraction_spots(refl, R[:500], 200, precession_deg=1.0, n_precession=32))
    rows.append(("  + precession 1 deg, 32 azimuths, 500 orientations", t, f"{500 / t:,.0f} orient/s"))
    t = best(lambda: kin.reflections(structure("Al"), 1.5))
    rows.append(("reflection list Al g<=1.5/A", t, ""))
    t = best(lambda: two_phase_scan(), repeat=1)
    rows.append(("two_phase_scan 48x48 x 128x128", t, f"{48 * 48 / t:,.0f} patterns/s"))
    t = best(lambda: haadf_image())
    rows.append(("haadf_image 512x512", t, ""))
    t = best(lambda: phase_transformation_video(), repeat=1)
    rows.append(("phase_transformation_video 40x128x128 AC", t, ""))
    t = best(lambda: phase_transformation_video(model="cahn-hilliard"), repeat=1)
    rows.append(("phase_transformation_video 40x128x128 CH", t, ""))
    print(f"{'what':<58} {'seconds':>8}  rate")
    for what, sec, rate in rows:
        print(f"{what:<58} {sec:8.3f}  {rate}")


if __name__ == "__main__":
    main()
