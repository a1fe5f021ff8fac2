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


class ExploreResult(dict):
    """``{name: Dataset}`` of :func:`explore`, with the result protocol (:mod:`stemlab.results`)."""

    def datasets(self) -> dict[str, Dataset]:
        """The images and patterns by name (a plain dict)."""
        return dict(self)

    def save(self, path):
        """One ``.npz`` with every image and its calibration, or a folder of calibrated ``.tif``;
        atomic."""
        from ..results import save_datasets

        return save_datasets(self.datasets(), path)

    def summary(self) -> str:
        """The names of the images and patterns, in one line."""
        return ", ".join(self)


def explore(ds: Dataset, detectors: dict, *, centre: Any = None, dpc_rotation: Any = None, dpc_flip: Any = None,
            scheduler: Any = None, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> ExploreResult:
    """Virtual detector images, centre of mass, DPC, iDPC and the mean and max pattern of a
    4D-STEM Dataset, all in one pass over the data.

    Parameters
    ----------
    ds : Dataset
        4D-STEM scan (navigation axes first, detector axes ky, kx; calibrated detector axes
        give CoM/DPC in 1/angstrom, else in detector pixels).
    detectors : dict
        ``{name: Disk | Annulus | Rectangle}`` in detector pixels (row, col) -
        :mod:`stemlab.diffraction.detectors`.
    centre : BeamCentres, optional
        From :func:`stemlab.diffraction.find_direct_beam`: the centre of mass is then measured
        from the fitted descan at each position (else from its mean).
    dpc_rotation : float or 'auto', optional
        Rotation (degrees) that turns the detector-frame CoM into the scan frame before DPC and
        iDPC; 'auto' finds it by minimising the curl of the CoM field
        (:func:`stemlab.diffraction.find_dpc_rotation`); None uses the dataset's scan rotation.
    dpc_flip : bool or 'auto', optional
        The detector is mirrored relative to the scan. The DPC Datasets record what was used in
        ``metadata['dpc_rotation_deg']`` and ``metadata['dpc_flip']``.
    scheduler : str or dask.distributed.Client, optional
        A dask.distributed scheduler address (e.g. 'tcp://host:8786') to run on; None: local threads.
    progress : callable, optional
        ``progress(done, total, message)``.
    cancel : CancelToken, optional
        Checked between batches; raises :class:`stemlab.errors.Cancelled`.

    Returns
    -------
    ExploreResult
        A ``{name: Dataset}`` dict (one image per detector, 'CoM y', 'CoM x', 'CoM magnitude',
        'DPC angle', 'iDPC phase', 'mean pattern', 'max pattern') on the scan's axes, value
        units in ``metadata['units']``, with the result protocol (:mod:`stemlab.results`).

    Examples
    --------
    >>> import stemlab
    >>> from stemlab.diffraction import Annulus, Disk
    >>> scan = stemlab.sample_4dstem()  # doctest: +SKIP
    >>> images = stemlab.explore(scan, {"BF": Disk(64, 64, 6), "ADF": Annulus(64, 64, 16, 60)})  # doctest: +SKIP

    References
    ----------
    Lazic, Bosch & Lazar, Ultramicroscopy 160 (2016) 265 (iDPC: integrating the centre of mass).
    """
    raw = virtual_images(ds, detectors, com=True, patterns=True, scheduler=scheduler,
                         progress=progress, cancel=cancel)
    return explore_results(ds, detectors, raw, centre=centre, dpc_rotation=dpc_rotation, dpc_flip=dpc_flip)


def explore_results(ds: Dataset, detectors: dict, raw: dict, *, centre: Any = None, dpc_rotation: Any = None,
                    dpc_flip: Any = None) -> ExploreResult:
    """The calibrated :class:`ExploreResult` of :func:`explore` from the raw arrays of
    :func:`stemlab.diffraction.virtual_images` (one per detector name, 'com_y', 'com_x' in detector
    pixels, 'mean_pattern', 'max_pattern'): what a live session that accumulated them itself
    (:mod:`stemlab.live`) shares with :func:`explore`."""
    nav_axes = tuple(replace(a, navigate=False) for a in ds.nav_axes)
    kind = "image" if len(nav_axes) == 2 else "stack"
    results = ExploreResult({name: ds.with_data(raw[name], axes=nav_axes, kind=kind, name=name, units="counts")
                             for name in detectors})
    reference = None
    if centre is not None:
        reference = (centre.fitted[..., 0], centre.fitted[..., 1])
    com = com_results(ds, raw["com_y"], raw["com_x"], reference=reference, rotation=dpc_rotation, flip=dpc_flip)
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
