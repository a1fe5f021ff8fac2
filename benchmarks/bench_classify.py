"""Crystal classifier: accuracy, calibration, uncertainty at boundaries and on unknown structures,
rotation / lattice-constant errors, and speed. Prints tables (markdown) and writes a JSON record.

    python benchmarks/bench_classify.py [--weights DIR] [--per-class 200] [--bicrystals 16]
                                        [--skip-speed] [--json out.json] [--device auto] [--members N]

Test data come from stemlab.simulate with settings outside the training ranges
(stemlab.classifier.synthetic.TEST_RANGES: 0.04-0.07 A pixels, 150-300 e/A^2, 0.3-1 counts read noise;
TEST_RANGES_COARSE: 0.27-0.33 A pixels, 3-5 counts read noise). Seeds differ from training.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def roc_auc(scores_pos, scores_neg) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks)."""
    s = np.concatenate([scores_pos, scores_neg])
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    # mid-ranks for ties
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    n1, n0 = len(scores_pos), len(scores_neg)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def mc_predict(model, X, passes=30, seed=0, batch=2048):
    import torch

    from stemlab.classifier.inference import _mutual_information

    gen = torch.Generator().manual_seed(seed)
    means, mis = [], []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            probs = model.mc_probabilities(torch.from_numpy(X[i:i + batch]), passes, generator=gen)
            m, mi = _mutual_information(probs)
            means.append(m.numpy())
            mis.append(mi.numpy())
    return np.concatenate(means), np.concatenate(mis)


def accuracy_section(model, names, per_class, record):
    from stemlab.classifier import synthetic as S

    out = {}
    for label, ranges, seed in (("fine pixels, low dose", S.TEST_RANGES, 91),
                                ("coarse pixels, high read noise", S.TEST_RANGES_COARSE, 92)):
        t0 = time.perf_counter()
        X, y, _ = S.simulate_descriptors(per_class, seed, ranges)
        p, mi = mc_predict(model, X)
        pred = p.argmax(1)
        conf = p.max(1)
        acc = float((pred == y).mean())
        per = {names[c]: float((pred[y == c] == c).mean()) for c in range(len(names))}
        conf_mat = np.zeros((len(names), len(names)), int)
        np.add.at(conf_mat, (y, pred), 1)
        bins = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001]
        table = []
        ece = 0.0
        for lo, hi in zip(bins[:-1], bins[1:]):
            sel = (conf >= lo) & (conf < hi)
            if sel.any():
                a = float((pred[sel] == y[sel]).mean())
                table.append({"bin": f"{lo:.2f}-{min(hi, 1):.2f}", "n": int(sel.sum()),
                              "mean_probability": float(conf[sel].mean()), "accuracy": a})
                ece += sel.mean() * abs(a - conf[sel].mean())
        from stemlab.classifier.inference import DEFAULT_THRESHOLD

        known = mi <= DEFAULT_THRESHOLD
        out[label] = {"windows": int(len(y)), "accuracy": acc, "per_class": per, "calibration": table,
                      "accuracy_not_flagged": float((pred[known] == y[known]).mean()),
                      "fraction_not_flagged": float(known.mean()),
                      "ece": float(ece), "mean_mi_bits": float(mi.mean()),
                      "mi_quantiles": np.quantile(mi, [0.5, 0.9, 0.99]).tolist(),
                      "confusion": conf_mat.tolist(), "seconds": time.perf_counter() - t0}
        print(f"\n### Held-out test set: {label} ({len(y)} windows)\n")
        print(f"accuracy on the {known.mean():.1%} of windows not flagged unknown: "
              f"{out[label]['accuracy_not_flagged']:.4f}")
        print(f"window accuracy {acc:.4f}; expected calibration error {ece:.4f}; MI median/90%/99% "
              + "/".join(f"{q:.3f}" for q in out[label]["mi_quantiles"]) + " bits")
        print("\n| class | accuracy |\n|---|---|")
        for k, v in per.items():
            print(f"| {k} | {v:.3f} |")
        print("\n| predicted probability | windows | mean probability | accuracy |\n|---|---|---|---|")
        for row in table:
            print(f"| {row['bin']} | {row['n']} | {row['mean_probability']:.3f} | {row['accuracy']:.3f} |")
    record["accuracy"] = out


def boundary_section(n_bicrystals, record, device, weights=None):
    from stemlab.classifier import synthetic as S
    from stemlab.classifier.inference import DEFAULT_THRESHOLD, classify
    from stemlab.simulate.projections import CLASS_PROJECTIONS

    rng = np.random.default_rng(123)
    pos_mi, neg_mi, pos_h, neg_h, pos_c, neg_c, pos_u, neg_u = [], [], [], [], [], [], [], []
    bulk_correct, boundary_distance = [], []
    for i in range(n_bicrystals):
        a, b = rng.choice(len(CLASS_PROJECTIONS), 2, replace=True)
        ra, rb = rng.uniform(0, 360, 2)
        if a == b:
            rb = ra + rng.uniform(15, 45) * rng.choice([-1, 1])
        angle = rng.uniform(0, 180)
        ps = float(rng.uniform(0.06, 0.2))
        n = int(48 / ps)
        img, grain, dist, _ = S.bicrystal((n, n), ps, CLASS_PROJECTIONS[a], CLASS_PROJECTIONS[b], rotation_a=ra,
                                          rotation_b=rb, boundary_angle=angle, seed=1000 + i)
        res = classify(img, pixel_size=ps, passes=30, lattice=True, device=device, seed=i, weights=weights)
        ay, ax = res.axes
        ry = np.rint((ay.offset + ay.scale * np.arange(ay.size)) / ps).astype(int)
        rx = np.rint((ax.offset + ax.scale * np.arange(ax.size)) / ps).astype(int)
        d = dist[ry[:, None], rx[None, :]]
        g = grain[ry[:, None], rx[None, :]]
        boundary = np.abs(d) < 3.0
        bulk = np.abs(d) > 8.5  # a 12 A window lies wholly inside one grain
        p = res.mean_probabilities
        h = -(p * np.log2(p + 1e-12)).sum(-1)
        pos_mi.append(res.uncertainty[boundary]), neg_mi.append(res.uncertainty[bulk])
        pos_u.append(res.unknown[boundary]), neg_u.append(res.unknown[bulk])  # MI or lattice out of class range
        boundary_distance.append(np.abs(d[boundary]))
        pos_h.append(h[boundary]), neg_h.append(h[bulk])
        pos_c.append(1 - res.probability[boundary]), neg_c.append(1 - res.probability[bulk])
        truth = np.where(g == 0, a, b)
        bulk_correct.append((res.labels - 1 == truth)[bulk])
    cat = np.concatenate
    auc = {"mutual_information": roc_auc(cat(pos_mi), cat(neg_mi)),
           "predictive_entropy": roc_auc(cat(pos_h), cat(neg_h)),
           "one_minus_probability": roc_auc(cat(pos_c), cat(neg_c))}
    record["boundary"] = {"bicrystals": n_bicrystals, "boundary_windows": int(len(cat(pos_mi))),
                          "bulk_windows": int(len(cat(neg_mi))), "auc": auc,
                          "bulk_accuracy": float(cat(bulk_correct).mean()),
                          "mi_bulk_quantiles": np.quantile(cat(neg_mi), [0.5, 0.9, 0.99]).tolist(),
                          "mi_boundary_quantiles": np.quantile(cat(pos_mi), [0.1, 0.5, 0.9]).tolist()}
    print(f"\n### Boundaries: {n_bicrystals} simulated bicrystals, {len(cat(pos_mi))} boundary windows "
          f"(centre < 3 A from the boundary) vs {len(cat(neg_mi))} bulk windows (> 8.5 A)\n")
    print("| score | ROC AUC |\n|---|---|")
    for k, v in auc.items():
        print(f"| {k} | {v:.3f} |")
    # how the separation depends on how much of the window the other grain fills: a 12 A (flat) window
    # centred d from the boundary has about 50 / 38 / 25 % of its area beyond it at d = 0 / 1.5 / 3 A
    dist, mi = cat(boundary_distance), cat(pos_mi)
    by_distance = {f"< {d_max} A": roc_auc(mi[dist < d_max], cat(neg_mi)) for d_max in (1.0, 1.5, 2.0, 3.0)}
    record["boundary"]["auc_mutual_information_by_distance"] = by_distance
    flagged = {f"< {d_max} A": float((mi[dist < d_max] > DEFAULT_THRESHOLD).mean()) for d_max in (1.0, 1.5, 2.0, 3.0)}
    flagged["bulk"] = float((cat(neg_mi) > DEFAULT_THRESHOLD).mean())
    unknown = {f"< {d_max} A": float(cat(pos_u)[dist < d_max].mean()) for d_max in (1.0, 1.5, 2.0, 3.0)}
    unknown["bulk"] = float(cat(neg_u).mean())
    record["boundary"]["flagged_unknown_by_distance"] = flagged
    record["boundary"]["unknown_mask_by_distance"] = unknown
    print(f"\n| boundary windows (centre distance) | windows | ROC AUC (mutual information) | flagged unknown "
          f"(MI > {DEFAULT_THRESHOLD} bits) | unknown mask (MI, or lattice constant outside the class range) |"
          "\n|---|---|---|---|---|")
    for (label, v), d_max in zip(by_distance.items(), (1.0, 1.5, 2.0, 3.0)):
        print(f"| {label} | {int((dist < d_max).sum())} | {v:.3f} | {flagged[label]:.0%} | {unknown[label]:.0%} |")
    print(f"| bulk (> 8.5 A) | {len(cat(neg_mi))} | | {flagged['bulk']:.1%} | {unknown['bulk']:.1%} |")
    print(f"\nbulk-window accuracy in the bicrystals: {record['boundary']['bulk_accuracy']:.4f}")
    return cat(neg_mi)


def ood_section(model, names, per_class, record, threshold):
    from stemlab.classifier import synthetic as S
    from stemlab.simulate.projections import EXTRA_PROJECTIONS

    X, y, _ = S.simulate_descriptors(per_class, 77, S.TRAIN_RANGES, projections=EXTRA_PROJECTIONS)
    p, mi = mc_predict(model, X)
    rows = {}
    print(f"\n### Structures outside the training classes ({per_class} windows each)\n")
    print("| structure | median MI (bits) | flagged unknown | confident (p > 0.9) and not flagged | most "
          "predicted |\n|---|---|---|---|---|")
    for c, proj in enumerate(EXTRA_PROJECTIONS):
        sel = y == c
        flagged = float((mi[sel] > threshold).mean())
        confident = float(((p[sel].max(1) > 0.9) & (mi[sel] <= threshold)).mean())
        top = names[int(np.bincount(p[sel].argmax(1), minlength=len(names)).argmax())]
        rows[proj.name] = {"median_mi": float(np.median(mi[sel])), "flagged": flagged,
                           "confident_unflagged": confident, "most_predicted": top}
        print(f"| {proj.name} | {np.median(mi[sel]):.3f} | {flagged:.0%} | {confident:.0%} | {top} |")
    record["out_of_distribution"] = rows


def lattice_section(per_class, record):
    from stemlab.classifier import lattice as L
    from stemlab.classifier import synthetic as S
    from stemlab.simulate.projections import CLASS_PROJECTIONS

    record["lattice"] = {}
    for label, ranges in (("training-range noise and pixels", S.TRAIN_RANGES),
                          ("test set: fine pixels, low dose", S.TEST_RANGES),
                          ("test set: coarse pixels", S.TEST_RANGES_COARSE)):
        rng = np.random.default_rng(5)
        rows = {}
        print(f"\n### Rotation and lattice constant against truth: {label} ({per_class} windows per class, "
              "12 A window, no shear)\n")
        print("| class | rotation error median / 95% (deg) | lattice-constant error median / 95% (%) |"
              "\n|---|---|---|")
        for proj in CLASS_PROJECTIONS:
            er, ea = L.errors_against_truth(proj, per_class, rng, ranges)
            er, ea = np.abs(er), np.abs(ea) * 100
            rows[proj.name] = {"rotation_deg": [float(np.median(er)), float(np.quantile(er, 0.95))],
                               "lattice_pct": [float(np.median(ea)), float(np.quantile(ea, 0.95))]}
            print(f"| {proj.name} | {np.median(er):.2f} / {np.quantile(er, 0.95):.2f} | "
                  f"{np.median(ea):.2f} / {np.quantile(ea, 0.95):.2f} |")
        record["lattice"][label] = rows


def speed_section(record, device, weights=None, sizes=((2048, 0.1), (2048, 0.2))):
    import torch

    from stemlab.classifier import synthetic as S
    from stemlab.classifier.inference import classify
    from stemlab.simulate.projections import projection

    rows = []
    print(f"\n### Speed: 30 passes, stride = window / 4, window 12 A, torch threads {torch.get_num_threads()}\n")
    print("| image | pixel size (A) | windows | device | classify only (s) | with rotation + lattice (s) | "
          "with rotation + lattice, CPU time of the process (s) | load average before / after |"
          "\n|---|---|---|---|---|---|---|---|")
    for n, ps in sizes:
        img, _, _, _ = S.bicrystal((n, n), ps, projection("fcc [110]"), projection("hcp [0001]"), seed=9)
        classify(img[:256, :256], pixel_size=ps, passes=30, device=device, weights=weights)  # warm-up (imports, caches)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        r1 = classify(img, pixel_size=ps, passes=30, lattice=False, device=device, weights=weights)
        t1, c1 = time.perf_counter(), time.process_time()
        classify(img, pixel_size=ps, passes=30, lattice=True, device=device, weights=weights)
        t2, c2 = time.perf_counter(), time.process_time()
        rows.append({"size": n, "pixel_size": ps, "windows": int(r1.info["windows"]), "device": r1.info["device"],
                     "classify_s": t1 - t0, "full_s": t2 - t1, "full_cpu_s": c2 - c1})
        print(f"| {n} x {n} | {ps} | {r1.info['windows']} | {r1.info['device']} | {t1 - t0:.1f} | {t2 - t1:.1f} | "
              f"{c2 - c1:.1f} | {load0:.1f} / {os.getloadavg()[0]:.1f} |")
    record["speed"] = rows


def first_members(weights, n: int) -> str:
    """A temporary weights folder holding the first ``n`` networks of the ensemble in ``weights``."""
    import tempfile
    from pathlib import Path

    import torch

    from stemlab.classifier.training import CLASSES_FILE, WEIGHTS_FILE, default_weights_dir

    src = Path(weights) if weights else default_weights_dir()
    record = json.loads((src / CLASSES_FILE).read_text())
    if not 1 <= n <= record.get("members", 1):
        raise SystemExit(f"--members {n}: the ensemble in {src} has {record.get('members', 1)} network(s).")
    state = torch.load(src / WEIGHTS_FILE, weights_only=True)
    keep = {k: v for k, v in state.items() if int(k.split(".")[1]) < n}
    out = Path(tempfile.mkdtemp(prefix="stemlab_members_"))
    torch.save(keep, out / WEIGHTS_FILE)
    (out / CLASSES_FILE).write_text(json.dumps({**record, "members": n}))
    return str(out)


def main(argv=None):
    import torch

    from stemlab.classifier.inference import DEFAULT_THRESHOLD
    from stemlab.classifier.training import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--bicrystals", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--only-speed", action="store_true")
    ap.add_argument("--only-accuracy", action="store_true")
    ap.add_argument("--members", type=int, default=None,
                    help="use only the first N networks of the ensemble (to compare with a single network)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.members is not None:
        args.weights = first_members(args.weights, args.members)
    model, rec = load(args.weights)
    names = rec["classes"]
    record = {"weights_training": rec.get("training", {}), "threshold_bits": DEFAULT_THRESHOLD}
    if args.only_accuracy:
        accuracy_section(model, names, args.per_class, record)
        args.skip_speed, args.only_speed = True, True
    if not args.only_speed:
        accuracy_section(model, names, args.per_class, record)
        boundary_section(args.bicrystals, record, args.device, weights=args.weights)
        ood_section(model, names, max(args.per_class // 2, 20), record, DEFAULT_THRESHOLD)
        lattice_section(max(args.per_class // 4, 10), record)
    if not args.skip_speed:
        speed_section(record, args.device, weights=args.weights)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)


if __name__ == "__main__":
    main()
