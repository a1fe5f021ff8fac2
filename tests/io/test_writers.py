"""Writers round-trip data and calibration through load(); a failed write leaves nothing behind."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import stemlab.io as sio
from stemlab import Axis, Dataset
from stemlab.io.chunks import nav_chunks, rechunk_whole_frames


def _scan():
    data = np.arange(3 * 4 * 6 * 6, dtype=np.uint16).reshape(3, 4, 6, 6)
    axes = (Axis("scan_y", 3, 2.0, 0, "nm", True), Axis("scan_x", 4, 2.0, 0, "nm", True),
            Axis("ky", 6, 0.05, -0.15, "1/angstrom"), Axis("kx", 6, 0.05, -0.15, "1/angstrom"))
    return Dataset(data, axes, kind="4dstem", name="scan", metadata={"voltage_kv": 200.0}, scan_rotation_deg=-12.5,
                   scan_flip=True)


def _image():
    return Dataset(np.random.default_rng(1).random((8, 10), dtype=np.float32),
                   (Axis("y", 8, 0.02, 0, "nm"), Axis("x", 10, 0.02, 0, "nm")), kind="image", name="img")


@pytest.mark.parametrize("suffix", [".npz", ".zarr", ".tif", ".hspy"])
@pytest.mark.parametrize("make", [_scan, _image])
def test_round_trip_with_calibration(tmp_path, suffix, make):
    ds = make()
    path = sio.save_dataset(ds, tmp_path / f"out{suffix}")
    assert sio.can_read(path)
    back = sio.load_one(path)
    np.testing.assert_array_equal(np.asarray(back.data), ds.data)
    assert back.axis_labels == ds.axis_labels and back.kind == ds.kind
    assert back.units == ds.units
    assert back.scale == pytest.approx(ds.scale)
    assert [a.navigate for a in back.axes] == [a.navigate for a in ds.axes]
    if ds.kind == "4dstem" and suffix != ".tif":  # ImageJ TIFFs hold images and videos only
        assert back.scan_geometry == {"scan_rotation_deg": -12.5, "scan_flip": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_npy_round_trip_streams_dask(tmp_path):
    ds = _scan()
    lazy = Dataset(da.from_array(ds.data, chunks=(1, 4, 6, 6)), ds.axes, kind="4dstem")
    path = sio.save_dataset(lazy, tmp_path / "out.npy")
    back = sio.load(path)[0]
    np.testing.assert_array_equal(back.data.compute(), ds.data)
    assert back.axis_labels == ("scan_y", "scan_x", "ky", "kx") and back.units == ("",) * 4  # npy: no calibration


def test_tiff_video_keeps_frame_interval(tmp_path):
    axes = (Axis("t", 2, 0.5, 0, "s", True), Axis("y", 4, 0.1, 0, "nm"), Axis("x", 5, 0.1, 0, "nm"))
    ds = Dataset(np.zeros((2, 4, 5), np.float32), axes, kind="video")
    back = sio.load_one(sio.save_dataset(ds, tmp_path / "v.tif"))
    assert back.kind == "video" and back.axes[0].scale == 0.5 and back.axes[0].units == "s"


def test_overwrite_zarr_folder(tmp_path):
    path = tmp_path / "a.zarr"
    sio.save_dataset(_image(), path)
    sio.save_dataset(_scan(), path)
    assert sio.load_one(path).kind == "4dstem"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr"]


def test_failed_write_leaves_neither_target_nor_temp(tmp_path):
    target = tmp_path / "result.npy"
    with pytest.raises(RuntimeError):
        with sio.atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []

    class Broken:  # an array whose data cannot be computed
        ndim, shape, dtype, size = 2, (2, 2), np.dtype("f4"), 4

        def __array__(self, *a, **k):
            raise OSError("read error")

    bad = Dataset.__new__(Dataset)
    bad.data, bad.axes, bad.kind, bad.name, bad.metadata, bad.source = (
        Broken(), (Axis("y", 2), Axis("x", 2)), "image", "bad", {}, None)
    for suffix in (".npy", ".npz", ".tif", ".zarr"):
        with pytest.raises(Exception):
            sio.save_dataset(bad, tmp_path / f"bad{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_existing_target_survives_failed_write(tmp_path):
    target = tmp_path / "keep.npz"
    sio.save_dataset(_image(), target)
    before = target.read_bytes()
    with pytest.raises(ValueError):
        with sio.atomic_write(target) as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError("cancelled")
    assert target.read_bytes() == before


def test_unsupported_extension(tmp_path):
    with pytest.raises(Exception, match="choose one of"):
        sio.save_dataset(_image(), tmp_path / "x.png")


def test_chunks_hold_whole_frames_and_about_64_mb():
    assert nav_chunks((256, 256, 256, 256), 2, 2) == (2, 256, 256, 256)  # 2 rows x 256 x 128 kB = 64 MB
    assert nav_chunks((10, 10, 2048, 2048), 2, 4) == (1, 4, 2048, 2048)
    assert nav_chunks((5, 64, 64), 1, 1) == (5, 64, 64)
    arr = da.zeros((64, 64, 128, 128), dtype="u2", chunks=(64, 64, 32, 32))
    out = rechunk_whole_frames(arr, 2)
    assert out.chunksize[2:] == (128, 128) and out.chunksize == (64, 64, 128, 128)[:0] + out.chunksize
    assert np.prod(out.chunksize) * 2 <= 64 * 2**20


def test_save_results_npz_and_folder(tmp_path):
    results = {"BF": _image(), "raw": np.ones((3, 4), np.float32)}
    out = sio.save_results(results, tmp_path / "v.npz")
    with np.load(out) as f:
        assert f["BF"].shape == (8, 10) and f["raw"].shape == (3, 4) and "calibration" in f.files
    folder = sio.save_results(results, tmp_path / "tifs")
    assert sio.load_one(folder / "BF.tif").units == ("nm", "nm")
    assert (folder / "raw.tif").exists()


def test_describe_with_calibration_options(tmp_path):
    path = sio.save_dataset(_scan(), tmp_path / "s.npy")
    text = sio.describe(path, scan_step="2nm", calibration="0.0127/angstrom")
    assert "2 nm" in text and "0.0127 1/angstrom" in text and "4dstem" in text
