"""``stemlab virtual INPUT -o OUT``: virtual detector, centre-of-mass and DPC images of a 4D-STEM file."""

from __future__ import annotations

from .options import (ProgressPrinter, add_calibration_options, calibration_kwargs, check_output, need_scan,
                      option_name)

MIN_INSIDE = 0.5  # a disk or rectangle with less of its area on the pattern is refused


def register(subparsers) -> None:
    p = subparsers.add_parser("virtual", help="virtual detector, centre-of-mass and DPC images of a 4D-STEM file")
    p.add_argument("input")
    p.add_argument("--detector", action="append", default=[], metavar="[NAME=]SPEC",
                   help="disk:CY,CX,R | annulus:CY,CX,RIN,ROUT | rect:Y0,X0,Y1,X1 in detector pixels; "
                        "CY,CX may be 'c' for the found direct-beam centre (repeatable)")
    p.add_argument("--dpc-rotation", metavar="auto|DEG", type=_dpc_rotation,
                   help="rotation of the CoM field into the scan frame for DPC/iDPC: 'auto' finds it (and the flip) "
                        "by minimising the curl of the CoM field; a number is degrees (default: --scan-rotation, "
                        "else the file's, else 0)")
    p.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    p.add_argument("-o", "--output", required=True, help="output .npz (or a folder of .tif)")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_virtual)


def _dpc_rotation(text: str):
    """--dpc-rotation: 'auto' or an angle in degrees."""
    import argparse

    from ..calibration import parse_scan_rotation
    from ..errors import CalibrationError

    if text.strip().lower() == "auto":
        return "auto"
    try:
        return parse_scan_rotation(text, "--dpc-rotation")
    except CalibrationError as error:
        raise argparse.ArgumentTypeError(f"{error} Or give 'auto' to find it from the data.") from None


def cmd_virtual(args) -> int:
    from ..diffraction import explore, find_direct_beam, parse_detector
    from ..diffraction.analysis import COM_NAMES
    from ..io import load_one

    check_output(args.output, (".npz",), folder=True)
    ds = load_one(args.input, **calibration_kwargs(args))
    need_scan(ds, args.input, "virtual")
    specs = [spec.partition("=") if "=" in spec else ("", "", spec) for spec in args.detector]
    if not specs:
        specs = [("BF", "", "disk:c,c,8")]
    progress = ProgressPrinter() if args.verbose else None
    centre = None
    if any(":c" in spec or ",c" in spec for _, _, spec in specs):
        centre = find_direct_beam(ds, scheduler=args.scheduler, progress=progress)
    detectors = {name or f"D{i}": parse_detector(spec, centre.median if centre is not None else None)
                 for i, (name, _, spec) in enumerate(specs)}
    for (name, _, spec), detector in zip(specs, detectors.values()):
        check_detector(detector, f"{name}={spec}" if name else spec, ds.sig_shape[-2:])
    flip = "auto" if args.dpc_rotation == "auto" and args.scan_flip is None else args.scan_flip
    results = explore(ds, detectors, centre=centre, dpc_rotation=args.dpc_rotation, dpc_flip=flip,
                      scheduler=args.scheduler, progress=progress)
    skipped = [name for name in COM_NAMES.values() if name not in results]
    phase = results.pop("iDPC phase", None)
    if phase is not None:  # the .npz names of the iDPC map and the rotation it was integrated with
        import numpy as np

        meta = phase.metadata
        results.update(idpc=phase, dpc_rotation_deg=np.array(meta["dpc_rotation_deg"]),
                       dpc_flip=np.array(bool(meta["dpc_flip"])))
        how = "found by minimising the CoM curl" if args.dpc_rotation == "auto" else "as given"
        curl = f", residual curl {meta['dpc_curl_fraction']:.1%}" if "dpc_curl_fraction" in meta else ""
        print(f"DPC rotation {meta['dpc_rotation_deg']:.2f} deg, {'flipped' if meta['dpc_flip'] else 'not flipped'} "
              f"({how}{curl})")
    elif args.dpc_rotation is not None:
        from ..errors import CalibrationError

        raise CalibrationError(f"--dpc-rotation: {args.input} needs a calibrated detector (1/length) and a 2D scan "
                               "with a length step for iDPC: give --calibration and --scan-step.")
    results.save(args.output)
    line = f"wrote {', '.join(results)} to {args.output}"
    if skipped:
        need = []
        if not all(a.calibrated for a in ds.sig_axes):
            need.append(f"{option_name('calibration')} 0.0127/angstrom (the detector's reciprocal pixel size)")
        if "iDPC phase" in skipped and not all(a.calibrated for a in ds.nav_axes):
            need.append(f"{option_name('scan_step')} 2nm (the scan step)")
        line += f"; not written for lack of calibration: {', '.join(skipped)}"
        if need:
            line += f" (give {' and '.join(need)})"
    print(line)
    return 0


def check_detector(detector, spec: str, sig_shape) -> None:
    """Refuse a detector that lies (mostly) outside the pattern, naming the pattern's size."""
    from ..diffraction.detectors import Annulus, inside_fraction
    from ..errors import ParameterError

    h, w = sig_shape
    inside = inside_fraction(detector, (h, w))
    if inside <= 0 or (not isinstance(detector, Annulus) and inside < MIN_INSIDE):
        raise ParameterError(
            f"--detector {spec}: only {100 * inside:.2g} % of it lies on the {h} x {w} px pattern; give the centre "
            f"and sizes in detector pixels (rows 0-{h - 1}, columns 0-{w - 1}), e.g. disk:c,c,{max(2, min(h, w) // 16)} "
            "('c' is the found direct-beam centre).")
