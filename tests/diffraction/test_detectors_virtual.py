import dask.array as da
import numpy as np
import pytest

from stemlab import Axis, Dataset
from stemlab.backend import CancelToken
from stemlab.diffraction import (Annulus, Disk, Rectangle, detector_from_dict, mask, preview_plan,
                                 preview_virtual_image, to_dict, virtual_images, virtual_images_dataset)
from stemlab.errors import Cancelled, ParameterError


def test_mask_area_and_smoothness():
    m = mask(Disk(31.5, 31.5, 10), (64, 64))
    assert m.dtype == np.float32 and abs(m.sum() - np.pi * 100) / (np.pi * 100) < 0.01
    ann = mask(Annulus(32, 32, 5, 10), (64, 64))
    assert abs(ann.sum() - np.pi * 75) / (np.pi * 75) < 0.02
    assert mask(Rectangle(1, 2, 4, 7), (10, 10)).sum() == pytest.approx(15)
    # sub-pixel drags change the integral smoothly (no jumps of whole pixels)
    totals = [mask(Disk(30 + 0.05 * i, 30, 7.3), (64, 64))[:, :30].sum() for i in range(21)]
    assert np.max(np.abs(np.diff(totals))) < 1.0


def test_detector_dict_roundtrip():
    for det in (Disk(1, 2, 3), Annulus(1, 2, 3, 4), Rectangle(0, 0, 2, 3)):
        assert detector_from_dict(to_dict(det)) == det
    with pytest.raises(ParameterError):
        detector_from_dict({"type": "hexagon"})
    with pytest.raises(ParameterError):
        Annulus(0, 0, 5, 4)


def _reference(x, dets):
    flat = x.reshape(-1, x.shape[-2], x.shape[-1]).astype(np.float64)
    out = {}
    for name, d in dets.items():
        out[name] = (flat * mask(d, x.shape[-2:])).sum((1, 2)).reshape(x.shape[:-2])
    tot = flat.sum((1, 2))
    yy, xx = np.indices(x.shape[-2:])
    out["com_y"] = ((flat * yy).sum((1, 2)) / tot).reshape(x.shape[:-2])
    out["com_x"] = ((flat * xx).sum((1, 2)) / tot).reshape(x.shape[:-2])
    out["total"] = tot.reshape(x.shape[:-2])
    out["mean_pattern"] = flat.mean(0)
    out["max_pattern"] = flat.max(0)
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("lazy", [False, True])
def test_virtual_images_match_reference(dtype, lazy):
    x = (np.random.default_rng(0).random((7, 9, 24, 20)) * 200).astype(dtype)
    dets = {"VBF": Disk(12, 10, 4.2), "ADF": Annulus(12, 10, 5, 9), "R": Rectangle(0, 0, 5.5, 8)}
    arr = da.from_array(x, chunks=(3, 4, 24, 20)) if lazy else x
    res = virtual_images(arr, dets, memory_budget=20 * 24 * 20 * 4 * 3)
    ref = _reference(x, dets)
    for k, v in ref.items():
        np.testing.assert_allclose(res[k], v, rtol=2e-5, atol=1e-3, err_msg=k)
    assert res["VBF"].dtype == np.float32 and res["max_pattern"].dtype == dtype


def test_virtual_images_only_detector_rows_and_any_nav():
    x = np.random.default_rng(0).random((5, 3, 4, 16, 16)).astype(np.float32)
    res = virtual_images(x, [Disk(4, 8, 2), Disk(8, 8, 3)], nav_ndim=3, com=False, patterns=False)
    assert set(res) == {"VBF", "VBF_2"} and res["VBF"].shape == (5, 3, 4)
    ref = _reference(x, {"a": Disk(4, 8, 2)})["a"]
    np.testing.assert_allclose(res["VBF"], ref, rtol=1e-5)
    with pytest.raises(ParameterError):
        virtual_images(x, Disk(1, 1, 1), nav_ndim=2)


def test_virtual_images_cancel():
    tok = CancelToken()
    tok.cancel()
    with pytest.raises(Cancelled):
        virtual_images(np.zeros((4, 4, 8, 8), np.uint8), Disk(4, 4, 2), cancel=tok)


def test_virtual_images_dataset_keeps_axes():
    x = np.random.default_rng(0).integers(0, 50, (6, 5, 16, 16)).astype(np.uint16)
    axes = (Axis("scan_y", 6, 0.5, 1.0, "nm", True), Axis("scan_x", 5, 0.5, 0, "nm", True),
            Axis("ky", 16, 0.01, -0.08, "1/angstrom"), Axis("kx", 16, 0.01, -0.08, "1/angstrom"))
    ds = Dataset(da.from_array(x), axes, kind="4dstem", name="s")
    out = virtual_images_dataset(ds, [Disk(8, 8, 3), Annulus(8, 8, 4, 7)])
    assert out["VBF"].axis_labels == ("scan_y", "scan_x") and out["VBF"].scale == (0.5, 0.5)
    assert out["ADF"].units == ("nm", "nm") and out["VBF"].translate == (1.0, 0)
    assert out["mean_pattern"].axis_labels == ("ky", "kx") and out["mean_pattern"].kind == "diffraction"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_preview_is_exact_on_strided_positions(dtype):
    x = np.random.default_rng(2).integers(0, 200, (40, 30, 32, 32)).astype(dtype)
    det = Annulus(15.3, 16.2, 4, 9.5)
    full = virtual_images(x, det, com=False, patterns=False)["ADF"]
    budget = 40 * 30 * 20 * 20 * x.itemsize / 10
    plan = preview_plan(x.shape, x.itemsize, det, budget)
    img, s = preview_virtual_image(x, det, budget_bytes=budget)
    y0, x0, y1, x1 = plan["bbox"]
    assert s == plan["stride"] > 1
    assert plan["touched_bytes"] == img.size * (y1 - y0) * (x1 - x0) * x.itemsize <= budget
    assert img.shape == (-(-40 // s), -(-30 // s))
    np.testing.assert_allclose(img, full[::s, ::s], rtol=1e-5)
    img1, s1 = preview_virtual_image(x, det, budget_bytes=1e12)
    assert s1 == 1
    np.testing.assert_allclose(img1, full, rtol=1e-5)
