import numpy as np
import pytest
from scipy.optimize import curve_fit

from stemlab.errors import ParameterError
from stemlab.simulate.phasefield import PhaseFieldParameters, allen_cahn, cahn_hilliard, nuclei, solve, tanh_profile


def _fit_front(x, u):
    popt, _ = curve_fit(lambda x, d, x0: tanh_profile(x, d, x0), x, u, p0=[1.0, x[len(x) // 2]])
    return popt


def test_allen_cahn_flat_interface_width():
    n, dx = 256, 0.25
    x = np.arange(n) * dx
    L = n * dx
    u0 = ((x > L / 4) & (x < 3 * L / 4)).astype(float)
    p = PhaseFieldParameters(M=1.0, kappa=0.5, W=2.0)
    u = allen_cahn(u0, [40.0], p.M, p.kappa, p.W, dx=dx)[-1]
    sel = x < L / 2
    delta, x0 = _fit_front(x[sel], u[sel])
    assert delta == pytest.approx(p.interface_width, rel=0.02)
    assert x0 == pytest.approx(L / 4, abs=dx)


def test_allen_cahn_front_velocity():
    n, dx = 256, 0.25
    x = np.arange(n) * dx
    L = n * dx
    u0 = ((x > L / 4) & (x < 3 * L / 4)).astype(float)
    p = PhaseFieldParameters(M=1.0, kappa=0.5, W=2.0, dG=0.05)
    out = solve(u0, [20.0, 40.0], p, dx=dx)
    sel = x < L / 2
    x0 = [_fit_front(x[sel], o[sel])[1] for o in out]
    assert (x0[1] - x0[0]) / 20.0 == pytest.approx(p.front_velocity, rel=0.02)


def test_cahn_hilliard_conserves_mass_and_separates():
    rng = np.random.default_rng(0)
    u0 = 0.4 + 0.02 * rng.standard_normal((64, 64))
    out = cahn_hilliard(u0, [0.0, 5.0, 20.0], M=1.0, kappa=0.5, W=2.0, dx=0.5)
    assert np.abs(out.mean(axis=(1, 2)) - u0.mean()).max() < 1e-10
    assert out[-1].std() > 0.3  # phase separated
    assert out[-1].min() > -0.1 and out[-1].max() < 1.1


def test_cahn_hilliard_second_order_in_time():
    p = PhaseFieldParameters(1.0, 0.5, 2.0)
    u0 = nuclei((32, 32), [[5.0, 5.0]], 2.5, p.interface_width, dx=0.5) * 0.7 + 0.15
    ref = solve(u0, [4.0], p, model="cahn-hilliard", dx=0.5, dt=0.002)[-1]
    e1 = np.abs(solve(u0, [4.0], p, model="cahn-hilliard", dx=0.5, dt=0.04)[-1] - ref).max()
    e2 = np.abs(solve(u0, [4.0], p, model="cahn-hilliard", dx=0.5, dt=0.02)[-1] - ref).max()
    assert e1 / e2 > 3.0  # ~4 for a second-order scheme


def test_bad_arguments():
    with pytest.raises(ParameterError):
        solve(np.zeros(8), [1.0], PhaseFieldParameters(), model="navier-stokes")
    with pytest.raises(ParameterError):
        solve(np.zeros(8), [2.0, 1.0], PhaseFieldParameters())
