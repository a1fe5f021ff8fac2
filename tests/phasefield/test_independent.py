"""The phase-field fit against solvers that are not ours (issue 16), and the former NaN crash."""

import numpy as np
import pytest

pytest.importorskip("torch")

from independent_solver import euler_solve, independent_video, initial_field  # noqa: E402
from stemlab.errors import ParameterError  # noqa: E402


def test_explicit_solver_matches_the_analytic_flat_front():
    """The test solver is right on its own terms: a flat Allen-Cahn front moves at 3 M dG delta
    (Allen & Cahn 1979) and keeps the tanh width, to the 5-point scheme's accuracy."""
    mk, mw, mdg, dx = 4.5, 1.0, -0.05, 1.0
    delta = np.sqrt(2 * mk / mw)
    x = np.arange(256) * dx
    u0 = np.tile(0.5 * (np.tanh((x - 64) / delta) - np.tanh((x - 192) / delta)), (4, 1))  # two fronts
    u = euler_solve(u0, [0.0, 40.0], "allen-cahn", mk, mw, mdg, dx)
    growth = u[1, 0].sum() - u[0, 0].sum()  # phase 1 grows for dG < 0
    assert growth / (2 * 40.0) == pytest.approx(3 * abs(mdg) * delta, rel=0.03)


def test_explicit_video_is_converged_in_resolution():
    """Halving the solver's grid spacing changes the video's order parameter by < 1 %."""
    kw = dict(shape=(32, 32), n_frames=4, delta=3.0, seed=3)
    coarse = independent_video("allen-cahn", **kw).metadata["ground_truth"]["order_parameter"]
    fine = independent_video("allen-cahn", refine=2, **kw).metadata["ground_truth"]["order_parameter"]
    assert np.abs(coarse[-1].mean() - fine[-1].mean()) < 0.01


def test_diverged_kinetics_give_a_clear_error_not_a_nan_crash():
    """The reported crash: ValueError 'cannot convert float NaN to integer' in substeps."""
    from stemlab.phasefield.model import substeps_per_frame

    with pytest.raises(ParameterError, match="diverged"):
        substeps_per_frame(np.array([np.nan, 1.0, 0.0]), "allen-cahn", 0.8, 0.2)


def test_a_non_finite_step_is_skipped_and_the_fit_goes_on(monkeypatch):
    """A step whose loss is NaN leaves the unknowns unchanged and halves the learning rate."""
    import torch

    from stemlab.phasefield import fit_phasefield
    from stemlab.phasefield.model import PhaseFieldModel

    ds = independent_video("allen-cahn", shape=(24, 24), n_frames=6, delta=3.0, seed=1)
    forward = PhaseFieldModel.forward
    calls = []

    def sometimes_nan(self, step_frac, n_sub):
        out = forward(self, step_frac, n_sub)
        calls.append(1)
        if len(calls) == 3:
            out.loss = out.loss * torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(PhaseFieldModel, "forward", sometimes_nan)
    res = fit_phasefield(ds, "allen-cahn", steps=6, align=False)
    assert np.isfinite(res.parameters["values"]["M*kappa"]["value"])
    assert np.isfinite(res.order_parameter).all()


def test_plain_z_contrast_keeps_uniform_templates():
    """Without a lattice the templates get no per-pixel freedom (it widened the interfaces)."""
    from stemlab.phasefield.texture import lattice_transfer, texture_numpy

    plain = independent_video("allen-cahn", shape=(48, 48), n_frames=8, delta=2.0)
    fringes = independent_video("allen-cahn", shape=(48, 48), n_frames=8, delta=2.0, fringes=0.3)
    for ds, low, high in ((plain, 0.0, 0.02), (fringes, 0.15, 1.0)):
        y = np.asarray(ds.data, dtype=float)
        mean = y.mean(0)
        tex = texture_numpy(mean, lattice_transfer(mean, 6.0, y.mean() / len(y)))
        assert low <= tex.var() / mean.var() <= high


def test_initial_field_has_two_phases():
    u = initial_field((64, 64), "allen-cahn", 1.0, 2.0, np.random.default_rng(0))
    assert 0.3 < (u > 0.5).mean() < 0.5


@pytest.fixture(scope="module")
def explicit_solver_fit():
    """The benchmark's case ac-4-1: Allen-Cahn from the explicit solver, 48 x 48 px at 1 nm,
    16 frames 0.8 s apart, interface 4 px, plain Z-contrast 100 + 60 u, Poisson noise."""
    from stemlab.phasefield import fit_phasefield

    ds = independent_video("allen-cahn", shape=(48, 48), n_frames=16, delta=4.0, mw=1.0, frame_time=0.8, dose=1.0)
    return ds.metadata["ground_truth"]["identifiable"], fit_phasefield(ds, "allen-cahn", steps=600)


@pytest.mark.slow
def test_explicit_solver_video_gives_the_width(explicit_solver_fit):
    truth, res = explicit_solver_fit
    values = res.parameters["values"]
    assert values["interface_width"]["value"] == pytest.approx(truth["interface_width"], rel=0.05)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 16, not solved: M*kappa and M*W -50 % here; our own solver's video "
                                       "of the same start gives the same bias: the fit cannot reach the unrelaxed "
                                       "first frames and ends in a slow local optimum; M*dG +12 % goes with it (+4 % "
                                       "only with the old spurious drift of up to 17 px; docs/phasefield.md, "
                                       "cause 2)")
def test_explicit_solver_video_gives_the_kinetics(explicit_solver_fit):
    truth, res = explicit_solver_fit
    values = res.parameters["values"]
    for name in ("M*kappa", "M*W", "M*dG"):
        assert values[name]["value"] == pytest.approx(truth[name], rel=0.10), name


@pytest.mark.parametrize("frame_time, delta", [(0.3, 2.0), (0.8, 4.0), (2.0, 6.0)])
def test_drift_free_plain_contrast_video_gives_small_drift(frame_time, delta):
    """A drift-free explicit-solver video (smooth two-phase pattern, no lattice) needs no alignment.
    (The consecutive-frame correlation used to register the moving interfaces: 5-46 px.)"""
    from stemlab.phasefield.align import estimate_drift

    ds = independent_video("allen-cahn", shape=(48, 48), n_frames=16, delta=delta, frame_time=frame_time)
    drift = estimate_drift(np.asarray(ds.data, dtype=float))
    assert np.abs(drift).max() < 1.0


@pytest.mark.parametrize("dose", [0.3, 1.0])
def test_scan_drift_of_a_lattice_video_is_recovered(dose):
    """The window drifts over the sample (its fringes move with it) while interfaces move too."""
    from stemlab.phasefield.align import estimate_drift

    ds = independent_video("allen-cahn", shape=(64, 64), n_frames=16, delta=4.0, frame_time=0.8, drift_px=0.5,
                           fringes=0.3, dose=dose)
    truth = ds.metadata["ground_truth"]["drift"]
    assert np.abs(truth).max() > 3
    drift = estimate_drift(np.asarray(ds.data, dtype=float))
    assert np.abs(drift - truth).max() < 0.3
