"""Where the phase-field fit's slow-kinetics bias comes from (issue 16, session 9).

    python benchmarks/bench_phasefield_start_bias.py --solver own --dose 30          # our own solver: same bias
    python benchmarks/bench_phasefield_start_bias.py --solver euler --dose 30
    python benchmarks/bench_phasefield_start_bias.py --solver own --dose 30 --hold 1  # kinetics held at the truth
    python benchmarks/bench_phasefield_start_bias.py --solver own --dose 30 --anchor  # state at 1st frame
    python benchmarks/bench_phasefield_start_bias.py --solver own --dose 30 --anchor --truth-start
    python benchmarks/bench_phasefield_start_bias.py --solver own --dose 30 --anchor --scan 1,2

One periodic 48 x 48 px sample at 1 nm (the whole sample is the field of view, so no window
margin is involved), 16 frames 0.8 s apart, Allen-Cahn M kappa = 8 nm^2/s, M W = 1 /s,
M dG = -0.05 /s (interface 4 px), from the test solver's initial field (a smooth random field
cut into phases by tanh edges: not a relaxed state). The video is made either by the project's
own ETDRK2 spectral solver (``--solver own``, the fit's model class) or by the explicit
5-point solver of ``tests/phasefield/independent_solver.py``; rendered as 100 + 60 u counts x
``--dose`` with Poisson noise; fitted with ``boundary='periodic'``, 600 steps, no alignment.
``--anchor``: each segment's free state sits at its first frame instead of one frame interval
before it (a code change tried here, not in the package). ``--truth-start``: segment states and
kinetics start at the truth (needs ``--anchor``). ``--hold F``: kinetics held at F x the truth
(M dG at 1.08 x). ``--scan C1,C2``: after the fit, M kappa and M W are multiplied by each C (M dG
kept) and the fit resumed for 300 steps; the final losses are compared. Prints the errors, the
per-frame Poisson log-likelihood of the fit minus that of the clean video (nats) and the RMS
difference of the fitted order parameter from the true one (block means on the fit's grid).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "phasefield"))

MK, MW, MDG, H, T = 8.0, 1.0, -0.05, 0.8, 16


def video(solver, dose):
    import independent_solver as S
    from stemlab import Axis, Dataset
    from stemlab.simulate.phasefield import PhaseFieldParameters, solve

    rng = np.random.default_rng(0)
    u0 = S.initial_field((48, 48), "allen-cahn", 1.0, 4.0, rng)
    times = np.arange(T) * H
    if solver == "own":
        u = solve(u0, times, PhaseFieldParameters(M=MW, kappa=MK / MW, W=1.0, dG=MDG / MW), dx=1.0)
    else:
        u = S.euler_solve(u0, times, "allen-cahn", MK, MW, MDG, 1.0)
    noisy, clean = S.render(u, dose=dose, rng=rng)
    axes = (Axis("t", T, H, 0.0, "s", True), Axis("y", 48, 1.0, 0.0, "nm"), Axis("x", 48, 1.0, 0.0, "nm"))
    return Dataset(noisy, axes, kind="video", name=f"{solver} solver"), u, clean


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solver", choices=("own", "euler"), default="own")
    parser.add_argument("--dose", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--anchor", action="store_true")
    parser.add_argument("--truth-start", action="store_true")
    parser.add_argument("--hold", type=float, default=None)
    parser.add_argument("--scan", default=None)
    args = parser.parse_args()

    import stemlab.phasefield.fit as F

    ds, u, clean = video(args.solver, args.dose)
    coarse = u.reshape(T, 24, 2, 24, 2).mean(axis=(2, 4))
    truth = {"M*kappa": MK, "M*W": MW, "M*dG": MDG, "interface_width": math.sqrt(2 * MK / MW)}
    if args.anchor:
        class Anchored(F.PhaseFieldModel):
            def _grid(self, setup, device, dtype):
                super()._grid(setup, device, dtype)
                self.int_idx = self.int_idx - 1  # frame j m is the free state itself

        F.PhaseFieldModel = Anchored
    if args.hold is not None or args.truth_start:
        factor = 1.0 if args.hold is None else args.hold
        theta = [MK * factor, MW * factor, MDG * (1.08 if args.hold is not None else 1.0)]
        F.initial_theta = lambda *a: list(theta)
        import stemlab.phasefield.initialise as I
        I.initial_theta = F.initial_theta
    if args.hold is not None:
        class Held(F.Optimisation):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                self.base_lrs[2] = 0.0

        F.Optimisation = Held
    if args.truth_start:
        own_start = F.initial_start

        def truth_start(setup, state=None):
            start = own_start(setup, state)
            start.u[:] = coarse[np.arange(setup.n_seg) * setup.m_seg]
            return start

        F.initial_start = truth_start
    print(f"# load {open('/proc/loadavg').read().strip()}")
    y = np.asarray(ds.data, dtype=float)

    def report(tag, res, t0):
        values = res.parameters["values"]
        ll = lambda I: (y * np.log(np.maximum(I, 1e-6)) - I).sum(axis=(1, 2))  # noqa: E731
        per_frame = ll(np.asarray(res.denoised, dtype=float)) - ll(clean.astype(float))
        rms = np.sqrt(((res.order_parameter - coarse) ** 2).mean(axis=(1, 2)))
        print(f"{tag}: CPU {time.process_time() - t0:.0f} s, final loss {res.history['loss'][-1]:.7f}; "
              + ", ".join(f"{k} {100 * (values[k]['value'] / truth[k] - 1):+.1f} %" for k in truth))
        print(f"  log-likelihood fit - clean per frame (nats): {np.round(per_frame).astype(int).tolist()}, "
              f"total {per_frame.sum():+.0f}")
        print(f"  RMS(u - truth) per frame x 1000: {np.round(1000 * rms).astype(int).tolist()}")

    t0 = time.process_time()
    res = F.fit_phasefield(ds, "allen-cahn", steps=args.steps, align=False, boundary="periodic")
    report(f"{args.solver} solver, dose {args.dose}", res, t0)
    for c in [] if args.scan is None else [float(c) for c in args.scan.split(",")]:
        state = copy.deepcopy(res.state)
        r0, r1, r2 = state.settings["raw_theta"]
        tilt = float(np.clip(math.tanh(r2) / c, -0.99, 0.99))  # M dG = M W tanh(r2) / 3.2 kept
        state.settings["raw_theta"] = [r0 + math.log(c), r1 + math.log(c), math.atanh(tilt)]
        t0 = time.process_time()
        resumed = F.fit_phasefield(ds, "allen-cahn", steps=args.steps + 300, align=False, boundary="periodic",
                                   state=state)
        report(f"  then M*kappa, M*W x {c:g} and 300 more steps", resumed, t0)


if __name__ == "__main__":
    main()
