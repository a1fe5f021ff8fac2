"""``stemlab phasefield INPUT -o OUT.npz``: physics-informed phase-field fit of a video."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs, describe


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "phasefield", help="fit an Allen-Cahn / Cahn-Hilliard phase-field model to a HAADF video: "
                           "denoised video, order parameter, interfaces and kinetic parameters")
    p.add_argument("input", help="video file (time, y, x)")
    p.add_argument("--model", default="allen-cahn", choices=("allen-cahn", "cahn-hilliard"),
                   help="allen-cahn (non-conserved, default) or cahn-hilliard (conserved order parameter)")
    p.add_argument("--steps", type=int, default=1500, help="optimiser steps, the training budget (default 1500)")
    p.add_argument("--downsample", type=int, default=2, help="spatial coarse-graining of the order parameter (2)")
    p.add_argument("--frames", metavar="START:STOP", help="frame range, e.g. 0:40")
    p.add_argument("--crop", metavar="Y0,Y1,X0,X1", help="crop in pixels")
    p.add_argument("--no-align", action="store_true", help="skip drift correction")
    p.add_argument("--frame-time", type=float, metavar="S", help="seconds per frame (overrides the file)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=run)


def parse_frames(text):
    from ..errors import ParameterError

    if not text:
        return None
    try:
        start, stop = text.split(":")
        return (int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        raise ParameterError(f"--frames {text!r}: write START:STOP, e.g. 0:40.") from None


def run(args) -> int:
    import json

    from ..errors import ParameterError
    from ..io import load_one
    from ..phasefield.crop import parse_crop
    from ..phasefield.fit import fit_phasefield

    ds = load_one(args.input, **calibration_kwargs(args))
    if ds.ndim != 3:
        raise ParameterError(f"{args.input}: this file holds {describe(ds)}; `stemlab phasefield` needs a video "
                             "(time, y, x).")
    frames = parse_frames(args.frames)
    n = len(range(ds.shape[0])[slice(*frames)]) if frames else ds.shape[0]
    if n < 3:
        raise ParameterError(f"{args.input}: {n} frame(s){' selected by --frames ' + args.frames if frames else ''}; "
                             "the phase-field fit needs at least 3 frames (choose them with --frames START:STOP).")
    if args.frame_time is not None:
        if args.frame_time <= 0:
            raise ParameterError("--frame-time must be positive (seconds per frame).")
        ds = ds.with_axes(**{ds.axes[0].name: {"scale": args.frame_time, "units": "s"}})
    if not str(args.output).lower().endswith(".npz"):
        raise ParameterError(f"-o {args.output}: the phase-field result is written as .npz; name it OUT.npz.")
    result = fit_phasefield(ds, args.model, steps=args.steps, downsample=args.downsample,
                            frames=frames, crop=parse_crop(args.crop),
                            align=not args.no_align, device=args.device,
                            progress=ProgressPrinter() if args.verbose else None)
    result.save(args.output)
    print(f"wrote order_parameter, denoised, interface, parameters, history to {args.output}")
    print(result.summary())
    if args.verbose:
        print(json.dumps({k: v for k, v in result.quality.items() if k != "transition_weights"}, indent=1,
                         default=float))
    return 0
