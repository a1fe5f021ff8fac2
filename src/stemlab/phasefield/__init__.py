"""Physics-informed phase-field fitting of HAADF videos of phase transformations.

``fit_phasefield(video, model='allen-cahn')`` fits a coarse-grained order parameter
u(t, y, x), a per-pixel intensity map of the two phases and the kinetic parameters of an
Allen-Cahn or Cahn-Hilliard equation to a noisy, drifting video; see docs/phasefield.md.
Nothing here imports napari or Qt; torch is imported inside the functions.
"""

from .fit import (PhaseFieldResult, PhaseFieldState, derived_parameters, estimate_gain, fit_phasefield,
                  interface_width_from_field)

__all__ = ["PhaseFieldResult", "PhaseFieldState", "derived_parameters", "estimate_gain", "fit_phasefield",
           "interface_width_from_field"]
