"""Bad files raise FileFormatError naming the file, the problem and a fix; can_read says False."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import stemlab.io as sio
from stemlab.errors import FileFormatError
from io_fakes import mib_header

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def _fails(path, *words):
    with pytest.raises(FileFormatError) as info:
        sio.load(path)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message.lower()
    return message


def test_missing_file(tmp_path):
    _fails(tmp_path / "nothing.mib", "not found")


@pytest.mark.parametrize("suffix", [".mib", ".blo", ".emd", ".npy", ".dm4", ".tif"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    _fails(path, "empty", "again")


@pytest.mark.parametrize("suffix", [".mib", ".blo", ".emd", ".h5", ".hspy", ".dm3", ".npy", ".mrc", ".tif", ".ser"])
def test_garbage_with_known_extension(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert not sio.can_read(path)
    _fails(path, "again")


def test_png_renamed_mib(tmp_path):
    path = tmp_path / "scan.mib"
    path.write_bytes(PNG)
    assert not sio.can_read(path)
    assert "png" in _fails(path, "rename").lower()


def test_unknown_extension_and_plain_folder(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert not sio.can_read(path)
    _fails(path, "supported")
    folder = tmp_path / "folder"
    folder.mkdir()
    assert not sio.can_read(folder)
    _fails(folder, "folder")


def test_truncated_npy(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.zeros((64, 64), np.uint16))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    assert sio.can_read(path)  # the sniff is cheap: header only
    _fails(path, "truncated")


def test_truncated_hdf5(tmp_path, shared_data):
    raw = (shared_data / "4dstem/py4dstem_2x3x4x5.h5").read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(raw[: len(raw) * 3 // 4])
    _fails(path, "truncated")


def test_truncated_blockfile(tmp_path, shared_data):
    raw = (shared_data / "4dstem/astar_sped_3x2.blo").read_bytes()
    path = tmp_path / "cut.blo"
    path.write_bytes(raw[: len(raw) - 1000])
    _fails(path, "truncated")


def test_truncated_mib_detected_from_header(tmp_path):
    frame = mib_header(1, 32, 32, 8) + bytes(32 * 32)
    path = tmp_path / "cut.mib"
    path.write_bytes(frame * 3)
    path.with_suffix(".hdr").write_bytes(b"HDR,\t\nFrames in Acquisition (Number):\t4\nFrames per Trigger (Number):\t2\nEnd\t")
    _fails(path, "truncated", "4 frames")


def test_hdr_without_mib(tmp_path):
    path = tmp_path / "lonely.hdr"
    path.write_bytes(b"HDR,\t\nFrames in Acquisition (Number):\t4\n")
    assert not sio.can_read(path)
    _fails(path, "lonely.mib")


def test_third_party_errors_are_wrapped(tmp_path):
    path = tmp_path / "fake.dm3"
    path.write_bytes((3).to_bytes(4, "big") + os.urandom(300))  # right magic, nonsense after
    assert sio.can_read(path)  # the magic bytes are right; the reader finds the damage
    message = _fails(path, "digitalmicrograph")
    assert "again" in message


def test_optional_package_missing_skips_with_warning(monkeypatch, shared_data):
    """Velox files whose EDS part needs `sparse`: keep the images, warn about the rest."""
    import rsciio.emd

    real = rsciio.emd.file_reader

    def fake_reader(filename, lazy=False, select_type=None, **kw):
        if select_type is None:
            raise ImportError("No module named 'sparse'")
        if select_type == "images":
            return real(filename, lazy=lazy, select_type="images", **kw)
        raise ImportError("No module named 'sparse'")

    monkeypatch.setattr(rsciio.emd, "file_reader", fake_reader)
    with pytest.warns(UserWarning, match="sparse"):
        datasets = sio.load(shared_data / "images/velox_si_reduced.emd")
    assert datasets and all(ds.kind == "image" for ds in datasets)


def test_can_read_never_raises(tmp_path):
    for name in ("a.mib", "b.zarr", "c", "d.npy"):
        assert sio.can_read(tmp_path / name) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sio.can_read(tmp_path) is False
