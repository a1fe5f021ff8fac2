"""``stemlab classify`` and ``stemlab train-classifier``."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs, check_output


def register(subparsers) -> None:
    """Add the classification subcommands to the ``stemlab`` parser."""
    from ..classifier.inference import DEFAULT_LATTICE_TOLERANCE, DEFAULT_PASSES, DEFAULT_THRESHOLD, DEFAULT_WINDOW

    p = subparsers.add_parser(
        "classify", help="crystal structure + zone axis per window with uncertainty, local rotation, lattice constant")
    p.add_argument("input", help="atomic-resolution HAADF image (2D; a calibrated pixel size is needed)")
    p.add_argument("--window", type=float, default=DEFAULT_WINDOW, metavar="A",
                   help=f"window side in angstrom (default {DEFAULT_WINDOW:g})")
    p.add_argument("--stride", type=float, default=None, metavar="PX",
                   help="window step in input pixels (default: a quarter window)")
    p.add_argument("--passes", type=int, default=DEFAULT_PASSES, metavar="T",
                   help="stochastic passes: Monte-Carlo dropout, shared out among the ensemble's networks "
                        f"(default {DEFAULT_PASSES})")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="BITS",
                   help="mutual-information threshold of the unknown/interface mask "
                        f"(default {DEFAULT_THRESHOLD:g} bits)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--weights", default=None, metavar="DIR", help="folder with classifier.pt + classes.json "
                   "(default: the weights shipped with stemlab)")
    p.add_argument("--no-lattice", action="store_true", help="skip the rotation / lattice-constant maps")
    p.add_argument("--phase", action="append", default=None, metavar="CIF",
                   help="a phase the specimen contains: CIF file or shipped name (alpha-Fe, Cu, Al, Ni, Ag, Au, "
                        "austenite, Ti, Mg); repeatable. Restricts the classes and lattice constants to the phases "
                        "given and so resolves spacing twins (bcc [100] a = 2.87 A looks like fcc [100] a = 4.06 A)")
    p.add_argument("--lattice", nargs="+", default=None, metavar="FAMILY:A",
                   help="phases as lattice constants instead, e.g. --lattice bcc:2.87 fcc:3.61 hcp:2.95:4.68 "
                        "(family:a[:c], angstrom)")
    p.add_argument("--lattice-tolerance", type=float, default=DEFAULT_LATTICE_TOLERANCE, metavar="FRACTION",
                   help="mark unknown the windows whose lattice constant is this far outside their class's range "
                        f"(default {DEFAULT_LATTICE_TOLERANCE:g}; 'inf' turns it off, e.g. for an image whose pixel "
                        "size is uncertain)")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_classify)

    t = subparsers.add_parser("train-classifier",
                              help="re-train the crystal classifier from scratch on simulated images")
    t.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for classifier.pt + classes.json")
    t.add_argument("--per-class", type=int, default=6000, help="simulated windows per class (default 6000)")
    t.add_argument("--epochs", type=int, default=16, help="training epochs per network (default 16)")
    t.add_argument("--members", type=int, default=3, help="networks in the deep ensemble (default 3)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    t.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    t.add_argument("--init", default=None, metavar="DIR",
                   help="start from the weights in DIR (fine-tuning) instead of a random initialisation")
    t.add_argument("-v", "--verbose", action="store_true", help="show progress")
    t.set_defaults(func=cmd_train)


def cmd_classify(args) -> int:
    from pathlib import Path

    from ..classifier.inference import classify
    from ..errors import CalibrationError
    from ..io import load_one

    from ..classifier.priors import resolve_priors

    out = Path(args.output)
    check_output(out, (".npz",))
    resolve_priors(args.phase, args.lattice)  # a bad --phase / --lattice fails before the image is read
    ds = load_one(args.input, **calibration_kwargs(args))
    if not ds.axes[-1].calibrated:
        raise CalibrationError(f"{args.input}: the image has no pixel size; give the size of one pixel with "
                               "--scan-step 0.1angstrom.")
    priors = bool(args.phase or args.lattice)
    if priors and args.no_lattice:
        from ..errors import ParameterError

        raise ParameterError("--phase / --lattice need the lattice-constant measurement: drop --no-lattice.")
    result = classify(ds, window=args.window, stride=args.stride, passes=args.passes,
                      threshold=args.threshold, phases=args.phase,
                      lattice=args.lattice if args.lattice else not args.no_lattice,
                      lattice_tolerance=args.lattice_tolerance,
                      device=args.device, weights=args.weights,
                      progress=ProgressPrinter() if args.verbose else None)
    result.save(out)
    print(f"wrote {out}: {result.summary()}")
    return 0


def cmd_train(args) -> int:
    from ..classifier.training import train

    record = train(args.output, n_per_class=args.per_class, epochs=args.epochs, members=args.members,
                   seed=args.seed, threads=args.threads, lr=args.lr, init=args.init,
                   progress=ProgressPrinter() if args.verbose else None)
    t = record["training"]
    print(f"wrote {args.output}: validation accuracy {t['val_accuracy']:.4f} ({record['members']} network(s), "
          f"{t['epochs']} epochs, {t['simulate_seconds'] + t['train_seconds']:.0f} s)")
    return 0
