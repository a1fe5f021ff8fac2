"""Strain mapping from 4D-STEM: Bragg disks, elliptical distortion, lattice fits and strain maps.

:func:`strain` (also ``stemlab.strain`` in the flat API) returns a :class:`StrainResult`
(``.datasets()``, ``.save(path)``, ``.summary()``). Modules: ``disks`` (probe templates and disk
detection), ``ellipse`` (detector distortion), ``lattice`` (basis choice and per-pattern fits),
``maps`` (reference lattice, strain and rotation), ``result``. torch is imported inside functions.
The package is named ``strainmap`` so that the flat API name ``stemlab.strain`` stays the function.
"""

from .pipeline import BraggVectors, bragg_vectors, strain
from .result import StrainResult

__all__ = ["BraggVectors", "StrainResult", "bragg_vectors", "strain"]
