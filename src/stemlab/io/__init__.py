"""File input/output: ``load(path) -> list[Dataset]``, ``can_read``, ``describe`` and atomic writers.

Instrument formats go through rosettasciio (lazy dask arrays), plain containers (.npy,
.zarr, .tif, .npz) through numpy/zarr/tifffile. Heavy packages load only when a file is read.
"""

from .loader import describe, load, load_one
from .sniff import can_read, identify, supported_extensions
from .writers import atomic_write, save_dataset, save_results

__all__ = ["atomic_write", "can_read", "describe", "identify", "load", "load_one", "save_dataset", "save_results",
           "supported_extensions"]
