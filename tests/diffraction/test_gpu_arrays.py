"""Generic array code on GPU (cupy) blocks: virtual detectors, centre of mass, the matcher's polar
transform. The device path's arithmetic is checked on the CPU against the host kernel (numpy as
the namespace); the cupy runs skip cleanly where cupy or a CUDA device is absent."""

import numpy as np
import pytest

from stemlab.diffraction.detectors import Annulus, Disk, Rectangle
from stemlab.diffraction.virtual import VirtualKernel, _mask_of, virtual_images

SHAPE = (32, 40)
DETECTORS = [Disk(15.5, 20.0, 5.0), Annulus(16.0, 19.0, 8.0, 14.0), Rectangle(2, 3, 9, 30)]


def _block(n=70, seed=0):
    return np.random.default_rng(seed).integers(0, 4000, size=(n,) + SHAPE).astype(np.uint16)


def _kernel(com=True, patterns=True):
    return VirtualKernel([_mask_of(d, SHAPE, 4) for d in DETECTORS], SHAPE, com, patterns)


@pytest.mark.parametrize("com, patterns", [(True, True), (False, False)])
def test_device_path_equals_host_path(com, patterns):
    """The stacked-product path GPU blocks take, run with numpy, against the host kernel and a direct sum."""
    block = _block()
    kernel = _kernel(com, patterns)
    host, device = kernel(block), kernel._on_device(block, np)
    masks = [_mask_of(d, SHAPE, 4) for d in DETECTORS]
    weights = np.array(masks + (list(kernel.moments.reshape(3, *SHAPE)) if com else []), np.float64)
    # float32 sums in another order: equal to 1e-6 of the sum of the terms' magnitudes (the CoM moments cancel)
    scale = np.einsum("nhw,khw->nk", block.astype(np.float64), np.abs(weights))
    assert np.all(np.abs(device["proj"] - host["proj"]) <= 1e-6 * scale)
    direct = np.einsum("nhw,khw->nk", block.astype(np.float64), np.array(masks, np.float64))
    np.testing.assert_allclose(device["proj"][:, :3], direct, rtol=2e-6)
    if patterns:
        np.testing.assert_allclose(device["sum_pattern"], block.sum(0))
        np.testing.assert_array_equal(device["max_pattern"], block.max(0))


def _cupy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    return cupy


def test_cupy_block_and_cupy_backed_dask():
    cupy = _cupy()
    import dask.array as da

    block = _block()
    kernel = _kernel()
    host, gpu = kernel(block), kernel(cupy.asarray(block))
    np.testing.assert_allclose(gpu["proj"], host["proj"], rtol=1e-5)
    np.testing.assert_allclose(gpu["sum_pattern"], host["sum_pattern"], rtol=1e-6)
    scan = block.reshape(7, 10, *SHAPE)
    lazy = da.from_array(cupy.asarray(scan), chunks=(2, 10, -1, -1), asarray=False)
    ref, res = virtual_images(scan, DETECTORS), virtual_images(lazy, DETECTORS)
    for key in ("VBF", "ADF", "com_y", "com_x", "mean_pattern"):
        np.testing.assert_allclose(np.asarray(res[key]), ref[key], rtol=1e-5)


def test_matcher_takes_cupy_patterns_without_host_copy():
    cupy = _cupy()
    import torch

    from stemlab.backend.device import to_device
    from stemlab.orientation import Matcher, MatchSettings, build_library
    from stemlab.simulate.fourd import two_phase_scan

    x = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    t = to_device(x, "cuda", torch.float32)
    assert t.data_ptr() == x.data.ptr  # shared, not copied
    ds = two_phase_scan(scan_shape=(4, 4), n_grains=3, seed=1)
    patterns = np.asarray(ds.data, np.float32).reshape(-1, *ds.data.shape[-2:])
    lib = build_library(["Al", "alpha-Fe"], resolution_deg=3.0, cache=False)
    m = Matcher(lib, MatchSettings(calibration=ds.axes[-1].scale), patterns.shape[-2:], "cuda")
    ref, res = m.match(patterns), m.match(cupy.asarray(patterns))
    np.testing.assert_array_equal(res["template"], ref["template"])
    np.testing.assert_allclose(res["score"], ref["score"], atol=1e-5)
