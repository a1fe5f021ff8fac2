"""Opening a big 4D file reads no data: RSS grows < 100 MB for ~1 GB files (memory, not time, asserted).

Files are sparse (only headers written), so they cost almost no disk or time to make.
"""

from __future__ import annotations

import gc

import psutil
import pytest

import stemlab.io as sio
from io_fakes import write_sparse_mib, write_sparse_npy

LIMIT = 100 * 2**20


def _rss_growth(path):
    """RSS growth (bytes) while loading ``path``, after a warm-up load of the same format."""
    proc = psutil.Process()
    gc.collect()
    before = proc.memory_info().rss
    datasets = sio.load(path)
    after = proc.memory_info().rss
    return after - before, datasets


def test_big_npy_opens_without_reading(tmp_path):
    warm = write_sparse_npy(tmp_path / "warm.npy", (2, 2, 8, 8))
    sio.load(warm)  # imports dask etc. outside the measurement
    path = write_sparse_npy(tmp_path / "big.npy", (96, 96, 256, 256), "uint16")  # 1.2 GB
    growth, datasets = _rss_growth(path)
    ds = datasets[0]
    assert ds.nbytes > 1.1e9 and ds.is_lazy and ds.kind == "4dstem"
    assert growth < LIMIT, f"RSS grew {growth / 2**20:.0f} MB"
    chunk = ds.data.chunksize
    assert chunk[2:] == (256, 256)  # whole patterns per chunk
    assert 16 * 2**20 <= chunk[0] * chunk[1] * 256 * 256 * 2 <= 128 * 2**20


def test_big_mib_opens_without_reading(tmp_path):
    warm = write_sparse_mib(tmp_path / "warm.mib", (2, 2), detector=32)
    sio.load(warm)
    path = write_sparse_mib(tmp_path / "big.mib", (128, 128))  # 16384 frames, 1.08 GB
    growth, datasets = _rss_growth(path)
    ds = datasets[0]
    assert ds.shape == (128, 128, 256, 256) and ds.is_lazy
    assert growth < LIMIT, f"RSS grew {growth / 2**20:.0f} MB"
    chunk = ds.data.chunksize
    assert chunk[2:] == (256, 256) and 16 * 2**20 <= chunk[0] * chunk[1] * 65536 <= 128 * 2**20


@pytest.mark.parametrize("suffix", [".zarr", ".hspy"])
def test_written_big_files_open_lazily(tmp_path, suffix):
    """Our own writers' outputs reopen lazily too (small here; the layout is what matters)."""
    import dask.array as da

    from stemlab import Axis, Dataset

    data = da.zeros((16, 16, 64, 64), dtype="uint16", chunks=(4, 16, 64, 64))
    axes = (Axis("scan_y", 16, navigate=True), Axis("scan_x", 16, navigate=True), Axis("ky", 64), Axis("kx", 64))
    path = sio.save_dataset(Dataset(data, axes, kind="4dstem"), tmp_path / f"w{suffix}")
    ds = sio.load_one(path)
    assert ds.is_lazy and ds.data.chunksize[2:] == (64, 64)
