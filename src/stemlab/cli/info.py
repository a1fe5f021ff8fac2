"""``stemlab info FILE...``: what a file holds (signals, shape, dtype, calibrated axes)."""

from __future__ import annotations

from .options import add_calibration_options, calibration_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="print what a file holds: signals, shape, dtype, calibrated axes")
    p.add_argument("files", nargs="+", help="instrument file(s)")
    add_calibration_options(p)
    p.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    from ..io import describe

    for path in args.files:
        print(describe(path, **calibration_kwargs(args)))
    return 0
