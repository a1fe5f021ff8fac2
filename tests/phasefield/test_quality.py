"""The phase-field verdict follows the documented criteria, from one source of thresholds."""

from pathlib import Path

import pytest

from stemlab.phasefield.quality import CRITERIA, criteria_markdown, verdict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "phasefield.md"
DERIVED = {"M*kappa": 0.045, "M*W": 1.0, "M*dG": -0.1, "interface_width": 0.3, "dG/W": -0.1,
           "front_velocity": 0.01}


def good(**changes):
    values = dict(contrast_snr=5.0, both_phases=True, significance=50.0, structure=1.1, unexplained=0.01,
                  chi2=1.02, pde_r2=0.97, driving_force=-0.1, at_floor=[], derived=dict(DERIVED),
                  stderr={k: 0.01 * abs(v) for k, v in DERIVED.items()})
    values.update(changes)
    return verdict("allen-cahn", **values)


def test_docs_state_the_thresholds_the_verdict_uses():
    assert criteria_markdown() in DOCS.read_text(encoding="utf-8")
    assert f"> {CRITERIA['residual_structure_max']:g}" in criteria_markdown()


def test_a_good_fit_says_so_with_its_numbers():
    judged = good()
    assert not judged["poor_fit"] and judged["reasons"] == []
    assert judged["message"].startswith("Good fit") and "1.10 (<= 1.5: indistinguishable from shot noise)" \
        in judged["message"]


def test_structure_above_the_threshold_is_never_called_shot_noise():
    """The reported case: 'Good fit' with 'residual indistinguishable from shot noise' at structure 1.79."""
    judged = good(structure=1.79, unexplained=0.03)
    assert not judged["poor_fit"]
    assert "indistinguishable" not in judged["message"]
    assert "1.79: above 1.5" in judged["message"] and "3.0 %" in judged["message"]
    poor = good(structure=1.79, unexplained=0.08)
    assert poor["poor_fit"] and poor["message"].startswith("Poor fit") and "1.79" in poor["message"]
    assert set(poor["uncertain_parameters"]) >= {"M*kappa", "M*W"}


@pytest.mark.parametrize("change", [
    {"contrast_snr": CRITERIA["contrast_to_noise_min"] * 0.9},
    {"significance": CRITERIA["dynamics_significance_min"] * 0.9},
    {"chi2": CRITERIA["reduced_chi2_max"] * 1.1},
    {"pde_r2": CRITERIA["pde_explained_min"] * 0.9},
    {"driving_force": CRITERIA["driving_force_max"] * 1.1},
    {"both_phases": False},
    {"at_floor": ["M*kappa"]},
    {"stderr": {**{k: 0.01 * abs(v) for k, v in DERIVED.items()},
                "M*W": (CRITERIA["undetermined_max"] + 0.05) * DERIVED["M*W"]}},
])
def test_each_documented_threshold_fails_the_fit(change):
    judged = good(**change)
    assert judged["poor_fit"] and len(judged["reasons"]) == 1, judged["reasons"]


def test_uncertain_parameters_are_named_in_a_good_fit():
    stderr = {k: 0.01 * abs(v) for k, v in DERIVED.items()}
    stderr["interface_width"] = (CRITERIA["uncertain_max"] + 0.05) * DERIVED["interface_width"]
    judged = good(stderr=stderr)
    assert not judged["poor_fit"] and judged["uncertain_parameters"] == ["interface_width"]
    assert "Uncertain (> 10 %): interface_width." in judged["message"]
