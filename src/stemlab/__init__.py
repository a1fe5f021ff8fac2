"""napari-stemlab: 4D-STEM and atomic-resolution STEM analysis for napari, Python and the shell."""

from .dataset import Axis, Dataset
from .errors import StemlabError

__version__ = "0.1.0"

__all__ = ["Axis", "Dataset", "StemlabError", "__version__"]
