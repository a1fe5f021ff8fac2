"""Direct-beam centre per scan position and a robust linear descan fit.

Per pattern (in float32 sub-blocks): a 3x3 box blur gives a noise-robust maximum; pixels
above ``threshold * max`` define the bright disk; its intensity-above-threshold weighted
centroid is the coarse centre, then the centroid is recomputed ``iterations`` times
inside a circular window of ``window * radius`` (px) around the previous estimate, which
excludes Bragg disks and background far from the direct beam. The descan fit is a
Tukey-reweighted least-squares plane ``centre = origin + gradient @ scan_index``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..backend.progress import CancelToken, ProgressCallback
from ..backend.streaming import DEFAULT_BUDGET, stream_reduce
from ..errors import ParameterError
from .com import fit_plane



@dataclass
class BeamCentres:
    """Result of :func:`find_direct_beam`; all positions in detector px (row, col)."""

    centres: np.ndarray    # nav_shape + (2,): measured (cy, cx)
    origin: np.ndarray     # (2,): fitted (cy, cx) at scan index 0
    gradient: np.ndarray   # (2, nav_ndim): px of beam shift per scan pixel along each nav axis
    fitted: np.ndarray     # nav_shape + (2,): plane evaluated at every position
    residuals: np.ndarray  # nav_shape + (2,): centres - fitted
    radius: float          # median estimated direct-beam radius (px)

    @property
    def median(self) -> tuple[float, float]:
        """Median direct-beam position (row, col) in px over the scan: where detectors go."""
        cy, cx = np.nanmedian(self.centres.reshape(-1, 2), axis=0)
        return float(cy), float(cx)


class CentreKernel:
    """Picklable per-block function for :func:`stream_reduce`: ``(n, H, W) -> (n, 3)`` = cy, cx, r."""

    def __init__(self, threshold: float, radius: Optional[float], iterations: int, window: float):
        if not 0 < threshold < 1:
            raise ParameterError(f"threshold must be in (0, 1), got {threshold}.")
        self.threshold, self.radius, self.iterations, self.window = threshold, radius, iterations, window

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from .kernels import beam_centres

        out = np.empty((block.shape[0], 3), np.float64)
        beam_centres(np.ascontiguousarray(block), self.threshold, float(self.radius or 0.0), self.iterations,
                     self.window, out)
        return out


def find_direct_beam(data: Any, *, nav_ndim: int = 2, threshold: float = 0.5, radius: Optional[float] = None,
                     iterations: int = 3, window: float = 1.5, robust: bool = True,
                     memory_budget: float = DEFAULT_BUDGET, progress: Optional[ProgressCallback] = None,
                     cancel: Optional[CancelToken] = None, scheduler: Any = None) -> BeamCentres:
    """Direct-beam centre (sub-pixel, px) at every scan position plus a linear descan plane fit.

    ``data``: numpy/dask array ``nav_shape + (ky, kx)`` or a :class:`~stemlab.Dataset`.
    ``threshold``: fraction between the pattern's min and max (after 3x3 blur) that
    separates the direct beam; ``radius``: known disk radius (px) or ``None`` to estimate;
    ``window``: refinement window radius in units of the disk radius.
    """
    from ..dataset import Dataset

    if isinstance(data, Dataset):
        nav_ndim = len(data.nav_axes)
        data = data.data
    if data.ndim - nav_ndim != 2:
        raise ParameterError(f"find_direct_beam needs 2D patterns; shape {tuple(data.shape)}, nav_ndim={nav_ndim}.")
    res = stream_reduce(data, CentreKernel(threshold, radius, iterations, window), nav_ndim=nav_ndim,
                        memory_budget=memory_budget, progress=progress, cancel=cancel, scheduler=scheduler,
                        message="direct beam")
    centres = res[..., :2]
    origin, gradient, fitted = [], [], []
    for c in range(2):
        c0, a, f = fit_plane(centres[..., c], robust=robust)
        origin.append(c0), gradient.append(a), fitted.append(f)
    fitted_arr = np.stack(fitted, axis=-1)
    return BeamCentres(centres=np.ascontiguousarray(centres), origin=np.array(origin),
                       gradient=np.array(gradient), fitted=fitted_arr, residuals=centres - fitted_arr,
                       radius=float(np.median(res[..., 2])))
