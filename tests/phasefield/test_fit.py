"""fit_phasefield: outputs, calibration, resume, poor-fit detection, errors."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from stemlab.backend.progress import CancelToken  # noqa: E402
from stemlab.errors import Cancelled, ParameterError  # noqa: E402
from stemlab.phasefield import fit_phasefield, interface_width_from_field  # noqa: E402

from pf_videos import noise_video, rigid_pattern_video  # noqa: E402


@pytest.fixture(scope="module")
def quick_fit(small_video):
    return fit_phasefield(small_video, "allen-cahn", steps=40, downsample=2, device="cpu")


def test_outputs_keep_the_calibration(small_video, quick_fit):
    res = quick_fit
    T, H, W = small_video.shape
    assert res.denoised.shape == (T, H, W) and res.interface.shape == (T, H, W)
    assert res.order_parameter.shape == (T, H // 2, W // 2)
    ds = res.datasets()
    assert set(ds) == {"denoised", "order_parameter", "interface"}
    assert ds["denoised"].axes == small_video.axes
    coarse = ds["order_parameter"].axes
    assert coarse[1].scale == pytest.approx(2 * small_video.axes[1].scale) and coarse[1].units == "nm"
    assert coarse[1].offset == pytest.approx(0.5 * small_video.axes[1].scale)  # centre of a 2 x 2 block
    assert coarse[0].units == "s" and ds["interface"].data.dtype == np.uint8
    assert set(np.unique(res.interface)) <= {0, 1}
    assert res.phase_fraction.shape == (T,) and res.interface_velocity.shape == (T - 1,)


def test_parameters_have_units_and_identifiability(quick_fit):
    p = quick_fit.parameters
    assert p["values"]["M*kappa"]["units"] == "nm^2/s"
    assert p["values"]["M*W"]["units"] == "1/s"
    assert p["values"]["interface_width"]["units"] == "nm"
    assert set(p["identifiable"]) >= {"M*kappa", "M*W", "M*dG", "interface_width"}
    assert "gauge" in p["values"]["kappa"]["note"]
    assert len(quick_fit.history["loss"]) > 3 and np.isfinite(quick_fit.history["loss"]).all()
    q = quick_fit.quality
    assert {"poor_fit", "message", "reduced_chi2", "pde_explained_fraction"} <= set(q)


def test_save_writes_the_documented_keys(quick_fit, tmp_path):
    path = tmp_path / "fit.npz"
    quick_fit.save(path)
    with np.load(path) as f:
        assert {"order_parameter", "denoised", "interface", "parameters", "history_loss"} <= set(f.files)
        params = json.loads(str(f["parameters"]))
    assert params["values"]["M*W"]["units"] == "1/s" and "quality" in params


def test_crop_and_frames_move_the_offsets_and_save_keeps_them(small_video, tmp_path):
    """Offsets of a crop follow from its corner (independent arithmetic), and the .npz keeps
    every name, scale, offset and unit of both grids."""
    t, yax, xax = small_video.axes
    res = fit_phasefield(small_video, steps=0, frames=(1, 9), crop=(4, 44, 6, 46), device="cpu", align=False)
    ds = res.datasets()
    pix, coarse = ds["denoised"].axes, ds["order_parameter"].axes
    assert [a.name for a in pix] == [a.name for a in small_video.axes]
    assert [a.units for a in pix] == [a.units for a in small_video.axes] == [a.units for a in coarse]
    assert pix[0].offset == pytest.approx(t.offset + 1 * t.scale) and pix[0].size == 8
    assert pix[1].offset == pytest.approx(yax.offset + 4 * yax.scale) and pix[1].size == 40
    assert pix[2].offset == pytest.approx(xax.offset + 6 * xax.scale)
    assert coarse[2].offset == pytest.approx(xax.offset + 6.5 * xax.scale) and coarse[2].scale == pytest.approx(2 * xax.scale)
    path = tmp_path / "crop.npz"
    res.save(path)
    with np.load(path) as f:
        calibration = json.loads(str(f["calibration"]))
    for key, axes in (("denoised", pix), ("interface", pix), ("order_parameter", coarse)):
        record = calibration[key]["axes"]
        assert [(a["name"], a["size"], a["units"], a["navigate"]) for a in record] == \
            [(a.name, a.size, a.units, a.navigate) for a in axes]
        np.testing.assert_allclose([[a["scale"], a["offset"]] for a in record], [[a.scale, a.offset] for a in axes])
    assert "steps)" in res.summary() and res.quality["message"] in res.summary()
    for name in res.parameters["identifiable"]:
        assert name in res.summary()


def test_failed_save_leaves_the_old_file(quick_fit, tmp_path, monkeypatch):
    path = tmp_path / "fit.npz"
    path.write_bytes(b"old")

    def broken(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        quick_fit.save(path)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["fit.npz"]


def test_cancel_keeps_a_state_that_resumes(small_video):
    token = CancelToken()
    seen = []

    def callback(info):
        seen.append(info["step"])
        if info["step"] >= 10:
            token.cancel()

    with pytest.raises(Cancelled) as caught:
        fit_phasefield(small_video, steps=30, cancel=token, callback=callback, callback_every=5)
    state = caught.value.state
    assert 10 <= state.step < 30
    res = fit_phasefield(small_video, steps=30, state=state)
    assert res.quality["steps"] == 30 and res.history["step"][-1] == 30


def test_resume_with_other_settings_is_refused(quick_fit, small_video):
    with pytest.raises(ParameterError, match="another set-up"):
        fit_phasefield(small_video, steps=50, downsample=1, state=quick_fit.state)


def test_bad_inputs_name_the_fix(small_video):
    with pytest.raises(ParameterError, match="video"):
        fit_phasefield(np.zeros((8, 8)), steps=1)
    with pytest.raises(ParameterError, match="frames"):
        fit_phasefield(small_video, steps=1, frames=(5, 6))
    with pytest.raises(ParameterError, match="crop"):
        fit_phasefield(small_video, steps=1, crop=(0, 500, 0, 10))
    with pytest.raises(ParameterError, match="allen-cahn"):
        fit_phasefield(small_video, model="heat", steps=1)


def test_interface_width_of_a_tanh_profile():
    x = np.arange(200) * 0.02
    delta = 0.3
    u = 0.5 * (1 + np.tanh((x - 2.0) / delta))[None, :].repeat(8, 0)
    assert interface_width_from_field(u, 0.02) == pytest.approx(delta, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("make", [noise_video, rigid_pattern_video])
def test_videos_without_phase_field_physics_are_poor_fits(make):
    res = fit_phasefield(make(), "allen-cahn", steps=150)
    assert res.poor_fit, res.quality["message"]
    assert res.quality["message"].startswith("Poor fit")
    assert set(res.quality["uncertain_parameters"]) >= {"M*kappa", "M*W"}


def test_cuda_matches_cpu(small_video):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    cpu = fit_phasefield(small_video, steps=20, device="cpu")
    gpu = fit_phasefield(small_video, steps=20, device="cuda")
    np.testing.assert_allclose(gpu.order_parameter, cpu.order_parameter, atol=2e-3)
    for name in ("M*kappa", "M*W"):
        assert gpu.parameters["values"][name]["value"] == pytest.approx(
            cpu.parameters["values"][name]["value"], rel=1e-3)


def test_cahn_hilliard_is_reported_in_the_symmetric_gauge():
    """dG is not identifiable for Cahn-Hilliard: the result is mapped to dG = 0 (w = 1/2 + (u - s)/b)
    and the order parameter, templates and denoised video stay consistent (I = A' + B' w)."""
    from stemlab.simulate.video import phase_transformation_video

    ds = phase_transformation_video(model="cahn-hilliard", n_frames=8, shape=(32, 32), dose=100.0, seed=0)
    res = fit_phasefield(ds, "cahn-hilliard", steps=20, downsample=2, device="cpu", align=False)
    v = res.parameters["values"]
    assert v["M*dG"]["value"] == 0.0 and v["dG/W"]["value"] == 0.0
    assert "not identifiable" in v["M*dG"]["note"]
    assert set(res.parameters["identifiable"]) == {"M*kappa", "M*W", "interface_width"}
    assert v["interface_width"]["value"] == pytest.approx(np.sqrt(2 * v["M*kappa"]["value"] / v["M*W"]["value"]))
    u = np.repeat(np.repeat(res.order_parameter[0], 2, 0), 2, 1)
    t0, t1 = res.templates["phase0"], res.templates["phase1"]
    # bilinear vs nearest up-sampling differ, so compare smooth means only
    assert np.mean(t0 + (t1 - t0) * u) == pytest.approx(np.mean(res.denoised[0]), rel=0.05)
