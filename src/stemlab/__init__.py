"""napari-stemlab: 4D-STEM and atomic-resolution STEM analysis for napari, Python and the shell."""

from .dataset import Axis, Dataset
from .errors import StemlabError

__version__ = "0.1.0"

__all__ = ["Axis", "Dataset", "StemlabError", "__version__", "strain"]


def __getattr__(name):
    """Lazy flat API: ``stemlab.strain(dataset, ...)`` imports the strain package (callable) on first use."""
    if name == "strain":
        from importlib import import_module

        return import_module(".strain", __name__)
    raise AttributeError(f"module 'stemlab' has no attribute {name!r}")
