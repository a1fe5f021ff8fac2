"""The ``stemlab`` command line (console script ``stemlab = "stemlab.cli:main"``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
