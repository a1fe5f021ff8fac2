"""The good / poor fit verdict of a phase-field fit: the criteria, their one source, and the message.

:data:`CRITERIA` holds every threshold; :func:`verdict` applies them and
:func:`criteria_markdown` writes them out for docs/phasefield.md ("Is it a good fit?"),
which a test keeps equal to this text, so the verdict, its message and the docs cannot
disagree.
"""

from __future__ import annotations

import math

CRITERIA = {
    "contrast_to_noise_min": 1.0,     # phase contrast / noise per grid point per frame
    "dynamics_significance_min": 5.0,  # sigma by which the fit beats a static image
    "residual_structure_max": 1.5,     # smoothed residual variance / that of white shot noise
    "unexplained_change_max": 0.05,    # fraction of the change of the video the fit leaves unexplained
    "reduced_chi2_max": 1.5,
    "pde_explained_min": 0.8,          # fraction of the change of u explained by the equation
    "driving_force_max": 0.3,          # |dG / W|: beyond, a phase stops being metastable
    "undetermined_max": 0.3,           # relative uncertainty of M*kappa, M*W that fails the fit
    "uncertain_max": 0.1,              # relative uncertainty named in the message of a good fit
}


def criteria_markdown() -> str:
    """The criteria as the markdown list of docs/phasefield.md (kept equal by a test)."""
    c = CRITERIA
    return "\n".join([
        "- *residual structure*: variance of the space-time-smoothed, noise-normalised residual",
        "  relative to white noise (1 for a correct model; independent of the gain estimate);",
        f"  > {c['residual_structure_max']:g} while more than {100 * c['unexplained_change_max']:g} % of the change "
        "in the video is left unexplained means",
        f"  the video does something the equation cannot (above {c['residual_structure_max']:g} with less left "
        "unexplained, as at",
        "  high dose, the message of a good fit names it);",
        f"- *reduced chi^2* (~1; > {c['reduced_chi2_max']:g} flags);",
        "- *fraction of the change of u explained by the equation* (closed-form least squares on",
        f"  the fitted field; < {100 * c['pde_explained_min']:g} % flags: the fit needed jumps at segment joins);",
        "- *dynamics significance*: how many sigma the fit improves on a static image beyond what its",
        f"  free parameters give (< {c['dynamics_significance_min']:g} sigma: nothing happens that could carry "
        "kinetics);",
        f"- *contrast to noise* of the two phases per grid point per frame (< {c['contrast_to_noise_min']:g}: "
        "not distinguishable);",
        "- the order parameter never showing two phases side by side, a kinetic coefficient at zero,",
        f"  the driving force at the metastability limit (|dG/W| > {c['driving_force_max']:g}), and `M*kappa`, "
        f"`M*W` uncertain by > {100 * c['undetermined_max']:g} %.",
        "Any of these gives \"Poor fit: ... Treat the parameters as unreliable.\" and marks all",
        f"parameters uncertain; in a good fit, parameters with > {100 * c['uncertain_max']:g} % uncertainty "
        "are named.",
    ])


def verdict(model: str, *, contrast_snr: float, both_phases: bool, significance: float, structure: float,
            unexplained: float, chi2: float, pde_r2: float, driving_force: float, at_floor: list,
            derived: dict, stderr: dict) -> dict:
    """Apply :data:`CRITERIA` to the diagnostics of a fit.

    Returns ``{'poor_fit', 'message', 'reasons', 'uncertain_parameters'}``. ``derived`` and
    ``stderr``: identifiable parameters and their standard errors; ``driving_force``: dG/W;
    ``at_floor``: names of kinetic coefficients that hit zero.
    """
    c = CRITERIA
    reasons, uncertain = [], []
    for name in ("M*kappa", "M*W", "interface_width") + (("M*dG",) if model == "allen-cahn" else ()):
        value = derived[name]
        rel = stderr[name] / abs(value) if value and math.isfinite(value) else float("inf")
        if not math.isfinite(rel) or rel > c["uncertain_max"]:
            uncertain.append(name)
    if contrast_snr < c["contrast_to_noise_min"]:
        reasons.append(f"the two phases are not distinguishable above the noise (contrast-to-noise "
                       f"{contrast_snr:.2f} per grid point per frame; needs > {c['contrast_to_noise_min']:g})")
    if not both_phases:
        reasons.append("the order parameter never shows two phases side by side")
    if significance < c["dynamics_significance_min"]:
        reasons.append(f"no significant change over time beyond a static image (significance {significance:.1f} "
                       f"sigma; needs > {c['dynamics_significance_min']:g})")
    structured = structure > c["residual_structure_max"]
    if structured and unexplained > c["unexplained_change_max"]:
        reasons.append(f"the residual of the {model} fit has structure (smoothed residual variance "
                       f"{structure:.2f} times that of white shot noise, {100 * unexplained:.0f} % of the "
                       f"change in the video unexplained; a good fit gives <= {c['residual_structure_max']:g} "
                       f"or <= {100 * c['unexplained_change_max']:g} %): the video does not follow this equation")
    if chi2 > c["reduced_chi2_max"]:
        reasons.append(f"the data misfit is {chi2:.2f} times the shot noise (reduced chi^2 should be ~1, "
                       f"<= {c['reduced_chi2_max']:g})")
    if pde_r2 < c["pde_explained_min"]:
        reasons.append(f"the {model} equation explains only {100 * max(pde_r2, 0):.0f} % of the frame-to-frame "
                       f"change of the order parameter (a good fit explains > {100 * c['pde_explained_min']:g} %)")
    if abs(driving_force) > c["driving_force_max"]:
        reasons.append("the driving force sits at the limit where a phase stops being metastable "
                       f"(|dG/W| = {abs(driving_force):.2f} > {c['driving_force_max']:g})")
    if at_floor:
        reasons.append(f"{', '.join(at_floor)} hit zero: the dynamics do not look like {model}")
    for name in ("M*kappa", "M*W"):
        value = derived[name]
        if value > 0 and stderr[name] / value > c["undetermined_max"] and not at_floor:
            reasons.append(f"{name} is undetermined (relative uncertainty {100 * stderr[name] / value:.0f} %)")
    poor = bool(reasons)
    if poor:
        message = "Poor fit: " + "; ".join(reasons) + ". Treat the parameters as unreliable."
    else:
        if structured:
            residual = (f"residual structure {structure:.2f}: above {c['residual_structure_max']:g}, but the "
                        f"equation leaves only {100 * unexplained:.1f} % of the change in the video unexplained "
                        f"(<= {100 * c['unexplained_change_max']:g} %)")
        else:
            residual = (f"residual structure {structure:.2f} (<= {c['residual_structure_max']:g}: indistinguishable "
                        "from shot noise)")
        message = (f"Good fit: the {model} dynamics explain the video to the noise (reduced chi^2 {chi2:.2f}; "
                   f"{residual}); the equation explains {100 * pde_r2:.1f} % of the change of the order parameter."
                   + (f" Uncertain (> {100 * c['uncertain_max']:g} %): {', '.join(sorted(set(uncertain)))}."
                      if uncertain else ""))
    return {"poor_fit": poor, "message": message, "reasons": reasons,
            "uncertain_parameters": sorted(set(uncertain)) if not poor else list(derived)}
