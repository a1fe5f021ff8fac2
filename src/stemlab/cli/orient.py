"""``stemlab orient INPUT --phase A.cif [--phase B.cif ...] -o OUT.h5``: batch orientation mapping."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser("orient", help="phase and orientation map of a 4D-STEM file by template matching")
    p.add_argument("input", help="4D-STEM file (any format stemlab reads)")
    p.add_argument("--phase", action="append", required=True, metavar="CIF",
                   help="CIF file or shipped phase name (Al, Cu, Ni, Ag, Au, Si, alpha-Fe, austenite, Ti, Mg); repeatable")
    p.add_argument("--resolution", type=float, default=1.0, metavar="DEG", help="library angular resolution (default 1)")
    p.add_argument("--precession", type=float, default=0.0, metavar="DEG", help="precession semi-angle (default 0)")
    p.add_argument("--relrod", type=_relrod_width, default=0.02, metavar="WIDTH|auto",
                   help="library relrod width in 1/A, about 1/thickness (default 0.02), or 'auto': measured on a "
                        "sample of the patterns (costs ~7 extra indexing runs of 256 patterns)")
    p.add_argument("--gamma", type=float, default=0.5, help="intensity transform exponent (default 0.5)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="compute device")
    p.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    p.add_argument("-o", "--output", required=True, help="output CrystalMap: .h5 (orix) or .ang")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_orient)


def _relrod_width(text: str):
    """--relrod: 'auto' or a width in 1/angstrom."""
    import argparse

    try:
        return text if text == "auto" else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the relrod width in 1/A (e.g. 0.02) or 'auto'") from None


def orient(input, phases, output, *, voltage=None, calibration=None, resolution=1.0, precession=0.0, relrod=0.02,
           gamma=0.5, device="auto", scheduler=None, progress=None, cancel=None, **calibration_options):
    """The ``stemlab orient`` command as a Python function: load, index, write; returns the result."""
    from ..io import load_one
    from ..orientation import index_orientations

    ds = load_one(input, calibration=calibration, voltage=voltage, **calibration_options)
    if not all(a.calibrated for a in ds.sig_axes):
        from ..errors import CalibrationError

        raise CalibrationError(
            f"{input}: the diffraction patterns have no reciprocal calibration; give the size of one detector "
            "pixel with --calibration 0.0127/angstrom, or --camera-length 0.2m --detector-pixel 55um --voltage 200.")
    result = index_orientations(ds, list(phases), voltage=voltage, resolution=resolution, precession=precession,
                                s_width=relrod, gamma=gamma, device=device, scheduler=scheduler, progress=progress,
                                cancel=cancel)
    result.save(output)
    return result


def cmd_orient(args) -> int:
    cal = calibration_kwargs(args)
    result = orient(args.input, args.phase, args.output, resolution=args.resolution, precession=args.precession,
                    relrod=args.relrod, gamma=args.gamma, device=args.device, scheduler=args.scheduler,
                    progress=ProgressPrinter() if args.verbose else None, **cal)
    print(f"wrote {args.output}: {result.summary()}{' (measured)' if args.relrod == 'auto' else ''}")
    geometry = result.scan_geometry
    print(f"orientations in the scan frame: scan rotation {geometry['scan_rotation_deg']:g} deg"
          f"{', flipped' if geometry['scan_flip'] else ''}")
    return 0
