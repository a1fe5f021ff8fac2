"""Run work in batches that fit a memory budget; shrink on GPU out-of-memory, then fall back to CPU."""

from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

from ..errors import ParameterError, StemlabError
from .progress import CancelToken, ProgressCallback, check, report


def batch_size(bytes_per_item: float, budget_bytes: float, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """Number of items whose working memory (``bytes_per_item`` each, bytes) fits ``budget_bytes``.

    Never less than ``minimum``, never more than ``maximum`` (when given).
    """
    if bytes_per_item <= 0:
        raise ParameterError(f"bytes_per_item must be positive, got {bytes_per_item}.")
    n = max(int(minimum), int(budget_bytes // bytes_per_item))
    return min(n, int(maximum)) if maximum is not None else n


def _oom_types() -> tuple[type, ...]:
    import torch

    return (torch.cuda.OutOfMemoryError, MemoryError)


def run_batched(func: Callable[[int, int, Any], Any], n_items: int, batch: int, *, device: Any = "cpu",
                progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
                message: str = "") -> list:
    """Call ``func(start, stop, device)`` over ``range(n_items)`` in batches; return the results in order.

    On out-of-memory (``torch.cuda.OutOfMemoryError`` or ``MemoryError``) the batch is halved
    and the same items retried; when a single item still does not fit on CUDA the rest of the
    work moves to the CPU with a ``warnings.warn`` (``func`` then receives ``torch.device('cpu')``).
    A failure on the CPU with one item raises :class:`StemlabError` with the fix.
    ``cancel`` is checked and ``progress(done, n_items, message)`` called after every batch.
    """
    import torch

    from .device import resolve_device

    dev = resolve_device(device)
    if batch < 1:
        raise ParameterError(f"batch must be >= 1, got {batch}.")
    oom = _oom_types()
    results: list = []
    start, size = 0, int(batch)
    report(progress, 0, n_items, message)
    while start < n_items:
        check(cancel)
        stop = min(start + size, n_items)
        try:
            results.append(func(start, stop, dev))
        except oom as error:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            if stop - start > 1:
                size = max(1, (stop - start) // 2)
                continue
            if dev.type == "cuda":
                warnings.warn(f"Out of GPU memory even for one item ({error}); continuing on the CPU.",
                              RuntimeWarning, stacklevel=2)
                dev, size = torch.device("cpu"), int(batch)
                continue
            raise StemlabError(
                f"Out of memory for a single item on the CPU ({error}). Free memory, lower the "
                "memory budget or work on a cropped/binned dataset.") from None
        start = stop
        report(progress, start, n_items, message)
    return results
