"""The ``stemlab`` command line: the same core functions as the napari widgets.

Imports stay inside the commands so ``stemlab --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys

from .errors import StemlabError

# Modules that add analysis subcommands: each has ``register(subparsers)``.
ANALYSIS_COMMANDS: tuple[str, ...] = ("stemlab.diffraction.orientation.command", "stemlab.symmetry.command",
                                      "stemlab.classify.command", "stemlab.phasefield.command")


def add_calibration_options(parser: argparse.ArgumentParser):
    """Options every command accepts for inputs that lack calibration."""
    group = parser.add_argument_group("calibration (overrides the file's)")
    group.add_argument("--scan-step", metavar="Q", help="probe step or image pixel size, e.g. 2nm")
    group.add_argument("--calibration", metavar="Q",
                       help="reciprocal size of one detector pixel, e.g. 0.0127/angstrom")
    group.add_argument("--camera-length", metavar="Q", help="camera length, e.g. 0.2m (with --detector-pixel)")
    group.add_argument("--detector-pixel", metavar="Q", help="physical detector pixel size, e.g. 55um")
    group.add_argument("--voltage", metavar="KV", help="accelerating voltage, e.g. 200 or 200kV")


def calibration_kwargs(args) -> dict:
    names = ("scan_step", "calibration", "camera_length", "detector_pixel", "voltage")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def cmd_info(args) -> int:
    from .io import describe

    for path in args.files:
        print(describe(path, **calibration_kwargs(args)))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    summary = run_demo(args.output, progress=ProgressPrinter() if args.verbose else None)
    print(summary)
    return 0


def cmd_virtual(args) -> int:
    from .diffraction import explore, find_direct_beam, parse_detector
    from .io import load_one
    from .io.writers import save_results

    ds = load_one(args.input, **calibration_kwargs(args))
    specs = [spec.partition("=") if "=" in spec else ("", "", spec) for spec in args.detector]
    if not specs:
        specs = [("BF", "", "disk:c,c,8")]
    progress = ProgressPrinter() if args.verbose else None
    centre = None
    if any(":c" in spec or ",c" in spec for _, _, spec in specs):
        centre = find_direct_beam(ds, scheduler=args.scheduler, progress=progress)
    detectors = {name or f"D{i}": parse_detector(spec, centre.median if centre is not None else None) for i, (name, _, spec) in enumerate(specs)}
    results = explore(ds, detectors, centre=centre, scheduler=args.scheduler, progress=progress)
    save_results(results, args.output)
    print(f"wrote {', '.join(results)} to {args.output}")
    return 0


class ProgressPrinter:
    """Progress to stderr for the terminal (core functions never print)."""

    def __call__(self, done, total, message=""):
        sys.stderr.write(f"\r{message} {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="stemlab", description="4D-STEM and atomic-resolution STEM analysis (napari-stemlab).")
    parser.add_argument("--version", action="version", version=f"stemlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="print what a file holds: signals, shape, dtype, calibrated axes")
    info.add_argument("files", nargs="+", help="instrument file(s)")
    add_calibration_options(info)
    info.set_defaults(func=cmd_info)

    demo = sub.add_parser("demo", help="run the analyses headless on the bundled sample data")
    demo.add_argument("-o", "--output", default="stemlab-demo", help="output folder (default: stemlab-demo)")
    demo.add_argument("-v", "--verbose", action="store_true", help="show progress")
    demo.set_defaults(func=cmd_demo)

    virtual = sub.add_parser("virtual", help="virtual detector, centre-of-mass and DPC images of a 4D-STEM file")
    virtual.add_argument("input")
    virtual.add_argument("--detector", action="append", default=[], metavar="[NAME=]SPEC",
                         help="disk:CY,CX,R | annulus:CY,CX,RIN,ROUT | rect:Y0,X0,Y1,X1 in detector pixels; "
                              "CY,CX may be 'c' for the found direct-beam centre (repeatable)")
    virtual.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    virtual.add_argument("-o", "--output", required=True, help="output .npz (or a folder of .tif)")
    virtual.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(virtual)
    virtual.set_defaults(func=cmd_virtual)

    from importlib import import_module

    for module in ANALYSIS_COMMANDS:
        import_module(module).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StemlabError as error:
        print(f"stemlab {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
