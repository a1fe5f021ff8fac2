"""The crystal classifier on multislice images from a simulator that is not ours (abTEM), held out.

    python benchmarks/bench_classify_abtem.py [--data benchmarks/data/abtem_heldout.npz] [--weights DIR]
                                              [--field 40] [--seed 0]

The set (``make_abtem_heldout.py``: PRISM images of one projected cell per material, zone axis,
thickness, defocus and tilt) is tiled into fields of ``--field`` angstrom with a random in-plane
rotation, a source blur of 0.2-0.4 angstrom, a pixel size of 0.06-0.2 angstrom and a dose of
500-5000 e/angstrom^2 (:func:`stemlab.classifier.synthetic.tile_cell`), then classified (12
angstrom windows, stride 3 angstrom, 30 passes). Every window is a bulk window of a perfect crystal.

Prints: per case and over all in-class windows, without priors (right = the true class is the
reading, or one of the two readings of an ambiguous window; the share that is ambiguous and
unknown) and with the material's own phase as prior (right = class and lattice constant within
3 %); spacing twins resolved with priors; alpha-Fe with priors {alpha-Fe, Cu} and without; the
out-of-class structures' unknown-or-ambiguous share; the calibration table; lattice-constant errors;
with priors, the rotation (against the applied rotation plus the class frame's offset from the cell's,
:func:`frame_offset`) and lattice-constant errors of the windows read as the true class.

    python benchmarks/bench_classify_abtem.py --bicrystals benchmarks/data/abtem_bicrystals.npz [--per-bicrystal 4]

instead runs the boundary benchmark on the abTEM bicrystals (``make_abtem_bicrystals.py``): ROC AUC
of the mutual information, windows centred within 3 angstrom of a boundary against windows beyond
8.5 angstrom (a 12 angstrom window wholly in one grain), and the bulk windows' accuracy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "abtem_heldout.npz"


def fields(data, field_angstrom: float, seed: int):
    """Yield (case dict, image, pixel size, in-plane rotation in degrees) for every image of the set."""
    from stemlab.classifier.synthetic import tile_cell

    rng = np.random.default_rng(seed)
    for k in range(len(data["material"])):
        nx, ny = data["cell_pixels"][k]
        cell = data["image"][k][:nx, :ny].astype(np.float64)
        ps = float(rng.uniform(0.06, 0.2))
        n = int(field_angstrom / ps)
        rotation = float(rng.uniform(0, 360))
        img = tile_cell(cell, data["cell"][k], (n, n), ps, rotation=rotation,
                        origin=rng.uniform(0, 5, 2), source_sigma=float(rng.uniform(0.2, 0.4)),
                        dose=float(np.exp(rng.uniform(np.log(500), np.log(5000)))), rng=rng)
        case = {key: data[key][k] for key in ("material", "structure", "zone", "a", "c", "class_name", "thickness",
                                               "defocus", "tilt")}
        yield case, img, ps, rotation


def frame_offset(case) -> float:
    """Rotation (degrees, modulo the class's symmetry) that takes the classifier's reference frame
    of the case's class to the abTEM cell's frame (x, y of the simulated cell), from geometry only.

    The class's projected lattice at the material's own lattice constants gives reciprocal spots
    g and strengths |F(g)|^2; the abTEM cell (the same ase cell that was simulated, untilted)
    gives the strengths of its reciprocal points (h / lx, k / ly). The offset is the angle, on a
    0.05 degree grid, at which the turned spots land on the cell's strong reciprocal points.
    """
    from make_abtem_heldout import HCP_ZONE, oriented_cell

    from stemlab.simulate.projections import projection

    kind, name = str(case["structure"]), str(case["class_name"])
    a, c = float(case["a"]), float(case["c"])
    proj = projection(name)
    lat = proj.project(a, c / a if kind == "hcp" else None)
    n = np.arange(-6, 7)
    hk = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2)
    g = hk @ np.linalg.inv(lat.cell).T
    f_ref = np.abs((lat.weights[None] * np.exp(2j * np.pi * hk @ lat.basis.T)).sum(1)) ** 2
    keep = (np.linalg.norm(g, axis=1) > 1e-9) & (np.linalg.norm(g, axis=1) < 1.0) & (f_ref > 0.05 * f_ref.max())
    g, f_ref = g[keep], f_ref[keep]
    zone = str(case["zone"])
    hkl = {v: k for k, v in HCP_ZONE.items()}[zone] if kind == "hcp" else tuple(int(ch) for ch in zone)
    atoms = oriented_cell(kind, str(case["material"]), a, c or None, hkl)
    lx, ly = np.diag(atoms.cell)[:2]
    xy = atoms.positions[:, :2] / [lx, ly]
    sym = 360.0 / proj.rotation_symmetry
    angles = np.arange(0.0, sym, 0.05)
    t = np.radians(angles)[:, None]
    gx = g[None, :, 0] * np.cos(t) - g[None, :, 1] * np.sin(t)
    gy = g[None, :, 0] * np.sin(t) + g[None, :, 1] * np.cos(t)
    h, k = gx * lx, gy * ly  # (angles, spots): whole numbers where a spot lands on the cell's lattice
    hr, kr = np.round(h), np.round(k)
    f_cell = np.abs(np.exp(2j * np.pi * (hr[..., None] * xy[:, 0] + kr[..., None] * xy[:, 1])).sum(-1)) ** 2
    dist = np.hypot(h - hr, k - kr)
    score = (f_ref[None] * f_cell * np.exp(-(dist / 0.05) ** 2)).sum(1)
    return float(angles[score.argmax()])


def rotation_error(measured, truth, symmetry_deg):
    """Signed difference measured - truth (degrees) folded into [-symmetry / 2, symmetry / 2)."""
    return (measured - truth + symmetry_deg / 2) % symmetry_deg - symmetry_deg / 2


def prior_of(case) -> str:
    """The case's own phase as a --lattice entry."""
    fam = str(case["structure"])
    if fam == "hcp":
        return f"hcp:{float(case['a']):g}:{float(case['c']):g}"
    return f"{fam}:{float(case['a']):g}"


def scores(result, case, with_priors: bool):
    """Per-window bools: right, ambiguous, unknown, and the lattice-constant error (relative)."""
    names = np.array(result.class_names + ["none"])
    first = names[result.labels - 1]
    second = names[np.where(result.alternative_labels > 0, result.alternative_labels - 1, len(result.class_names))]
    truth = str(case["class_name"])
    unknown, amb = result.unknown, result.ambiguous
    a_err = result.lattice_constant / float(case["a"]) - 1.0
    if with_priors:
        right = (first == truth) & ~unknown & (np.abs(a_err) <= 0.03)
    else:
        right = ((first == truth) | (amb & (second == truth))) & ~unknown
    return right, amb, unknown, np.where(first == truth, a_err, np.nan)


def hits(result, case):
    """Per-window bools: the true class is the reading (or one of the two of an ambiguous window),
    whether or not the window is flagged unknown (for the calibration table)."""
    names = np.array(result.class_names + ["none"])
    second = names[np.where(result.alternative_labels > 0, result.alternative_labels - 1, len(result.class_names))]
    truth = str(case["class_name"])
    return (names[result.labels - 1] == truth) | (result.ambiguous & (second == truth))


def calibration_table(prob, right):
    bins = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001]
    rows = ["| predicted probability | windows | mean predicted probability | accuracy |", "|---|---|---|---|"]
    ece = 0.0
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (prob >= lo) & (prob < hi)
        if sel.any():
            rows.append(f"| {lo:.2f}-{min(hi, 1):.2f} | {sel.sum()} | {prob[sel].mean():.3f} | {right[sel].mean():.3f} |")
            ece += sel.mean() * abs(prob[sel].mean() - right[sel].mean())
    return "\n".join(rows), ece


def bicrystal_fields(data, per_bicrystal: int, field_angstrom: float, seed: int):
    """Yield (index, image, pixel size, distance to the nearest boundary (angstrom) and grain
    (0 = A, 1 = B) as functions of lab (y, x) angstrom) for ``per_bicrystal`` fields of every
    abTEM bicrystal (``make_abtem_bicrystals.py``), resampled, turned and noised as :func:`fields`."""
    from stemlab.classifier.synthetic import tile_cell

    rng = np.random.default_rng(seed)
    for k in range(len(data["grain_a"])):
        nx, ny = data["image_pixels"][k]
        cell = data["image"][k][:nx, :ny].astype(np.float64)
        width = float(data["cell"][k][0])
        for _ in range(per_bicrystal):
            ps = float(rng.uniform(0.1, 0.2))
            rotation, origin = float(rng.uniform(0, 360)), rng.uniform(0, 5, 2)
            n = int(field_angstrom / ps)
            img = tile_cell(cell, data["cell"][k], (n, n), ps, rotation=rotation, origin=origin,
                            source_sigma=float(rng.uniform(0.2, 0.4)),
                            dose=float(np.exp(rng.uniform(np.log(500), np.log(5000)))), rng=rng)

            def where(y, x, t=np.radians(rotation), o=origin, width=width, b=data["boundaries"][k]):
                xc = (x - o[1]) * np.cos(t) + (y - o[0]) * np.sin(t)  # the crystal x of lab point (y, x)
                d = np.min([np.abs((xc - bb + width / 2) % width - width / 2) for bb in b], axis=0)
                return d, ((xc % width) >= width / 2).astype(int)

            yield k, img, ps, where


def boundary_section(path, classify, weights, per_bicrystal: int, field: float, seed: int):
    """Boundary ROC AUC (mutual information, boundary windows within 3 A vs bulk windows beyond
    8.5 A) and bulk accuracy on the abTEM bicrystals in ``path``."""
    from bench_classify import roc_auc

    data = np.load(path)
    pos, neg, pos_c, neg_c, dist, unk_pos, unk_neg, bulk_right, which = [], [], [], [], [], [], [], [], []
    for k, img, ps, where in bicrystal_fields(data, per_bicrystal, field, seed):
        res = classify(img, pixel_size=ps, passes=30, weights=weights, device="cpu")
        ay, ax = res.axes
        y = (ay.offset + ay.scale * np.arange(ay.size))[:, None] * np.ones((1, ax.size))
        x = (ax.offset + ax.scale * np.arange(ax.size))[None, :] * np.ones((ay.size, 1))
        d, g = where(y, x)
        boundary, bulk = d < 3.0, d > 8.5
        pos.append(res.uncertainty[boundary]), neg.append(res.uncertainty[bulk])
        pos_c.append(1 - res.probability[boundary]), neg_c.append(1 - res.probability[bulk])
        unk_pos.append(res.unknown[boundary]), unk_neg.append(res.unknown[bulk])
        dist.append(d[boundary])
        names = np.array(res.class_names + ["none"])
        alt = np.where(res.alternative_labels > 0, res.alternative_labels - 1, len(res.class_names))
        truth = np.where(g == 0, str(data["class_a"][k]), str(data["class_b"][k]))
        read = (names[res.labels - 1] == truth) | (res.ambiguous & (names[alt] == truth))
        bulk_right.append((read & ~res.unknown)[bulk])
        which.append(k)
    for k in range(len(data["grain_a"])):
        sel = [i for i, kk in enumerate(which) if kk == k]
        p_k, n_k = np.concatenate([pos[i] for i in sel]), np.concatenate([neg[i] for i in sel])
        print(f"{data['grain_a'][k]} | {data['grain_b'][k]}: ROC AUC (MI) {roc_auc(p_k, n_k):.3f}, bulk right "
              f"{np.concatenate([bulk_right[i] for i in sel]).mean():.3f}, bulk unknown "
              f"{np.concatenate([unk_neg[i] for i in sel]).mean():.3f}")
    cat = np.concatenate
    pos, neg, dist, unk_pos = cat(pos), cat(neg), cat(dist), cat(unk_pos)
    pairs = ", ".join(f"{a} | {b}" for a, b in zip(data["grain_a"], data["grain_b"]))
    print(f"\nabTEM bicrystals ({pairs}), {per_bicrystal} fields of {field:g} A each: {pos.size} boundary windows "
          f"(centre < 3 A from a boundary) vs {neg.size} bulk windows (> 8.5 A)")
    print(f"ROC AUC boundary vs bulk: mutual information {roc_auc(pos, neg):.3f}, one minus probability "
          f"{roc_auc(cat(pos_c), cat(neg_c)):.3f}; bulk windows right (the true class among the readings, no priors) "
          f"and not unknown {cat(bulk_right).mean():.4f}, "
          f"bulk flagged unknown {cat(unk_neg).mean():.4f}")
    print("| boundary windows: centre within | windows | ROC AUC (MI) vs bulk | flagged unknown |\n|---|---|---|---|")
    for r in (1.0, 1.5, 2.0, 3.0):
        sel = dist < r
        print(f"| {r:g} A | {sel.sum()} | {roc_auc(pos[sel], neg):.3f} | {unk_pos[sel].mean():.3f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--weights", default=None)
    ap.add_argument("--field", type=float, default=40.0, help="field side, angstrom (default 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=None, help="uncertainty threshold, bits (default: classify's)")
    ap.add_argument("--bicrystals", default=None,
                    help="abTEM bicrystals (.npz from make_abtem_bicrystals.py): run only the boundary benchmark")
    ap.add_argument("--per-bicrystal", type=int, default=4, help="fields per bicrystal (default 4)")
    args = ap.parse_args(argv)
    import torch

    from functools import partial

    from stemlab.classifier.inference import DEFAULT_THRESHOLD
    from stemlab.classifier.inference import classify as classify_default
    from stemlab.simulate.projections import projection

    classify = partial(classify_default, threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold)
    torch.set_num_threads(2)
    if args.bicrystals:
        boundary_section(args.bicrystals, classify, args.weights, args.per_bicrystal, 48.0, args.seed)
        return
    data = np.load(args.data)
    t0 = time.perf_counter()
    per_case = {}
    pooled = {"plain": [], "hit": [], "prior": [], "prob": [], "right_p": [], "twin": [], "twin_right": [], "a_err": [],
              "rot_err": [], "a_err_read": []}
    fe = {"with": [], "without_amb": [], "without_fcc": [], "without_unknown": []}
    for case, img, ps, rotation in fields(data, args.field, args.seed):
        truth = str(case["class_name"])
        key = f"{case['material']} [{case['zone']}]"
        plain = classify(img, pixel_size=ps, passes=30, weights=args.weights, device="cpu")
        row = per_case.setdefault(key, {"truth": truth, "n": 0, "right": 0, "amb": 0, "unk": 0, "right_prior": 0,
                                        "names": {}})
        n = plain.labels.size
        row["n"] += n
        names = np.array(plain.class_names)[plain.labels - 1]
        sure = ~plain.unknown & ~plain.ambiguous
        for nm in names[sure]:
            row["names"][nm] = row["names"].get(nm, 0) + 1
        row["amb"] += int(plain.ambiguous.sum())
        row["unk"] += int(plain.unknown.sum())
        if truth == "out-of-class":
            continue
        right, amb, unk, _ = scores(plain, case, False)
        row["right"] += int(right.sum())
        pooled["plain"].append(right.ravel())
        pooled["prob"].append(plain.probability.ravel())
        pooled["hit"].append(hits(plain, case).ravel())
        withp = classify(img, pixel_size=ps, passes=30, weights=args.weights, device="cpu", lattice=prior_of(case))
        right_p, _, _, a_err = scores(withp, case, True)
        row["right_prior"] += int(right_p.sum())
        pooled["prior"].append(right_p.ravel())
        pooled["twin"].append(amb.ravel())
        pooled["twin_right"].append(right_p[amb].ravel())
        pooled["a_err"].append(a_err.ravel())
        sym = 360.0 / projection(truth).rotation_symmetry
        read = np.isfinite(a_err) & ~withp.unknown
        r_err = rotation_error(withp.rotation[read], rotation + frame_offset(case), sym)
        pooled["rot_err"].append(r_err)
        pooled["a_err_read"].append(a_err[read])
        row["rot_err"] = np.concatenate([row.get("rot_err", np.zeros(0)), r_err])
        row["a_err"] = np.concatenate([row.get("a_err", np.zeros(0)), a_err[read]])
        if case["material"] == "Fe" and case["zone"] in ("100", "110"):
            fec = classify(img, pixel_size=ps, passes=30, weights=args.weights, device="cpu", phases="alpha-Fe, Cu")
            fnames = np.array(fec.class_names)[fec.labels - 1]
            fe["with"].append((np.char.startswith(fnames, "bcc") & ~fec.unknown & ~fec.ambiguous).ravel())
            fe["without_amb"].append(plain.ambiguous.ravel())
            fe["without_fcc"].append((np.char.startswith(names, "fcc") & sure).ravel())
            fe["without_unknown"].append(plain.unknown.ravel())

    print(f"abTEM set {Path(args.data).name}: {len(data['material'])} images, fields {args.field:g} A, weights "
          f"{args.weights or 'shipped'}, threshold {classify.keywords['threshold']:g} bits, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| case | true class | windows | right, no priors (incl. ambiguous) | ambiguous | unknown | "
          "right with its phase as prior (class + a within 3 %) | most frequent confident reading | "
          "with prior, windows read right: rotation error median / 95 % (deg), lattice constant error median / 95 % (%) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, r in per_case.items():
        top = max(r["names"], key=r["names"].get) if r["names"] else "-"
        n = r["n"]
        rp = f"{r['right_prior'] / n:.3f}" if r["truth"] != "out-of-class" else "-"
        rn = f"{r['right'] / n:.3f}" if r["truth"] != "out-of-class" else "-"
        ra = "-"
        if r.get("rot_err") is not None and r["rot_err"].size:
            er, ea = np.abs(r["rot_err"]), 100 * np.abs(r["a_err"])
            ra = (f"{np.median(er):.2f} / {np.percentile(er, 95):.2f}, "
                  f"{np.median(ea):.2f} / {np.percentile(ea, 95):.2f}")
        print(f"| {key} | {r['truth']} | {n} | {rn} | {r['amb'] / n:.3f} | {r['unk'] / n:.3f} | {rp} | {top} | {ra} |")
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in pooled.items()}
    print(f"\nin-class windows: {cat['plain'].size}; right without priors (true class among the readings): "
          f"{cat['plain'].mean():.4f}; with the phase as prior: {cat['prior'].mean():.4f}")
    if cat["twin"].any():
        print(f"spacing twins (windows ambiguous without priors): {cat['twin'].sum()}; resolved right with priors: "
              f"{cat['twin_right'].mean():.4f}")
    a_err = cat["a_err"][np.isfinite(cat["a_err"])]
    if a_err.size:
        print(f"lattice constant error (windows read as the true class, with priors): median {np.median(np.abs(a_err)):.4f}, "
              f"95th percentile {np.percentile(np.abs(a_err), 95):.4f}")
    if cat["rot_err"].size:
        er, ea = np.abs(cat["rot_err"]), np.abs(cat["a_err_read"])
        print(f"with priors, {er.size} windows read as the true class and not unknown: rotation error median "
              f"{np.median(er):.3f} deg, 95th percentile {np.percentile(er, 95):.3f} deg, within 1 deg "
              f"{(er <= 1).mean():.4f}; lattice constant error median {100 * np.median(ea):.2f} %, 95th percentile "
              f"{100 * np.percentile(ea, 95):.2f} %, within 2 % {(ea <= 0.02).mean():.4f}")
    if fe["with"]:
        w = np.concatenate(fe["with"])
        print(f"alpha-Fe [100] + [110]: with priors {{alpha-Fe, Cu}} bcc (not unknown, not ambiguous) {w.mean():.4f}; "
              f"without priors ambiguous {np.concatenate(fe['without_amb']).mean():.4f}, confidently fcc "
              f"{np.concatenate(fe['without_fcc']).mean():.4f}, unknown {np.concatenate(fe['without_unknown']).mean():.4f}")
    out = [(k, r) for k, r in per_case.items() if r["truth"] == "out-of-class"]
    if out:
        n = sum(r["n"] for _, r in out)
        share = sum(r["amb"] + r["unk"] for _, r in out) / n
        print(f"out-of-class structures: unknown or ambiguous {share:.4f} of {n} windows")
    table, ece = calibration_table(cat["prob"], cat["hit"])
    print(f"\ncalibration, in-class windows without priors, flagged or not (accuracy: the true class is the reading "
          f"or one of an ambiguous window's two; expected calibration error {ece:.4f}):\n{table}")


if __name__ == "__main__":
    main()
