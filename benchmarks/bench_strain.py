"""Strain mapping: accuracy and precision against the known field of simulated scans, and py4DSTEM beside it.

    python benchmarks/bench_strain.py sweep     # how error and precision degrade with dose, disk radius,
                                                # pattern size (stemlab only, any venv with stemlab)
    /work/venv-strain/bin/python benchmarks/bench_strain.py compare   # stemlab and py4DSTEM 0.14 back to back

Scans: :func:`stemlab.simulate.strain.strained_scan` (a precipitate with exx = 2 %, eyy = -1.5 %,
exy = 1 %, theta = 3 degrees; Poisson noise; thickness-modulated disk intensities; descan).
"error" is the largest |strain - truth| inside the precipitate over exx, eyy, exy; "std" the largest
standard deviation over the three components in the unstrained matrix; the reference is the first
two scan rows. Both tools get the same synthetic-disk template radius and 2 CPU threads.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

THREADS = 2
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("MKL_NUM_THREADS", str(THREADS))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))


def scan(n_scan, size, *, dose=1e5, radius=None, seed=1):
    from stemlab.simulate.strain import strained_scan

    scale = size / 256
    r = 6.0 * scale if radius is None else radius
    return strained_scan((n_scan, n_scan), size, dose=dose, disk_radius=r, g_px=24.0 * scale, seed=seed), r


def metrics(maps, truth, swap=False):
    """(error, std) of exx/eyy/exy maps against truth; ``swap``: maps in (row, col) = (x <-> y) axes."""
    keys = {"exx": "eyy", "eyy": "exx", "exy": "exy"} if swap else {k: k for k in ("exx", "eyy", "exy")}
    err = max(np.nanmax(np.abs(maps[mine] - truth[theirs])[truth["inside"]]) for theirs, mine in keys.items())
    std = max(np.nanstd(maps[mine][truth["unstrained"]]) for mine in keys.values())
    return float(err), float(std)


def run_stemlab(ds, truth, radius, reference):
    import torch

    from stemlab.strainmap import strain

    torch.set_num_threads(THREADS)
    t0 = time.perf_counter()
    result = strain(ds, probe="synthetic", disk_radius=radius, reference=reference, device="cpu")
    total = time.perf_counter() - t0
    return result, total


def sweep():
    n_scan = 12
    reference = (0, 2, 0, n_scan)
    rows = []
    cases = [("dose", d, dict(dose=d)) for d in (1e3, 1e4, 1e5, 1e6)]
    cases += [("radius px", r, dict(radius=r)) for r in (3.0, 6.0, 10.0, 13.0)]
    cases += [("pattern px", s, dict(size=s)) for s in (128, 256, 512)]
    for name, value, kw in cases:
        size = kw.pop("size", 256)
        (ds, truth), r = scan(n_scan, size, **kw)
        result, total = run_stemlab(ds, truth, r, reference)
        err, std = metrics(result.maps, truth)
        rows.append((name, value, size, r, err, std, int(np.median(result.maps["n_disks"])), n_scan ** 2 / total))
        print(f"{name:>10} {value:>8g}  size {size:>3}  r {r:>5.1f}  error {err:.2e}  std {std:.2e}  "
              f"disks {rows[-1][6]:>3}  {rows[-1][7]:6.1f} patterns/s", flush=True)
    print("\n| varied | value | pattern px | disk radius px | max error | std unstrained | disks | patterns/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, value, size, r, err, std, nd, pps in rows:
        print(f"| {name} | {value:g} | {size} | {r:.1f} | {err:.1e} | {std:.1e} | {nd} | {pps:.1f} |")
    print(f"\nload average {os.getloadavg()}")


def run_py4dstem(ds, truth, radius, reference_mask):
    import matplotlib

    matplotlib.use("Agg")
    import py4DSTEM

    data = np.asarray(ds.data, dtype=np.float32)
    n = data.shape[-1]
    t0 = time.perf_counter()
    dc = py4DSTEM.DataCube(data=data)
    probe = py4DSTEM.Probe.generate_synthetic_probe(radius=radius, width=1.0, Qshape=(n, n))
    kernel = probe.get_kernel(mode="sigmoid", origin=(n / 2, n / 2), radii=(radius, 4 * radius))
    bv = dc.find_Bragg_disks(template=kernel, corrPower=1.0, sigma=0, subpixel="multicorr", upsample_factor=16,
                             minRelativeIntensity=0.005, minPeakSpacing=radius, edgeBoundary=int(np.ceil(radius)),
                             maxNumPeaks=60, returncalc=True)
    t_disks = time.perf_counter() - t0
    bv.measure_origin(center_guess=(n / 2, n / 2), score_method="distance")
    bv.fit_origin()
    sm = py4DSTEM.StrainMap(braggvectors=bv)
    sm.choose_basis_vectors(minSpacing=radius, edgeBoundary=int(np.ceil(radius)), maxNumPeaks=40)
    sm.set_max_peak_spacing(3)
    sm.fit_basis_vectors()
    sm.get_strain(gvects=reference_mask)
    total = time.perf_counter() - t0
    maps = {"exx": sm.data[0], "eyy": sm.data[1], "exy": sm.data[2]}
    matplotlib.pyplot.close("all")
    return maps, t_disks, total, bv


def disk_error(found_xy, truth, centre_xy):
    """Median distance (px) of disks from the nearest true disk centre (first pattern)."""
    basis = truth["basis"]
    frac = (found_xy - centre_xy) @ np.linalg.inv(basis).T
    off = (frac - np.round(frac)) @ basis.T
    return float(np.median(np.hypot(off[:, 0], off[:, 1])))


def compare():
    import torch

    torch.set_num_threads(THREADS)
    from stemlab.strainmap import disks as dk

    n_scan = 16
    print(f"stemlab vs py4DSTEM, {THREADS} threads, {n_scan} x {n_scan} scans, load average before "
          f"{os.getloadavg()}", flush=True)
    rows = []
    for size, dose in ((256, 1e5), (256, 1e4), (128, 1e5)):
        (ds, truth), r = scan(n_scan, size, dose=dose, seed=2)
        ref = np.zeros((n_scan, n_scan), bool)
        ref[:2] = True
        # disk detection alone, stemlab
        det = dk.DiskDetector(dk.template_spectrum(dk.synthetic_probe(r, (size, size)), (size, size)),
                              (size, size), min_spacing=r, edge=r, max_disks=60, device="cpu")
        flat = np.asarray(ds.data).reshape(-1, size, size)
        t0 = time.perf_counter()
        found = det(flat)["disks"]
        t_ours_disks = time.perf_counter() - t0
        result, t_ours = run_stemlab(ds, truth, r, (0, 2, 0, n_scan))
        err, std = metrics(result.maps, truth)
        load_mid = os.getloadavg()[0]
        maps, t_p4_disks, t_p4, bv = run_py4dstem(ds, truth, r, ref)
        err_p, std_p = metrics(maps, truth, swap=True)
        centre = truth["centre"][0, 0]
        ours_d = disk_error(found[0][np.isfinite(found[0][:, 0]), :2], truth, centre)
        p = bv.raw[0, 0]
        theirs_d = disk_error(np.stack([p.qy, p.qx], axis=1), truth, centre)  # qx = rows, qy = columns
        n = n_scan ** 2
        rows.append((size, dose, ours_d, theirs_d, n / t_ours_disks, n / t_p4_disks, err, err_p, std, std_p,
                     n / t_ours, n / t_p4, load_mid))
        print(rows[-1], flush=True)
    print("\n| pattern px | dose | disk offset px: stemlab / py4DSTEM | disks patterns/s: stemlab / py4DSTEM (ratio) "
          "| max error: stemlab / py4DSTEM | std unstrained: stemlab / py4DSTEM | whole map patterns/s: stemlab / "
          "py4DSTEM (ratio) | load |")
    print("|---|---|---|---|---|---|---|---|")
    for size, dose, od, td, od_s, td_s, e, ep, s, sp, o_s, p_s, load in rows:
        print(f"| {size} | {dose:g} | {od:.3f} / {td:.3f} | {od_s:.1f} / {td_s:.1f} ({od_s / td_s:.1f}x) | "
              f"{e:.1e} / {ep:.1e} | {s:.1e} / {sp:.1e} | {o_s:.1f} / {p_s:.1f} ({o_s / p_s:.1f}x) | {load:.1f} |")
    print(f"\nload average after {os.getloadavg()}; cores {os.cpu_count()}")


if __name__ == "__main__":
    {"sweep": sweep, "compare": compare}[sys.argv[1] if len(sys.argv) > 1 else "sweep"]()
