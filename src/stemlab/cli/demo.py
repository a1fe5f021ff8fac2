"""``stemlab demo -o FOLDER``: the analyses headless on the bundled sample data."""

from __future__ import annotations

from .options import ProgressPrinter


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the analyses headless on the bundled sample data")
    p.add_argument("-o", "--output", default="stemlab-demo", help="output folder (default: stemlab-demo)")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from ..demo import run_demo

    summary = run_demo(args.output, progress=ProgressPrinter() if args.verbose else None)
    print(summary)
    return 0
