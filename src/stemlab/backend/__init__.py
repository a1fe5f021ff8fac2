"""Shared compute backend: devices, batching, chunk streaming, dask clusters, progress + cancel.

Heavy imports (torch, distributed) happen inside the functions.
"""

from .batching import batch_size, run_batched
from .cluster import close_clients, get_client
from .device import resolve_device, to_device
from .progress import CancelToken, ProgressCallback, scaled, steps
from .streaming import stream_reduce

__all__ = ["CancelToken", "ProgressCallback", "batch_size", "close_clients", "get_client",
           "resolve_device", "run_batched", "scaled", "steps", "stream_reduce", "to_device"]
