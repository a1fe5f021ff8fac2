"""Symmetry-descriptor segmentation of atomic-resolution images and videos.

Training-free and without finding atomic columns: each pixel is described by the Pearson
correlation of its neighbourhood with its image under translations, rotations and mirrors
(Wang, Freysoldt, Zhang, Liebscher & Neugebauer, Microsc. Microanal. 27 (2021) 1454), then
PCA and clustering group pixels of equal local symmetry. See docs/segmentation.md.
"""

from .descriptors import reference_descriptors, symmetry_descriptors
from .lattice import lattice_spacing_px
from .operations import FAMILIES, OperationSet, make_operations
from .segment import SegmentationResult, SymmetryModel, fit_model, match_accuracy, segment

__all__ = ["FAMILIES", "OperationSet", "SegmentationResult", "SymmetryModel", "fit_model", "lattice_spacing_px",
           "make_operations", "match_accuracy", "reference_descriptors", "segment", "symmetry_descriptors"]
