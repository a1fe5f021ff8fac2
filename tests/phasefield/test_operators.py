"""The differentiable solver and the least-squares kinetics against the project's reference solver."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from stemlab.phasefield.operators import (Propagator, SpectralLaplacian, normal_equations,  # noqa: E402
                                          normalize_model, solve_theta, trapezoid_design)
from stemlab.simulate.phasefield import PhaseFieldParameters, nuclei, solve  # noqa: E402


@pytest.mark.parametrize("model,params,dt", [
    ("allen-cahn", PhaseFieldParameters(M=1.0, kappa=0.045, W=1.0, dG=-0.1), 0.5),
    ("cahn-hilliard", PhaseFieldParameters(M=0.25, kappa=0.045, W=1.0, dG=0.0), 0.5),
])
def test_propagator_matches_reference_solver(model, params, dt):
    rng = np.random.default_rng(0)
    if model == "allen-cahn":
        u0 = nuclei((48, 48), [[0.9, 1.0], [1.2, 0.4]], 0.4, params.interface_width, dx=0.04)
    else:
        u0 = 0.4 + 0.05 * rng.standard_normal((48, 48))
        u0 = solve(u0, [3.0], params, model=model, dx=0.04)[0]  # past the noisy start
    ref = solve(u0, dt * np.arange(4), params, model=model, dx=0.04)
    theta = torch.tensor([params.M * params.kappa, params.M * params.W, params.M * params.dG], dtype=torch.float64)
    prop = Propagator((48, 48), 0.04, model, boundary="periodic", dtype=torch.float64)
    relax = 1 / (params.M * params.W) if model == "allen-cahn" else params.interface_width ** 2 / (params.M * params.W)
    n_sub = int(np.ceil(dt / (0.2 * relax)))
    out = prop.run(torch.tensor(u0)[None], theta, dt, 3, n_sub)[0].numpy()
    assert np.sqrt(np.mean((out - ref) ** 2)) < 0.01


def test_least_squares_recovers_identifiable_combinations():
    params = PhaseFieldParameters(M=2.0, kappa=0.03, W=0.7, dG=-0.05)
    u0 = nuclei((64, 64), [[0.8, 0.8], [1.9, 1.5]], 0.5, params.interface_width, dx=0.04)
    u = solve(u0, 0.25 * np.arange(12), params, model="allen-cahn", dx=0.04)[2:]
    lap = SpectralLaplacian((64, 64), 0.04, boundary="periodic", dtype=torch.float64)
    D, G = trapezoid_design(torch.tensor(u), lap, "allen-cahn", torch.full((len(u) - 1,), 0.25, dtype=torch.float64))
    XtX, Xty = normal_equations(D, G, torch.ones(64, 64, dtype=torch.float64))
    theta, _, _ = solve_theta(XtX.numpy(), Xty.numpy(), np.ones(len(u) - 1))
    truth = [params.M * params.kappa, params.M * params.W, params.M * params.dG]
    np.testing.assert_allclose(theta, truth, rtol=0.03)


def test_neumann_laplacian_of_a_cosine():
    n, dx = 32, 0.1
    x = (np.arange(n) + 0.5) * dx
    u = np.cos(np.pi * x / (n * dx))[None, :].repeat(n, 0)  # zero slope at both edges
    lap = SpectralLaplacian((n, n), dx, boundary="neumann", dtype=torch.float64)
    out = lap.apply(torch.tensor(u)).numpy()
    np.testing.assert_allclose(out, -(np.pi / (n * dx)) ** 2 * u, atol=1e-8)


def test_model_names():
    assert normalize_model("Allen_Cahn") == "allen-cahn"
    assert normalize_model("CH") == "cahn-hilliard"
    from stemlab.errors import ParameterError

    with pytest.raises(ParameterError, match="allen-cahn"):
        normalize_model("navier-stokes")


def test_cahn_hilliard_tilt_is_a_gauge_of_the_order_parameter():
    """CH with a tilt dG equals the symmetric well W' = W (1 + 3 (dG/W)^2) for the affinely
    re-defined field w = 1/2 + (u - s)/b: dG is not identifiable (the intensity map absorbs
    any affine map of u), M kappa and M W' are."""
    from stemlab.phasefield.model import derived_parameters, symmetric_gauge
    from stemlab.simulate.phasefield import cahn_hilliard

    rng = np.random.default_rng(0)
    M, kappa, W, dG = 0.7, 0.05, 1.0, -0.25
    u0 = 0.45 + 0.05 * rng.standard_normal((32, 32))
    t = np.linspace(0, 10, 4)
    u = cahn_hilliard(u0, t, M=M, kappa=kappa, W=W, dG=dG, dx=0.1, dt=0.002)
    s, b, theta_sym = symmetric_gauge([M * kappa, M * W, M * dG])
    assert theta_sym[0] == pytest.approx(M * kappa) and theta_sym[2] == 0.0
    assert theta_sym[1] == pytest.approx(M * W * (1 + 3 * 0.25 ** 2))
    w = cahn_hilliard(0.5 + (u0 - s) / b, t, M=1.0, kappa=theta_sym[0], W=theta_sym[1], dx=0.1, dt=0.002)
    assert np.abs(s + b * (w - 0.5) - u).max() < 1e-9
    assert u.std(axis=(1, 2))[-1] > 0.2  # the field did evolve
    d = derived_parameters([M * kappa, M * W, M * dG], "cahn-hilliard")
    assert d["M*W"] == pytest.approx(theta_sym[1]) and d["M*dG"] == 0.0 and d["dG/W"] == 0.0
    assert derived_parameters([M * kappa, M * W, M * dG], "allen-cahn")["M*dG"] == pytest.approx(M * dG)
