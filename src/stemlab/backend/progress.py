"""Progress reporting and cooperative cancellation for long computations.

Core functions take ``progress: ProgressCallback | None`` called as
``progress(done, total, message)`` (integers in arbitrary work units) and
``cancel: CancelToken | None`` whose :meth:`CancelToken.check` they call between batches.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from ..errors import Cancelled

ProgressCallback = Callable[[int, int, str], None]


class CancelToken:
    """A thread-safe cancel flag: the GUI calls :meth:`cancel`, workers call :meth:`check`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running computation to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`stemlab.errors.Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled("Computation cancelled by the user; no result was kept.")


def check(cancel: Optional[CancelToken]) -> None:
    """``cancel.check()`` that accepts ``None``."""
    if cancel is not None:
        cancel.check()


def report(progress: Optional[ProgressCallback], done: int, total: int, message: str = "") -> None:
    """Call ``progress`` if given."""
    if progress is not None:
        progress(int(done), int(total), message)


def scaled(progress: Optional[ProgressCallback], start: int, stop: int, total: int,
           prefix: str = "") -> Optional[ProgressCallback]:
    """Map a sub-step's own ``(done, sub_total)`` onto ``[start, stop]`` of an outer ``total``.

    Use it to chain steps: ``scaled(p, 0, 30, 100)`` for step one, ``scaled(p, 30, 100, 100)``
    for step two. Returns ``None`` when ``progress`` is ``None``.
    """
    if progress is None:
        return None

    def sub(done: int, sub_total: int, message: str = "") -> None:
        frac = done / sub_total if sub_total else 1.0
        progress(int(round(start + (stop - start) * min(max(frac, 0.0), 1.0))), int(total),
                 f"{prefix}{message}")

    return sub


def steps(progress: Optional[ProgressCallback], weights: dict[str, float],
          total: int = 1000) -> dict[str, Optional[ProgressCallback]]:
    """Split one progress bar into named sub-steps with relative ``weights``.

    >>> sub = steps(cb, {"read": 1, "fit": 3}); sub["read"](5, 10, "")  # -> cb(125, 1000, "read: ")
    """
    norm = float(sum(weights.values())) or 1.0
    out, acc = {}, 0.0
    for name, w in weights.items():
        lo = acc / norm * total
        acc += w
        out[name] = scaled(progress, int(round(lo)), int(round(acc / norm * total)), total, f"{name}: ")
    return out
