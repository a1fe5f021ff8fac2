"""DPC rotation calibration: the curl-free rotation (and flip) of a CoM field is found, and iDPC
integrated with it recovers the phase object. Ground truth: an analytic phase object whose gradient
is put on a detector rotated by a known angle (and mirrored), and 4D patterns of it (thin phase object,
numpy FFT) recorded on a rotated detector."""

from __future__ import annotations

import numpy as np
import pytest

from stemlab import Axis, Dataset
from stemlab.diffraction import com_dataset, find_dpc_rotation, integrate_phase, rotate_shifts


def _slope(phase, phi):
    """Least-squares amplitude of ``phi`` in ``phase`` (zero-mean both): 1 when the phase is recovered."""
    p, t = phase - phase.mean(), phi - phi.mean()
    return float((p * t).sum() / (t * t).sum())


def _phase_object(n=48, seed=0):
    """Positive Gaussian 'atoms' of random height and width on a flat background, periodic."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    phi = np.zeros((n, n))
    for _ in range(9):
        cy, cx = rng.uniform(0, n, 2)
        dy = (yy - cy + n / 2) % n - n / 2
        dx = (xx - cx + n / 2) % n - n / 2
        phi += rng.uniform(0.2, 0.6) * np.exp(-(dy ** 2 + dx ** 2) / (2 * rng.uniform(1.5, 3.0) ** 2))
    return phi


def _gradient_field(phi, step):
    """Exact (spectral) gradient / (2 pi): the CoM shift of a thin phase object in the scan frame."""
    qy = np.fft.fftfreq(phi.shape[0], d=step)[:, None]
    qx = np.fft.fftfreq(phi.shape[1], d=step)[None, :]
    f = np.fft.fft2(phi)
    gy = np.real(np.fft.ifft2(2j * np.pi * qy * f)) / (2 * np.pi)
    gx = np.real(np.fft.ifft2(2j * np.pi * qx * f)) / (2 * np.pi)
    return gy, gx


def _to_detector(gy, gx, theta_deg, flip):
    """Scan-frame shifts as a detector rotated by theta (and mirrored) records them: the inverse of rotate_shifts."""
    dy, dx = rotate_shifts(gy, gx, -np.radians(theta_deg))
    return dy, (-dx if flip else dx)


@pytest.mark.parametrize("theta", [-150.0, -37.0, 0.0, 12.5, 75.0, 118.0])
@pytest.mark.parametrize("flip", [False, True])
def test_rotation_and_flip_recovered_from_the_curl(theta, flip):
    step = 0.4
    phi = _phase_object()
    gy, gx = _gradient_field(phi, step)
    dy, dx = _to_detector(gy, gx, theta, flip)
    rng = np.random.default_rng(1)
    noise = 0.05 * np.std(gy)
    dy, dx = dy + rng.normal(0, noise, dy.shape), dx + rng.normal(0, noise, dx.shape)
    found = find_dpc_rotation(dy, dx, step)
    error = (found["rotation_deg"] - theta + 180) % 360 - 180
    assert abs(error) < 1.0, found
    assert found["flip"] is flip
    assert found["curl_fraction"] < 0.05 < found["curl_fraction_other_flip"]
    ry, rx = rotate_shifts(dy, dx, np.radians(found["rotation_deg"]), found["flip"])
    phase = integrate_phase(ry, rx, step)
    assert np.corrcoef(phase.ravel(), phi.ravel())[0, 1] > 0.99
    assert _slope(phase, phi) == pytest.approx(1.0, abs=0.02)


def test_unrotated_field_integrated_as_if_aligned_loses_the_phase():
    """The check can fail: Fourier integration keeps only the curl-free part, cos(theta) of the phase."""
    phi = _phase_object(seed=2)
    dy, dx = _to_detector(*_gradient_field(phi, 1.0), 70.0, False)
    assert _slope(integrate_phase(dy, dx, 1.0), phi) == pytest.approx(np.cos(np.radians(70.0)), abs=0.01)


def _patterns_on_rotated_detector(phi, theta_deg, flip, npx=24):
    """4D-STEM of a thin phase object: |FFT(probe exp(i phi))|^2 per probe position, detector rotated/mirrored."""
    from scipy.ndimage import rotate

    n = phi.shape[0]
    py, px = np.mgrid[0:npx, 0:npx] - npx // 2
    probe = np.exp(-(py ** 2 + px ** 2) / (2 * 2.0 ** 2))
    pad = np.pad(phi, npx // 2, mode="wrap")
    pats = np.empty((n, n, npx, npx), np.float32)
    for iy in range(n):
        for ix in range(n):
            psi = probe * np.exp(1j * pad[iy:iy + npx, ix:ix + npx])
            pat = np.abs(np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(psi)))) ** 2
            # detector frame = R(-theta) of the scan frame; ndimage.rotate turns (row, col) images
            # counter-clockwise on screen (y down) for a positive angle, i.e. by -angle in (x, y)
            pat = rotate(pat, theta_deg, reshape=False, order=1, mode="constant")
            pats[iy, ix] = pat[:, ::-1] if flip else pat
    return pats


@pytest.mark.parametrize("theta, flip", [(28.0, False), (-63.0, True)])
def test_idpc_of_patterns_on_a_rotated_detector(theta, flip):
    n, npx, dx = 32, 24, 0.5
    phi = _phase_object(n, seed=4)
    pats = _patterns_on_rotated_detector(phi, theta, flip, npx)
    dk = 1.0 / (npx * dx)
    axes = (Axis("scan_y", n, dx, 0, "angstrom", True), Axis("scan_x", n, dx, 0, "angstrom", True),
            Axis("ky", npx, dk, -npx // 2 * dk, "1/angstrom"), Axis("kx", npx, dk, -npx // 2 * dk, "1/angstrom"))
    ds = Dataset(pats, axes, kind="4dstem", name="rotated")
    auto = com_dataset(ds, rotation="auto")
    meta = auto["phase"].metadata
    assert abs((meta["dpc_rotation_deg"] - theta + 180) % 360 - 180) < 1.0, meta["dpc_rotation_deg"]
    assert meta["dpc_flip"] is flip
    assert np.corrcoef(auto["phase"].data.ravel(), phi.ravel())[0, 1] > 0.95
    # the same rotation as calibration on the Dataset gives the same phase without searching
    calibrated = com_dataset(Dataset(pats, axes, kind="4dstem", scan_rotation_deg=theta, scan_flip=flip))
    assert calibrated["phase"].metadata["dpc_rotation_deg"] == pytest.approx(theta)
    np.testing.assert_allclose(calibrated["phase"].data, auto["phase"].data, atol=1e-3 * np.ptp(phi))
    # ignoring the rotation keeps cos(theta) of the phase at best (0.88 at 28 deg; ~0 when mirrored)
    aligned = com_dataset(ds, rotation=0.0, flip=False)
    assert abs(_slope(aligned["phase"].data, phi)) < 0.93 * _slope(auto["phase"].data, phi)


def test_bad_inputs_name_the_problem():
    from stemlab.errors import ParameterError

    with pytest.raises(ParameterError, match="2D maps"):
        find_dpc_rotation(np.zeros(5), np.zeros(5))


def _stemlab(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "stemlab.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_cli_virtual_dpc_rotation_auto(tmp_path):
    """`stemlab virtual --dpc-rotation auto` prints the rotation and flip it found and stores them with the iDPC."""
    n, npx, dx, theta = 32, 24, 0.5, 40.0
    phi = _phase_object(n, seed=5)
    src = tmp_path / "scan.npy"
    np.save(src, _patterns_on_rotated_detector(phi, theta, True, npx))
    cal = ["--scan-step", f"{dx}angstrom", "--calibration", f"{1.0 / (npx * dx)} 1/angstrom"]
    out = tmp_path / "auto.npz"
    result = _stemlab("virtual", src, "--detector", "BF=disk:12,12,3", *cal, "--dpc-rotation", "auto", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "DPC rotation" in result.stdout and "flipped" in result.stdout
    with np.load(out) as f:
        assert abs((float(f["dpc_rotation_deg"]) - theta + 180) % 360 - 180) < 1.0
        assert bool(f["dpc_flip"]) is True
        assert np.corrcoef(f["idpc"].ravel(), phi.ravel())[0, 1] > 0.95
        auto_phase = f["idpc"]
    # the same geometry given as calibration on every command: --scan-rotation / --scan-flip
    given = tmp_path / "given.npz"
    result = _stemlab("virtual", src, "--detector", "BF=disk:12,12,3", *cal, "--scan-rotation", theta, "--scan-flip",
                      "-o", given)
    assert result.returncode == 0, result.stderr
    with np.load(given) as f:
        assert float(f["dpc_rotation_deg"]) == pytest.approx(theta) and bool(f["dpc_flip"])
        import json

        record = json.loads(str(f["calibration"]))["BF"]  # every map records the scan geometry
        assert record["scan_rotation_deg"] == pytest.approx(theta) and record["scan_flip"] is True
        assert np.corrcoef(f["idpc"].ravel(), auto_phase.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("value", ["sideways", "2nm"])
def test_cli_bad_dpc_rotation_names_the_option(tmp_path, value):
    src = tmp_path / "scan.npy"
    np.save(src, np.zeros((4, 4, 8, 8), np.float32))
    result = _stemlab("virtual", src, "--dpc-rotation", value, "-o", tmp_path / "x.npz")
    assert result.returncode == 2 and "--dpc-rotation" in result.stderr and "auto" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.npz").exists()
