"""Chunked reads of raw files (``stemlab.io.plain.MemmapArray``): read() of contiguous byte runs, the
mapping otherwise; both must give numpy's own indexing of the file."""

from __future__ import annotations

import numpy as np
import pytest

from stemlab.io.plain import MemmapArray


@pytest.mark.parametrize("index", [np.s_[:], np.s_[1:2], np.s_[0:2, 1:3], np.s_[:, 1:3, 2:4], np.s_[1, 2],
                                   np.s_[::2], np.s_[1:1], np.s_[:, :, :, 2:4, 1:5], np.s_[-1:]])
def test_reads_equal_numpy_indexing(tmp_path, index):
    data = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.uint16).reshape(2, 3, 4, 5, 6)
    np.save(tmp_path / "d.npy", data)
    arr = MemmapArray.from_memmap(tmp_path / "d.npy", np.load(tmp_path / "d.npy", mmap_mode="r"))
    np.testing.assert_array_equal(arr[index], data[index])


def test_contiguous_chunks_are_read_not_mapped(tmp_path):
    data = np.arange(64 * 64 * 64, dtype=np.float32).reshape(8, 8, 64, 64)
    np.save(tmp_path / "d.npy", data)
    arr = MemmapArray.from_memmap(tmp_path / "d.npy", np.load(tmp_path / "d.npy", mmap_mode="r"))
    np.testing.assert_array_equal(arr[2:4, 0:8], data[2:4, 0:8])
    np.testing.assert_array_equal(arr[2:4, 2:6], data[2:4, 2:6])  # two runs of 4 patterns (64 kB)
    assert arr._map is None  # the mapping was never opened
