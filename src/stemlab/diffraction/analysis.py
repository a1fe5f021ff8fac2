"""The explorer's analyses on a Dataset, in one pass: the function the widget, CLI and demo share.

``explore(ds, detectors)`` returns calibrated Datasets: one image per detector, the centre
of mass (relative to the direct beam), DPC magnitude and angle, the integrated phase and
the mean and max pattern.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from ..backend.progress import CancelToken, ProgressCallback
from ..dataset import Dataset
from .com import com_results
from .virtual import virtual_images

# Result names as the user sees them (layer names, .npz keys).
COM_NAMES = {"shift_y": "CoM y", "shift_x": "CoM x", "magnitude": "CoM magnitude", "angle": "DPC angle",
             "phase": "iDPC phase"}


def explore(ds: Dataset, detectors: dict, *, centre: Any = None, scheduler: Any = None,
            progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Detector images, CoM / DPC / iDPC and mean / max pattern of a 4D-STEM Dataset, one pass.

    ``detectors``: ``{name: Disk | Annulus | Rectangle}`` in detector pixels. ``centre``: a
    :class:`~stemlab.diffraction.BeamCentres` from ``find_direct_beam``; the centre of mass
    is then measured from the fitted descan at each position (else from its mean).
    Returns ``{name: Dataset}``; value units are in ``metadata['units']``.
    """
    raw = virtual_images(ds, detectors, com=True, patterns=True, scheduler=scheduler,
                         progress=progress, cancel=cancel)
    nav_axes = tuple(replace(a, navigate=False) for a in ds.nav_axes)
    kind = "image" if len(nav_axes) == 2 else "stack"
    results = {name: ds.with_data(raw[name], axes=nav_axes, kind=kind, name=name, units="counts")
               for name in detectors}
    reference = None
    if centre is not None:
        reference = (centre.fitted[..., 0], centre.fitted[..., 1])
    com = com_results(ds, raw["com_y"], raw["com_x"], reference=reference)
    for key, name in COM_NAMES.items():
        if key in com:
            results[name] = replace(com[key], name=name)
    if "shift_y" not in com:  # uncalibrated detector: CoM in pixels only
        results["CoM y"] = replace(com["com_y"], name="CoM y")
        results["CoM x"] = replace(com["com_x"], name="CoM x")
    for key, name in (("mean_pattern", "mean pattern"), ("max_pattern", "max pattern")):
        results[name] = ds.with_data(raw[key], axes=ds.sig_axes[-2:], kind="diffraction", name=name,
                                     units="counts")
    return results
