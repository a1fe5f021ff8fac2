"""``stemlab virtual INPUT -o OUT``: virtual detector, centre-of-mass and DPC images of a 4D-STEM file."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser("virtual", help="virtual detector, centre-of-mass and DPC images of a 4D-STEM file")
    p.add_argument("input")
    p.add_argument("--detector", action="append", default=[], metavar="[NAME=]SPEC",
                   help="disk:CY,CX,R | annulus:CY,CX,RIN,ROUT | rect:Y0,X0,Y1,X1 in detector pixels; "
                        "CY,CX may be 'c' for the found direct-beam centre (repeatable)")
    p.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    p.add_argument("-o", "--output", required=True, help="output .npz (or a folder of .tif)")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_virtual)


def cmd_virtual(args) -> int:
    from ..diffraction import explore, find_direct_beam, parse_detector
    from ..io import load_one

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
    results.save(args.output)
    print(f"wrote {results.summary()} to {args.output}")
    return 0
