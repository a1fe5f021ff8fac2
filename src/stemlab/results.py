"""The one result protocol every analysis follows, so the widgets, the CLI and the demo treat
every analysis alike.

An analysis result has

``datasets() -> dict[str, Dataset]``
    its maps and images as calibrated :class:`~stemlab.dataset.Dataset` objects (name -> map);
``save(path) -> pathlib.Path``
    written atomically (a failed write leaves nothing), every axis unit and offset kept;
``summary() -> str``
    one line for a person: what was found, in the interface's words.

:func:`save_datasets` is the shared writer for results without a format of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from .dataset import Dataset


@runtime_checkable
class AnalysisResult(Protocol):
    """What :func:`stemlab.index_orientations`, :func:`stemlab.segment`, :func:`stemlab.classify`,
    :func:`stemlab.fit_phasefield` and :func:`stemlab.explore` return."""

    def datasets(self) -> dict[str, Dataset]:
        """The result's maps as calibrated Datasets."""

    def save(self, path) -> Path:
        """Write the result atomically, units and offsets kept; returns the path."""

    def summary(self) -> str:
        """One line for a person."""


def save_datasets(datasets: dict[str, Dataset], path) -> Path:
    """Write named Datasets atomically: one ``.npz`` (arrays + a JSON calibration record per name:
    axis names, scales, offsets, units), or for any other path a folder of calibrated ``.tif``."""
    from .io.writers import save_results

    return save_results(datasets, path)
