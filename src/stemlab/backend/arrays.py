"""Array namespace of a block: numpy for host arrays, cupy for GPU arrays (cupy is optional).

Generic array code (virtual detectors and centre of mass of a chunk) asks :func:`array_namespace`
for the module that owns its input and computes with it, so a cupy array, or a cupy-backed dask
chunk, is reduced on its GPU without a copy to the host. cupy is imported only when such an
array arrives (``type(x).__module__`` names it).
"""

from __future__ import annotations

import numpy as np


def is_gpu_array(x) -> bool:
    """True for a cupy array (anything exposing ``__cuda_array_interface__`` that is not a torch tensor)."""
    return hasattr(x, "__cuda_array_interface__") and not type(x).__module__.startswith("torch")


def array_namespace(x):
    """cupy for a cupy array, else numpy."""
    if is_gpu_array(x) and type(x).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def to_host(x) -> np.ndarray:
    """A numpy array of ``x`` (a copy from the GPU for cupy arrays; small results only)."""
    return x.get() if is_gpu_array(x) and hasattr(x, "get") else np.asarray(x)
