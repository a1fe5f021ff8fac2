"""Phase-field fit on synthetic videos with known physics: parameters, denoising, speed.

    python benchmarks/bench_phasefield.py                 # AC at three doses + CH + non-physics videos
    python benchmarks/bench_phasefield.py --quick         # smaller, for a smoke test
    python benchmarks/bench_phasefield.py --cases ac30 --device cuda

The simulator integrates on a periodic grid, so the fits use ``boundary='periodic'`` unless
``--boundary window`` asks for the real-data treatment (free margin around the frame).

Prints one table per case: relative errors of the identifiable parameters, PSNR of the
noisy input / oracle-tuned Gaussian / oracle-tuned non-local means / phase-field fit
against the clean video, interface width of the fitted and true order parameter, fit time.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def run_case(name, model, dose, steps, shape, n_frames, device, threads, baselines=True, seed=0,
             boundary="periodic"):
    from stemlab.phasefield import fit_phasefield, interface_width_from_field
    from stemlab.phasefield.metrics import best_gaussian, best_nlm, psnr
    from stemlab.simulate.video import phase_transformation_video

    ds = phase_transformation_video(model=model, dose=dose, seed=seed, n_frames=n_frames, shape=shape)
    gt = ds.metadata["ground_truth"]
    clean, u_true = gt["clean"], gt["order_parameter"]
    t0 = time.perf_counter()
    res = fit_phasefield(ds, model, steps=steps, device=device, threads=threads, boundary=boundary)
    wall = time.perf_counter() - t0
    d = 2
    ident = gt["parameters"]["identifiable"]
    truth = {"M*kappa": ident["M*kappa"], "M*W": ident["M*W"], "M*dG": ident["M*dG"],
             "interface_width": gt["parameters"]["interface_width_nm"]}
    row = {"case": name, "model": model, "dose": dose, "steps": steps, "device": res.quality["device"],
           "fit_s": round(wall, 1), "poor_fit": res.poor_fit, "message": res.quality["message"]}
    for key, tv in truth.items():
        v = res.parameters["values"][key]
        row[key] = {"fit": v["value"], "stderr": v["stderr"], "truth": tv,
                    "rel_err": (v["value"] - tv) / tv if tv else None,
                    "abs_err": v["value"] - tv}
    row["psnr_noisy"] = psnr(ds.data, clean)
    row["psnr_fit"] = psnr(res.denoised, clean)
    if baselines:
        row["psnr_gauss"], row["gauss_sigma"], _ = best_gaussian(ds.data, clean)
        row["psnr_nlm"], row["nlm_strength"], _ = best_nlm(ds.data, clean)
    T, H, W = u_true.shape
    dx = ds.axes[1].scale
    u_coarse = u_true[:, : H // d * d, : W // d * d].reshape(T, H // d, d, W // d, d).mean(axis=(2, 4))
    row["width_true_field"] = interface_width_from_field(u_coarse, dx * d)
    row["width_fit_field"] = res.quality["interface_width_from_field"]
    row["u_rmse"] = float(np.sqrt(np.mean((np.repeat(np.repeat(res.order_parameter, d, 1), d, 2)
                                           - u_true[:, : H // d * d, : W // d * d]) ** 2)))
    row["quality"] = {k: res.quality[k] for k in ("reduced_chi2", "residual_structure", "unexplained_change_fraction", "dynamics_significance",
                                                  "pde_explained_fraction", "boundary", "substeps_per_frame")}
    return row


def run_nonphysical(name, steps, threads):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "phasefield"))
    from pf_videos import noise_video, rigid_pattern_video  # noqa: E402

    from stemlab.phasefield import fit_phasefield

    ds = noise_video() if name == "noise" else rigid_pattern_video()
    t0 = time.perf_counter()
    res = fit_phasefield(ds, "allen-cahn", steps=steps, threads=threads)
    return {"case": name, "fit_s": round(time.perf_counter() - t0, 1), "poor_fit": res.poor_fit,
            "message": res.quality["message"],
            "quality": {k: res.quality[k] for k in ("reduced_chi2", "residual_structure", "unexplained_change_fraction", "dynamics_significance", "pde_explained_fraction")}, "params": {k: round(v["value"], 4) for k, v in res.parameters["values"].items()}}


CASES = {
    "ac1000": ("allen-cahn", 1000.0), "ac30": ("allen-cahn", 30.0), "ac3": ("allen-cahn", 3.0),
    "ch30": ("cahn-hilliard", 30.0), "ch1000": ("cahn-hilliard", 1000.0), "ch3": ("cahn-hilliard", 3.0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="ac1000,ac30,ac3,ch30,noise,rigid")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="64 x 64, 20 frames, 200 steps")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--boundary", default="periodic",
                        help="the simulated videos are periodic (default); 'window' treats them as real frames")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    shape, n_frames, steps = ((64, 64), 20, 200) if args.quick else ((128, 128), 40, args.steps)
    import torch

    print(f"# machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {args.threads}, device {args.device}")
    rows = []
    for name in args.cases.split(","):
        if name in ("noise", "rigid"):
            row = run_nonphysical(name, min(steps, 300), args.threads)
            print(f"{name:7s} poor_fit={row['poor_fit']} fit {row['fit_s']} s  {row['quality']} {row['params']}\n   {row['message']}")
        else:
            model, dose = CASES[name]
            row = run_case(name, model, dose, steps, shape, n_frames, args.device, args.threads,
                           baselines=not args.no_baselines, boundary=args.boundary)
            errs = "  ".join(f"{k} {100 * row[k]['rel_err']:+.1f}%" if row[k]["rel_err"] is not None
                             else f"{k} {row[k]['abs_err']:+.3g} (abs)"
                             for k in ("M*kappa", "M*W", "M*dG", "interface_width"))
            psnrs = (f"PSNR noisy {row['psnr_noisy']:.1f} | gauss {row.get('psnr_gauss', float('nan')):.1f} | "
                     f"nlm {row.get('psnr_nlm', float('nan')):.1f} | fit {row['psnr_fit']:.1f} dB")
            print(f"{name:7s} dose {row['dose']:g}: {errs}\n   {psnrs}; width field fit "
                  f"{row['width_fit_field']:.3f} vs true {row['width_true_field']:.3f} nm; u rmse {row['u_rmse']:.3f}; "
                  f"fit {row['fit_s']} s; poor_fit={row['poor_fit']}\n   {row['quality']}")
        rows.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
