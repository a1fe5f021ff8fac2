"""Dask chunking for readers: whole patterns per chunk, navigation-chunked, ~64 MB each.

Analyses stream over navigation chunks (``stemlab.backend.streaming``); a chunk that cuts
a diffraction pattern, or millions of tiny chunks, would make every pass slow.
"""

from __future__ import annotations

import math

TARGET_CHUNK_BYTES = 64 * 2**20


def nav_chunks(shape: tuple[int, ...], nav_ndim: int, itemsize: int,
               target_bytes: int = TARGET_CHUNK_BYTES) -> tuple[int, ...]:
    """Chunk shape holding whole signal frames and about ``target_bytes`` (at least one frame).

    Navigation axes are filled from the last (fastest) one backwards, so a chunk is a run
    of whole scan rows where possible: contiguous on disk for row-major files.
    """
    nav, sig = shape[:nav_ndim], shape[nav_ndim:]
    frame_bytes = max(1, math.prod(sig) * itemsize)
    budget = max(1, target_bytes // frame_bytes)  # frames per chunk
    chunks = []
    for size in reversed(nav):
        take = max(1, min(size, budget))
        chunks.append(take)
        budget = max(1, budget // size) if take == size else 1
    return tuple(reversed(chunks)) + tuple(sig)


def rechunk_whole_frames(data, nav_ndim: int, target_bytes: int = TARGET_CHUNK_BYTES):
    """Rechunk a dask array so each chunk holds whole frames (~``target_bytes``); numpy passes through."""
    if not type(data).__module__.startswith("dask") or nav_ndim == 0:
        return data
    wanted = nav_chunks(tuple(data.shape), nav_ndim, data.dtype.itemsize, target_bytes)
    current = tuple(c[0] for c in data.chunks)
    if current == wanted:
        return data
    return data.rechunk(wanted)
