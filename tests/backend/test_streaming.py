import threading
import time

import dask.array as da
import numpy as np
import psutil
import pytest

from stemlab.backend import CancelToken, get_client, stream_reduce
from stemlab.backend.streaming import nav_chunks
from stemlab.errors import Cancelled, StemlabError


def _func(block):
    flat = block.reshape(len(block), -1).astype(np.float64)
    return {"sum": flat.sum(1), "two": np.stack([flat.min(1), flat.max(1)], 1),
            "psum": flat.sum(0).reshape(block.shape[1:]), "pmax": flat.max(0).reshape(block.shape[1:])}


def _expected(x):
    f = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    return f.sum(-1), np.stack([f.min(-1), f.max(-1)], -1), f.sum((0, 1)).reshape(x.shape[2:]), \
        f.max((0, 1)).reshape(x.shape[2:])


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(1).integers(0, 1000, (9, 7, 6, 5)).astype(np.uint16)


@pytest.mark.parametrize("lazy", [False, True])
def test_stream_reduce_dict_and_reductions(data, lazy):
    arr = da.from_array(data, chunks=(2, 3, 3, 5)) if lazy else data
    calls = []
    res = stream_reduce(arr, _func, nav_ndim=2, memory_budget=6 * 5 * 2 * 3 * 4,
                        reduce={"psum": "sum", "pmax": "max"}, progress=lambda d, t, m: calls.append((d, t)))
    s, two, psum, pmax = _expected(data)
    assert np.allclose(res["sum"], s) and np.allclose(res["two"], two)
    assert np.allclose(res["psum"], psum) and np.allclose(res["pmax"], pmax)
    assert res["two"].shape == (9, 7, 2)
    assert calls[-1] == (63, 63) and len(calls) > 3


def test_stream_reduce_plain_array_noncontiguous_and_nav1(data):
    view = data[:, ::2]  # not reshapeable without copy
    res = stream_reduce(view, lambda b: b.reshape(len(b), -1).sum(1, dtype=np.int64), nav_ndim=2,
                        memory_budget=1000)
    assert np.array_equal(res, view.reshape(9, 4, -1).sum(-1))
    res1 = stream_reduce(data, lambda b: b.reshape(len(b), -1).sum(1), nav_ndim=1, dtype=np.float32)
    assert res1.dtype == np.float32 and res1.shape == (9,)


def test_memmap(tmp_path, data):
    path = tmp_path / "x.raw"
    data.tofile(path)
    mm = np.memmap(path, dtype=data.dtype, mode="r", shape=data.shape)
    res = stream_reduce(mm, lambda b: b.reshape(len(b), -1).sum(1, dtype=np.int64), nav_ndim=2, memory_budget=500)
    assert np.array_equal(res, data.reshape(9, 7, -1).sum(-1))


def test_nav_chunks():
    assert nav_chunks((4, 10), 25) == ((2, 2), (10,))
    assert nav_chunks((4, 10), 3) == ((1,) * 4, (3, 3, 3, 1))


@pytest.mark.parametrize("lazy", [False, True])
def test_cancel_stops(data, lazy):
    tok = CancelToken()
    seen = []

    def func(block):
        seen.append(len(block))
        if len(seen) == 2:
            tok.cancel()
        return block.reshape(len(block), -1).sum(1)

    arr = da.from_array(data) if lazy else data
    with pytest.raises(Cancelled):
        stream_reduce(arr, func, nav_ndim=2, memory_budget=60 * 3 * 2, cancel=tok, threads=1)
    assert len(seen) < 5


def test_unreachable_scheduler():
    t0 = time.perf_counter()
    with pytest.raises(StemlabError, match="tcp://127.0.0.1:9"):
        get_client("tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow
def test_distributed_matches_local(data):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for arr in (data, da.from_array(data, chunks=(3, 7, 6, 5))):
            kw = dict(nav_ndim=2, memory_budget=6 * 5 * 2 * 3 * 7, reduce={"psum": "sum", "pmax": "max"})
            local = stream_reduce(arr, _func, **kw)
            remote = stream_reduce(arr, _func, scheduler=client, **kw)
            for k in local:
                assert np.array_equal(local[k], remote[k]), k
        remote2 = stream_reduce(data, _func, scheduler=cluster.scheduler_address, nav_ndim=2,
                                reduce={"psum": "sum", "pmax": "max"})
        assert np.array_equal(remote2["sum"], local["sum"])


def test_bounded_memory_on_large_lazy_array():
    """~1.5 GB lazy float32 array, 256 MB budget: peak RSS growth must stay < 400 MB."""
    def fill(block, block_info=None):
        loc = block_info[None]["array-location"]
        return np.full(block.shape, loc[0][0] * 1000 + loc[1][0], np.float32)

    shape = (96, 64, 128, 128)  # 96*64*64 KiB = 384 Mi elements... = 1.5 GiB
    arr = da.map_blocks(fill, da.empty(shape, chunks=(8, 64, 128, 128), dtype=np.float32), dtype=np.float32)
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        res = stream_reduce(arr, lambda b: b.reshape(len(b), -1)[:, :1].copy(), nav_ndim=2,
                            memory_budget=256 * 2**20)
    finally:
        stop.set()
        th.join()
    assert res.shape == (96, 64, 1)
    assert res[17, 5, 0] == 16 * 1000 + 0
    assert (peak[0] - base) < 400 * 2**20, f"RSS grew {(peak[0] - base) / 2**20:.0f} MiB"
