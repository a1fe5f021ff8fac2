"""Every numeric kernel accepts every dtype the readers produce.

Readers hand out big- and little-endian integers of 8, 16 and 32 bits (Merlin ``.mib`` is
big-endian, e.g. 12-bit counters stored as ``>u2``) and float32/float64. Each kernel is run
on the same values in every dtype and compared with a float64 little-endian reference
computed here with numpy (independent of the kernel's own code path).
"""

import numpy as np
import pytest

DTYPES = ["u1", "i1"] + [f"{order}{kind}{size}" for order in "<>" for kind in "uif" for size in (2, 4)
                         if kind + str(size) != "f2"] + ["<f8", ">f8"]


def _as(values, dtype):
    """``values`` (small non-negative integers, exact in every dtype) stored as ``dtype``."""
    out = np.asarray(values).astype(np.dtype(dtype))
    assert out.dtype == np.dtype(dtype)
    return out


@pytest.fixture(scope="module")
def scan():
    """A 4 x 5 scan of 24 x 20 patterns: a bright disk at a moving centre on a noisy floor."""
    rng = np.random.default_rng(0)
    yy, xx = np.indices((24, 20))
    out = rng.integers(0, 6, (4, 5, 24, 20))
    for a in range(4):
        for b in range(5):
            out[a, b] += 100 * (((yy - 11 - 0.5 * a) ** 2 + (xx - 9 - 0.4 * b) ** 2) < 16)
    return out


def test_matrix_covers_both_byte_orders():
    assert len(DTYPES) == 14 == len({np.dtype(d) for d in DTYPES})
    assert sum(not np.dtype(d).isnative for d in DTYPES) == 6


@pytest.mark.parametrize("dtype", DTYPES)
def test_virtual_images_and_com(scan, dtype):
    from stemlab.diffraction import Disk, mask, virtual_images

    det = Disk(11.5, 9.5, 5)
    res = virtual_images(_as(scan, dtype), {"BF": det})
    ref = (scan * mask(det, scan.shape[-2:])).sum((-2, -1))
    np.testing.assert_allclose(res["BF"], ref, rtol=1e-5)
    yy = np.indices(scan.shape[-2:])[0]
    np.testing.assert_allclose(res["com_y"], (scan * yy).sum((-2, -1)) / scan.sum((-2, -1)), rtol=1e-5)
    np.testing.assert_allclose(res["max_pattern"], scan.max((0, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_preview_virtual_image(scan, dtype):
    from stemlab.diffraction import Annulus, mask, preview_virtual_image

    det = Annulus(11.5, 9.5, 2, 6)
    img, stride = preview_virtual_image(_as(scan, dtype), det, budget_bytes=1e12)
    assert stride == 1
    np.testing.assert_allclose(img, (scan * mask(det, scan.shape[-2:])).sum((-2, -1)), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_find_direct_beam(scan, dtype):
    from stemlab.diffraction.centre import find_direct_beam

    ref = find_direct_beam(scan.astype(np.float64))
    res = find_direct_beam(_as(scan, dtype))
    np.testing.assert_allclose(res.centres, ref.centres, atol=1e-4)
    # and the centres are where the disks are (independent truth)
    np.testing.assert_allclose(res.centres[..., 0], 11 + 0.5 * np.arange(4)[:, None] + 0 * res.centres[..., 0],
                               atol=0.2)


@pytest.mark.parametrize("method", ["auto", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetry_descriptors(dtype, method):
    from stemlab.symmetry.descriptors import symmetry_descriptors
    from stemlab.symmetry.operations import make_operations

    yy, xx = np.indices((40, 44))
    image = np.rint(50 + 40 * np.cos(2 * np.pi * yy / 6) * np.cos(2 * np.pi * xx / 7)).astype(np.int64)
    ops = make_operations(8, n_translations=12, rotation_orders=(2, 4), n_mirrors=4)
    ref = symmetry_descriptors(image.astype(np.float64), ops, 2.0, stride=2, device="cpu", method=method)
    res = symmetry_descriptors(_as(image, dtype), ops, 2.0, stride=2, device="cpu", method=method)
    np.testing.assert_allclose(res, ref, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_device_and_polar_transform(scan, dtype):
    import torch

    from stemlab.backend import to_device
    from stemlab.orientation.polar import PolarGrid, polar_coordinates, polar_sample

    patterns = scan.reshape(-1, 24, 20)
    x = to_device(_as(patterns, dtype), "cpu", torch.float32)
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), patterns.astype(np.float32))
    kept = to_device(_as(patterns, dtype), "cpu")  # dtype kept where torch has one
    np.testing.assert_array_equal(kept.numpy().astype(np.float64), patterns)
    grid = PolarGrid(r_min=0.0, r_max=8.0, n_theta=36, n_harmonics=8)
    centres = torch.tensor([[11.0, 9.0]]).expand(len(x), 2)
    polar = polar_sample(x, polar_coordinates(centres, grid, (24, 20)))
    ref = polar_sample(torch.from_numpy(patterns.astype(np.float32)), polar_coordinates(centres, grid, (24, 20)))
    torch.testing.assert_close(polar, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_classification_descriptors(dtype):
    from stemlab.classifier.descriptor import descriptors, descriptors_torch

    rng = np.random.default_rng(3)
    windows = rng.integers(0, 100, (3, 24, 24))
    ref = descriptors(windows.astype(np.float64))
    np.testing.assert_allclose(descriptors(_as(windows, dtype)), ref, atol=1e-5)
    from stemlab.backend import to_device

    np.testing.assert_allclose(descriptors_torch(to_device(_as(windows, dtype), "cpu")).numpy(), ref, atol=1e-4)


def test_virtual_cli_on_a_real_big_endian_merlin_file(shared_data, tmp_path):
    """12-bit Merlin counters are stored as ``>u2``; `stemlab virtual` used to die in numba."""
    import subprocess
    import sys

    from stemlab.diffraction import Disk, mask
    from stemlab.io import load

    path = shared_data / "4dstem" / "merlin" / "Single_9_Frame_CounterDepth_12_Rows_256.mib"
    if not path.exists():
        pytest.skip(f"{path} not found")
    data = np.asarray(load(path)[0].data)
    assert data.dtype == np.dtype(">u2")
    out = tmp_path / "virtual.npz"
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", "virtual", str(path), "--detector",
                             "BF=disk:128,128,40", "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    expected = (data.astype(np.float64) * mask(Disk(128, 128, 40), data.shape[-2:])).sum((-2, -1))
    assert expected.max() > 0
    np.testing.assert_allclose(saved["BF"], expected, rtol=1e-5)
    np.testing.assert_array_equal(saved["max pattern"], data.max(0))
    folder = tmp_path / "tifs"  # a line scan (1D images) written as TIFFs too
    result = subprocess.run([sys.executable, "-m", "stemlab.cli", "virtual", str(path), "-o", str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert load(folder / "BF.tif")[0].shape == (9,)
