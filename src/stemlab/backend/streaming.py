"""Stream a per-pattern function over navigation chunks of a numpy or dask array, memory bounded.

``stream_reduce(array, func, nav_ndim=2)`` calls ``func(block)`` with C-contiguous numpy
blocks of shape ``(n, *sig_shape)`` (``n`` navigation positions, flattened) and stacks the
``(n, *res_shape)`` results to ``nav_shape + res_shape``. ``func`` may also return a dict
of such arrays; keys named in ``reduce`` are instead per-block *partial reductions* (e.g.
the sum or max pattern of the block) combined over all blocks with ``'sum'``, ``'max'`` or
``'min'`` (sums are combined in float64).

Execution: numpy input is sliced directly (memmaps included: only the chunk being
processed is read) and processed by a small thread pool in this process; dask input is
rechunked along navigation only (whole signal per chunk) and computed in bounded waves of
chunks, never the whole graph at once; with ``scheduler`` (``'tcp://host:port'`` or a
``distributed.Client``) the same per-chunk function runs on the cluster in bounded waves.
"""

from __future__ import annotations

import contextlib
import math
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..errors import ParameterError
from .progress import CancelToken, ProgressCallback, check, report

DEFAULT_BUDGET = 512 * 2**20  # bytes
_MAX_CHUNK = 64 * 2**20       # bytes of input per chunk: keeps cancel/progress under ~0.1 s
_OPS = {"sum": np.add, "max": np.maximum, "min": np.minimum}


def is_dask(array: Any) -> bool:
    return type(array).__module__.startswith("dask")


def chunk_positions(sig_bytes: int, memory_budget: float, workers: int) -> int:
    """Navigation positions per chunk: about a third of the budget per worker, at most 64 MiB."""
    per_chunk = min(float(memory_budget) / (3 * max(1, workers)), _MAX_CHUNK)
    return max(1, int(per_chunk // max(1, sig_bytes)))


def nav_chunks(nav_shape: tuple[int, ...], positions: int) -> tuple[tuple[int, ...], ...]:
    """dask chunks over navigation axes holding about ``positions`` positions each.

    Trailing navigation axes are kept whole as long as they fit, so chunks are contiguous
    runs of scan rows where possible.
    """
    sizes: list[int] = [1] * len(nav_shape)
    remaining = max(1, int(positions))
    for i in range(len(nav_shape) - 1, -1, -1):
        if remaining >= nav_shape[i]:
            sizes[i] = nav_shape[i]
            remaining //= nav_shape[i]
        else:
            sizes[i] = max(1, remaining)
            break
    out = []
    for n, c in zip(nav_shape, sizes):
        full, rest = divmod(n, c)
        out.append((c,) * full + ((rest,) if rest else ()))
    return tuple(out)


class _Collector:
    """Places per-position results and combines partial reductions as chunks complete."""

    def __init__(self, nav_shape, reduce, dtype):
        self.nav_shape, self.reduce, self.dtype = tuple(nav_shape), dict(reduce or {}), dtype
        self.out: Optional[dict] = None
        self.acc: dict[str, np.ndarray] = {}
        self.single = None

    def add(self, result, where) -> None:
        if self.single is None:
            self.single = not isinstance(result, Mapping)
        items = {"_": result} if self.single else result
        if self.out is None:
            self.out = {}
            for key, value in items.items():
                if key in self.reduce:
                    continue
                value = np.asarray(value)
                dtype = self.dtype or value.dtype
                self.out[key] = np.empty(self.nav_shape + value.shape[1:], dtype=dtype)
        for key, value in items.items():
            if key in self.reduce:
                op = self.reduce[key]
                if op not in _OPS:
                    raise ParameterError(f"reduce[{key!r}] = {op!r}: use 'sum', 'max' or 'min'.")
                value = np.asarray(value)
                if op == "sum" and value.dtype.kind in "fc":
                    value = value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)
                if key in self.acc:
                    _OPS[op](self.acc[key], value, out=self.acc[key])
                else:
                    self.acc[key] = np.array(value, copy=True)
            else:
                target = self.out[key]
                if isinstance(where, tuple) and where and isinstance(where[0], slice) and len(where) == len(self.nav_shape):
                    block_nav = tuple(s.stop - s.start for s in where)
                    target[where] = np.asarray(value).reshape(block_nav + target.shape[len(self.nav_shape):])
                else:  # flat range
                    flat = target.reshape((-1,) + target.shape[len(self.nav_shape):])
                    flat[where[0]:where[1]] = value

    def result(self):
        if self.out is None:
            self.out = {}
        merged = {**self.out, **self.acc}
        return merged["_"] if self.single else merged


def _apply(block, func, sig_shape):
    from .arrays import array_namespace

    xp = array_namespace(block)  # a cupy chunk stays on its GPU
    block = xp.ascontiguousarray(xp.asarray(block).reshape((-1,) + tuple(sig_shape)))
    return func(block)


@contextlib.contextmanager
def single_threaded_blas():
    """Keep BLAS single-threaded while our own threads run in parallel (an idle OpenBLAS worker
    spin-waits on a core for a while after every call)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _numpy_block(array, nav_shape, start, stop):
    n_nav = math.prod(nav_shape)
    sig = array.shape[len(nav_shape):]
    try:
        flat = np.reshape(array, (n_nav,) + sig, copy=False)
        return flat[start:stop]
    except (ValueError, TypeError):
        index = np.unravel_index(np.arange(start, stop), nav_shape)
        return array[index]


def stream_reduce(array: Any, func: Callable[[np.ndarray], Any], *, nav_ndim: int,
                  memory_budget: float = DEFAULT_BUDGET, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None, scheduler: Any = None, dtype: Any = None,
                  reduce: Optional[Mapping[str, str]] = None, threads: int = 2, message: str = "streaming"):
    """Apply ``func`` to every navigation position of ``array`` in memory-bounded chunks.

    Parameters
    ----------
    array : numpy array, numpy memmap or dask array; the leading ``nav_ndim`` axes navigate.
    func : ``block (n, *sig_shape) -> (n, *res_shape)`` array or dict of arrays; dict entries
        named in ``reduce`` are per-block partial reductions of any shape.
    memory_budget : bytes the computation may hold at once (input chunks in flight).
    progress : ``progress(done_positions, total_positions, message)`` after every chunk.
    cancel : :class:`CancelToken`, checked before every chunk (stops within ~0.1 s).
    scheduler : ``None`` (this process), ``'tcp://host:port'`` or a ``distributed.Client``.
    dtype : cast per-position results to this dtype (default: ``func``'s dtype).
    reduce : ``{key: 'sum' | 'max' | 'min'}`` for partial-reduction outputs of ``func``.
    threads : local worker threads.

    Returns the stacked array ``nav_shape + res_shape`` or a dict (per-position keys stacked,
    ``reduce`` keys combined).
    """
    if not 1 <= nav_ndim <= array.ndim:
        raise ParameterError(f"nav_ndim={nav_ndim} for an array of {array.ndim} dimensions.")
    nav_shape = tuple(int(n) for n in array.shape[:nav_ndim])
    sig_shape = tuple(int(n) for n in array.shape[nav_ndim:])
    sig_bytes = max(1, math.prod(sig_shape)) * np.dtype(array.dtype).itemsize
    collector = _Collector(nav_shape, reduce, dtype)
    if scheduler is not None:
        _run_distributed(array, func, nav_shape, sig_shape, sig_bytes, memory_budget, scheduler,
                         collector, progress, cancel, message)
    elif is_dask(array):
        with single_threaded_blas():
            _run_dask_local(array, func, nav_shape, sig_shape, sig_bytes, memory_budget, threads,
                            collector, progress, cancel, message)
    else:
        with single_threaded_blas():
            _run_numpy(array, func, nav_shape, sig_shape, sig_bytes, memory_budget, threads,
                       collector, progress, cancel, message)
    return collector.result()


def _run_numpy(array, func, nav_shape, sig_shape, sig_bytes, budget, threads, collector, progress, cancel, message):
    n_nav = math.prod(nav_shape)
    per = chunk_positions(sig_bytes, budget, threads)
    ranges = [(s, min(s + per, n_nav)) for s in range(0, n_nav, per)]
    report(progress, 0, n_nav, message)
    done = 0
    if threads <= 1 or len(ranges) == 1:
        for start, stop in ranges:
            check(cancel)
            collector.add(_apply(_numpy_block(array, nav_shape, start, stop), func, sig_shape), (start, stop))
            done += stop - start
            report(progress, done, n_nav, message)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: dict = {}
        todo = iter(ranges)
        try:
            while True:
                while len(pending) < threads:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    check(cancel)
                    fut = pool.submit(lambda r: _apply(_numpy_block(array, nav_shape, *r), func, sig_shape), nxt)
                    pending[fut] = nxt
                if not pending:
                    break
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    where = pending.pop(fut)
                    collector.add(fut.result(), where)
                    done += where[1] - where[0]
                    report(progress, done, n_nav, message)
                check(cancel)
        finally:
            for fut in pending:
                fut.cancel()


def _dask_blocks(array, nav_shape, sig_shape, sig_bytes, budget, workers, rechunk_method=None):
    """Rechunk along navigation only and yield (delayed block, nav slices). ``rechunk_method``
    'tasks' for the local scheduler (dask's default choice then imports distributed: ~0.5 s)."""
    import dask.array as da

    per = chunk_positions(sig_bytes, budget, workers)
    chunks = nav_chunks(nav_shape, per)
    full = chunks + tuple((n,) for n in sig_shape)
    arr = array.rechunk(full, method=rechunk_method) if is_dask(array) else da.from_array(array, chunks=full)
    delayed = arr.to_delayed()
    offsets = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    out = []
    for idx in np.ndindex(*delayed.shape[: len(nav_shape)]):
        block = delayed[idx + (0,) * len(sig_shape)]
        where = tuple(slice(int(offsets[a][i]), int(offsets[a][i + 1])) for a, i in enumerate(idx))
        out.append((block, where))
    return out


def _run_dask_local(array, func, nav_shape, sig_shape, sig_bytes, budget, threads, collector, progress, cancel, message):
    import dask

    n_nav = math.prod(nav_shape)
    blocks = _dask_blocks(array, nav_shape, sig_shape, sig_bytes, budget, threads, rechunk_method="tasks")
    report(progress, 0, n_nav, message)
    done = 0
    wave = max(1, threads)
    for i in range(0, len(blocks), wave):
        check(cancel)
        part = blocks[i:i + wave]
        tasks = [dask.delayed(_apply)(b, func, sig_shape) for b, _ in part]
        results = dask.compute(*tasks, scheduler=dask.threaded.get, num_workers=threads)
        for (_, where), res in zip(part, results):
            collector.add(res, where)
            done += math.prod(s.stop - s.start for s in where)
        report(progress, done, n_nav, message)


def _run_distributed(array, func, nav_shape, sig_shape, sig_bytes, budget, scheduler, collector, progress, cancel, message):
    import dask
    from distributed import as_completed

    from .cluster import get_client

    client = get_client(scheduler)
    n_threads = max(1, sum(client.nthreads().values()))
    blocks = _dask_blocks(array, nav_shape, sig_shape, sig_bytes, budget, 1)
    n_nav = math.prod(nav_shape)
    report(progress, 0, n_nav, message)
    done = 0
    wave = 2 * n_threads
    for i in range(0, len(blocks), wave):
        check(cancel)
        part = blocks[i:i + wave]
        tasks = [dask.delayed(_apply)(b, func, sig_shape) for b, _ in part]
        futures = client.compute(tasks)
        where_of = {f.key: w for f, (_, w) in zip(futures, part)}
        try:
            # the client's own loop: it need not be the default client (dask raises 'No clients found')
            for fut, res in as_completed(futures, loop=client.loop, with_results=True):
                where = where_of[fut.key]
                collector.add(res, where)
                done += math.prod(s.stop - s.start for s in where)
                report(progress, done, n_nav, message)
                if cancel is not None and cancel.cancelled:
                    client.cancel(futures)
                    check(cancel)
        finally:
            for f in futures:
                f.release()
