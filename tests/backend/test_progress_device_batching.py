"""Progress, cancellation, device choice and out-of-memory batching."""

import numpy as np
import pytest
import torch

from stemlab.backend import CancelToken, batch_size, resolve_device, run_batched, scaled, steps, to_device
from stemlab.errors import Cancelled, DeviceError, StemlabError


def test_cancel_token():
    tok = CancelToken()
    tok.check()
    tok.cancel()
    assert tok.cancelled
    with pytest.raises(Cancelled):
        tok.check()


def test_scaled_and_steps():
    calls = []
    cb = lambda d, t, m: calls.append((d, t, m))  # noqa: E731
    scaled(cb, 30, 100, 100)(5, 10, "x")
    assert calls[-1] == (65, 100, "x")
    sub = steps(cb, {"read": 1, "fit": 3})
    sub["fit"](10, 10, "")
    assert calls[-1][:2] == (1000, 1000) and calls[-1][2].startswith("fit")
    assert scaled(None, 0, 1, 1) is None


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="device='cpu'"):
            resolve_device("cuda")


def test_to_device():
    a = np.arange(6, dtype=np.uint16).reshape(2, 3)
    t = to_device(a, "cpu", "float32")
    assert t.dtype == torch.float32 and t.shape == (2, 3) and float(t[1, 2]) == 5
    t8 = to_device(np.ones(3, np.uint8), "cpu")
    assert t8.dtype == torch.uint8


def test_batch_size():
    assert batch_size(100, 1000) == 10
    assert batch_size(1e9, 10) == 1
    assert batch_size(1, 1000, maximum=7) == 7


def test_run_batched_halves_on_oom():
    seen = []

    def func(start, stop, device):
        if stop - start > 4:
            raise torch.cuda.OutOfMemoryError("fake OOM")
        seen.append((start, stop))
        return np.arange(start, stop)

    progress = []
    res = run_batched(func, 10, 16, device="cpu", progress=lambda d, t, m: progress.append(d))
    assert np.array_equal(np.concatenate(res), np.arange(10))
    assert all(b - a <= 4 for a, b in seen)
    assert progress[-1] == 10


def test_run_batched_falls_back_to_cpu(monkeypatch):
    import stemlab.backend.batching as batching

    monkeypatch.setattr("stemlab.backend.device.resolve_device", lambda d="auto": torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    devices = []

    def func(start, stop, device):
        devices.append(device.type)
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("fake OOM")
        return stop - start

    with pytest.warns(RuntimeWarning, match="CPU"):
        res = batching.run_batched(func, 5, 4, device="cuda")
    assert sum(res) == 5 and devices[-1] == "cpu"


def test_run_batched_cpu_single_item_oom_is_stemlab_error():
    def func(start, stop, device):
        raise MemoryError("no")

    with pytest.raises(StemlabError, match="memory"):
        run_batched(func, 3, 2, device="cpu")


def test_run_batched_cancel():
    tok = CancelToken()

    def func(start, stop, device):
        tok.cancel()
        return 1

    with pytest.raises(Cancelled):
        run_batched(func, 10, 1, device="cpu", cancel=tok)
