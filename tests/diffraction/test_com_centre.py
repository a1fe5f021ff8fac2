import dask.array as da
import numpy as np

from stemlab import Axis, Dataset
from stemlab.diffraction import Disk, com_dataset, dpc, find_direct_beam, integrate_phase, mask, virtual_images


def _disk_patterns(centres, shape=(48, 48), r=6.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    nav = centres.shape[:-1]
    out = np.empty(nav + shape, np.float32)
    for idx in np.ndindex(*nav):
        cy, cx = centres[idx]
        out[idx] = 1000 * mask(Disk(cy, cx, r), shape, supersample=8) + 20
    if noise:
        out = rng.poisson(out).astype(np.float32)
    return out


def test_com_of_shifted_disk_gives_shift():
    centres = np.array([[[20.0, 24.0], [23.3, 21.7]]])
    x = _disk_patterns(centres)
    x -= 20
    res = virtual_images(x, (), patterns=False)
    np.testing.assert_allclose(res["com_y"], centres[..., 0], atol=0.02)
    np.testing.assert_allclose(res["com_x"], centres[..., 1], atol=0.02)
    d = dpc(res["com_y"], res["com_x"], reference=(20.0, 24.0))
    np.testing.assert_allclose(d["shift_y"][0, 1], 3.3, atol=0.02)
    np.testing.assert_allclose(d["magnitude"][0, 0], 0, atol=0.02)


def test_integrated_phase_recovers_phase_object():
    n, npx, dx = 32, 32, 0.5  # scan positions, probe window px, angstrom per px (scan step = dx)
    yy, xx = np.mgrid[0:n, 0:n]
    phi = 0.4 * np.exp(-((yy - 12) ** 2 + (xx - 18) ** 2) / 30) - 0.3 * np.exp(-((yy - 22) ** 2 + (xx - 9) ** 2) / 20)
    py, px = np.mgrid[0:npx, 0:npx] - npx // 2
    probe = np.exp(-(py ** 2 + px ** 2) / (2 * 2.0 ** 2))
    pad = np.pad(phi, npx // 2, mode="wrap")
    pats = np.empty((n, n, npx, npx), np.float32)
    for iy in range(n):
        for ix in range(n):
            window = pad[iy:iy + npx, ix:ix + npx]
            psi = probe * np.exp(1j * window)
            pats[iy, ix] = np.abs(np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(psi)))) ** 2
    dk = 1.0 / (npx * dx)  # 1/angstrom per detector px
    axes = (Axis("scan_y", n, dx, 0, "angstrom", True), Axis("scan_x", n, dx, 0, "angstrom", True),
            Axis("ky", npx, dk, -npx // 2 * dk, "1/angstrom"), Axis("kx", npx, dk, -npx // 2 * dk, "1/angstrom"))
    ds = Dataset(pats, axes, kind="4dstem")
    out = com_dataset(ds)
    assert out["shift_y"].metadata["units"] == "1/angstrom"
    phase = out["phase"].data
    corr = np.corrcoef(phase.ravel(), (phi - phi.mean()).ravel())[0, 1]
    assert corr > 0.95, corr
    # the direct function with explicit steps gives the same map
    direct = integrate_phase(out["shift_y"].data, out["shift_x"].data, dx, dx)
    np.testing.assert_allclose(direct, phase)


def test_find_direct_beam_with_descan():
    ny, nx = 12, 10
    iy, ix = np.mgrid[0:ny, 0:nx]
    cy = 22.3 + 0.15 * iy - 0.05 * ix
    cx = 25.1 + 0.03 * iy + 0.12 * ix
    centres = np.stack([cy, cx], -1)
    x = _disk_patterns(centres, shape=(48, 48), r=6, noise=True)
    x += 700 * mask(Disk(6, 8, 3), (48, 48))  # a Bragg disk above threshold, far from the beam
    res = find_direct_beam(da.from_array(x, chunks=(4, 10, 48, 48)))
    assert np.abs(res.centres - centres).max() < 0.1
    assert np.abs(res.fitted - centres).max() < 0.1
    np.testing.assert_allclose(res.origin, [22.3, 25.1], atol=0.05)
    np.testing.assert_allclose(res.gradient, [[0.15, -0.05], [0.03, 0.12]], atol=0.01)
    assert abs(res.radius - 6) < 1


def test_box_means_equal_torch_average_pooling():
    """The direct-beam finder's 5 x 5 means (two matrix products) are torch's avg_pool2d without padding."""
    import torch
    import torch.nn.functional as F

    from stemlab.diffraction.centre import _box_means

    x = torch.as_tensor(np.random.default_rng(2).random((3, 17, 23)), dtype=torch.float32)
    ours = _box_means(17, 2, x.dtype, x.device) @ x @ _box_means(23, 2, x.dtype, x.device).T
    pooled = F.avg_pool2d(x[:, None], 5, stride=1, padding=2, count_include_pad=False)[:, 0]
    assert torch.allclose(ours, pooled, atol=1e-6)
