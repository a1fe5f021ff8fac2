"""Strain mapping from 4D-STEM: Bragg disks, elliptical distortion, lattice fits and strain maps.

``stemlab.strain(dataset, ...)`` (the same as :func:`stemlab.strain.pipeline.strain`: this package
is callable, so the flat API name and the package name agree) returns a :class:`StrainResult`
(``.datasets()``, ``.save(path)``, ``.summary()``). Modules: ``disks`` (probe templates and disk
detection), ``ellipse`` (detector distortion), ``lattice`` (basis choice and per-pattern fits),
``maps`` (reference lattice, strain and rotation), ``result``. torch is imported inside functions.
"""

import sys
import types

from .pipeline import strain
from .result import StrainResult

__all__ = ["StrainResult", "strain"]


class _CallablePackage(types.ModuleType):
    """Lets ``stemlab.strain(dataset, ...)`` call :func:`strain` although ``stemlab.strain`` is a package."""

    def __call__(self, *args, **kwargs):
        return strain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
