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


def build_parser(commands: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The ``stemlab`` parser with the subcommands ``commands`` (default: all of them)."""
    from importlib import import_module

    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="stemlab", description="4D-STEM and atomic-resolution STEM analysis (napari-stemlab).")
    parser.add_argument("--version", action="version", version=f"stemlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in commands:
        import_module(f"{__package__}.{module}").register(sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # ``stemlab CMD ...`` registers CMD alone: the other commands' defaults (some from heavy modules,
    # e.g. the classifier's) are not imported on the way to an orientation map
    parser = build_parser((argv[0],) if argv and argv[0] in COMMANDS else COMMANDS)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StemlabError as error:
        print(f"stemlab {args.command}: error: {error}", file=sys.stderr)
        return 2
