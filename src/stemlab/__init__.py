"""napari-stemlab: 4D-STEM and atomic-resolution STEM analysis for napari, Python and the shell.

The flat API (scikit-image style): every name below is the real function or class of its
module, imported on first use, so ``import stemlab`` stays fast and ``help(stemlab.segment)``
shows the real signature and docstring.

=========================  ==========================================================
``load``, ``load_one``     read instrument and plain files as calibrated Datasets
``explore``                virtual detectors, CoM / DPC / iDPC, mean / max pattern
``find_direct_beam``       direct-beam centre per scan position and descan fit
``index_orientations``     phase and orientation map of 4D-STEM by template matching
``segment``                symmetry-descriptor segmentation of images and videos
``classify``               Bayesian-CNN crystal structure + zone axis per window
``fit_phasefield``         physics-informed phase-field fit of a HAADF video
``strain``                 strain and rotation maps from the Bragg disks of 4D-STEM
``read_cif``, ``Phase``    crystal phases (:mod:`stemlab.crystal`)
``sample_4dstem``, ...     deterministic sample datasets with ground truth
``Dataset``, ``Axis``      the one data type, with calibrated axes
``AnalysisResult``         the result protocol: ``.datasets()``, ``.save(path)``, ``.summary()``
``StemlabError``           base class of every error a user can cause
=========================  ==========================================================

See docs/api.md (generated from these docstrings by docs/make_api.py).
"""

from .dataset import Axis, Dataset
from .errors import StemlabError

__version__ = "0.1.0"

# name -> module that defines it; resolved by __getattr__ on first use
_LAZY = {
    "load": "stemlab.io.loader",
    "load_one": "stemlab.io.loader",
    "explore": "stemlab.diffraction.analysis",
    "find_direct_beam": "stemlab.diffraction.centre",
    "index_orientations": "stemlab.orientation.pipeline",
    "segment": "stemlab.symmetry.segment",
    "classify": "stemlab.classifier.inference",
    "fit_phasefield": "stemlab.phasefield",
    "strain": "stemlab.strainmap.pipeline",
    "read_cif": "stemlab.crystal.phase",
    "Phase": "stemlab.crystal.phase",
    "sample_4dstem": "stemlab.samples",
    "sample_haadf": "stemlab.samples",
    "sample_video": "stemlab.samples",
    "AnalysisResult": "stemlab.results",
}

__all__ = ["Axis", "Dataset", "StemlabError", "__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stemlab' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
