import numpy as np
import pytest

from stemlab.simulate.video import phase_transformation_video


@pytest.mark.parametrize("model", ["allen-cahn", "cahn-hilliard"])
def test_video(model):
    ds = phase_transformation_video(n_frames=6, shape=(64, 64), frame_time=2.0, model=model, seed=2)
    assert ds.kind == "video" and ds.shape == (6, 64, 64)
    assert ds.axis_labels == ("t", "y", "x") and ds.units == ("s", "nm", "nm")
    gt = ds.metadata["ground_truth"]
    u = gt["order_parameter"]
    assert u.shape == gt["clean"].shape == ds.shape
    assert u.min() > -0.1 and u.max() < 1.1
    assert gt["model"] == model
    p = gt["parameters"]
    assert p["interface_width_nm"] == pytest.approx(np.sqrt(2 * p["kappa"] / p["W"]))
    assert p["identifiable"]["M*kappa"] == pytest.approx(p["M"] * p["kappa"])
    assert ds.data.mean() == pytest.approx(gt["clean"].mean(), rel=0.02)
    if model == "allen-cahn":
        assert u[-1].mean() > u[0].mean() + 0.1  # phase 1 grows (dG < 0)
    else:
        assert abs(u[-1].mean() - u[0].mean()) < 1e-6
