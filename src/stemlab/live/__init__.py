"""Live acquisition: analyse a 4D-STEM scan while the detector records it, and say where to look next.

``acquire(source, scan, ...)`` / :class:`LiveSession` receive every frame of a detector
(:mod:`stemlab.live.sources`: a Merlin/Medipix through LiberTEM-live's receiver), record it
(zarr or Merlin .mib) and grow the explorer's maps and the orientation/phase maps row by row
(:mod:`stemlab.live.session`). :func:`where_next` ranks scan positions by what a denser or
repeated scan would resolve; :func:`replay` simulates an adaptive acquisition on a recorded scan.
LiberTEM-live (``pip install 'napari-stemlab[live]'``) is imported only when a detector is opened.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "acquire": "session", "LiveSession": "session", "LiveProgress": "session",
    "LiveResult": "result",
    "parse_source": "sources", "MerlinSource": "sources", "ArraySource": "sources", "LiveError": "sources",
    "where_next": "advice", "replay": "replay", "write_replay": "replay",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
