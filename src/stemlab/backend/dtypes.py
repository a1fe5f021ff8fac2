"""Byte order at the boundary of the compiled kernels (numba loops, torch tensors).

Readers hand out the dtype of the file: Merlin ``.mib`` stores big-endian integers
(``>u2`` for 12-bit counters), others little-endian integers of 8-32 bits or floats.
numpy computes on any byte order, but numba cannot type a non-native array and torch
refuses one, so every array that enters a compiled kernel passes through :func:`native`
(by :func:`native_arrays` on the numba kernels and :func:`stemlab.backend.to_device` for
torch): arrays already in the machine's byte order pass unchanged (no copy).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np


def native(array: Any) -> np.ndarray:
    """``array`` as a numpy array in the machine's byte order, values and dtype kind unchanged.

    Returned as it is (no copy) when already native; a non-native (big-endian) array is
    converted, which copies it: callers pass the smallest part they need (a crop, a block).
    """
    arr = np.asarray(array)
    if arr.dtype.isnative:
        return arr
    return arr.astype(arr.dtype.newbyteorder("="))


def native_arrays(kernel: Callable) -> Callable:
    """Wrap a compiled kernel so that each numpy argument is passed through :func:`native`.

    Output arrays the caller allocates are native already, so they are passed (and
    written) in place.
    """

    @functools.wraps(kernel)
    def call(*args):
        return kernel(*(native(a) if isinstance(a, np.ndarray) else a for a in args))

    return call
