"""The ``stemlab`` command line: the same core functions as the napari widgets.

Each command is a module of this package with ``register(subparsers)``; imports of the core
stay inside the commands so ``stemlab --help`` is instant. Analysis packages never import
the CLI.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import StemlabError

# Command modules of this package, in the order of ``stemlab --help``: each has ``register(subparsers)``.
COMMANDS: tuple[str, ...] = ("info", "demo", "virtual", "orient", "segment", "classify", "phasefield", "strain",
                             "live")


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="stemlab", description="4D-STEM and atomic-resolution STEM analysis (napari-stemlab).")
    parser.add_argument("--version", action="version", version=f"stemlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        import_module(f"{__package__}.{module}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StemlabError as error:
        print(f"stemlab {args.command}: error: {error}", file=sys.stderr)
        return 2
