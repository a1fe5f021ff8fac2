"""Physics-informed phase-field fitting of HAADF videos of phase transformations.

``fit_phasefield(video, model='allen-cahn')`` fits a coarse-grained order parameter
u(t, y, x), a per-pixel intensity map of the two phases and the kinetic parameters of an
Allen-Cahn or Cahn-Hilliard equation to a noisy, drifting video; see docs/phasefield.md.
Modules by job: initialise, model, optimise, diagnostics, result; ``fit`` is the entry point.
Nothing here imports napari or Qt; torch is imported inside the functions.
"""

from .fit import fit_phasefield
from .initialise import estimate_gain
from .model import derived_parameters, interface_width_from_field
from .result import PhaseFieldResult, PhaseFieldState

__all__ = ["PhaseFieldResult", "PhaseFieldState", "derived_parameters", "estimate_gain", "fit_phasefield",
           "interface_width_from_field"]
