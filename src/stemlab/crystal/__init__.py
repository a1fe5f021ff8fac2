"""The physics of crystals: phases and CIF reading, scattering and structure factors,
reflections and kinematic spots, rotations and beam-direction sampling.

Modules: ``phase`` (:class:`Phase` on orix's ``Phase``/``Symmetry``, CIF reading, the shipped
phases), ``structure`` (lattice, sites, structure factors), ``scattering`` (electron atomic
scattering factors), ``reflections`` (reflection lists, excitation errors, spot patterns),
``rotations`` (crystal->lab rotation matrices, quaternions, zone axes), ``directions`` (beam
directions over the fundamental sector). Conventions: docs/simulation.md. Nothing here imports
napari, Qt or torch at import time; orix and diffpy are imported inside the functions.
"""

from .phase import Phase, read_cif, resolve_phase, shipped_cifs
from .structure import Site, Structure

__all__ = ["Phase", "Site", "Structure", "read_cif", "resolve_phase", "shipped_cifs"]
