"""Phase and crystal orientation mapping of 4D-STEM / nano-beam diffraction by template matching.

``index_orientations(dataset, ['Al', 'alpha-Fe'])`` -> :class:`OrientationResult` (maps,
IPF colours, orix CrystalMap, .h5/.ang export). See docs/orientation.md.
"""

from ..crystal.phase import Phase, read_cif, resolve_phase, shipped_cifs
from .library import TemplateLibrary, build_library
from .matching import Matcher, MatchSettings
from .pipeline import index_orientations
from .results import OrientationResult

__all__ = ["Matcher", "MatchSettings", "OrientationResult", "Phase", "TemplateLibrary", "build_library",
           "index_orientations", "read_cif", "resolve_phase", "shipped_cifs"]
