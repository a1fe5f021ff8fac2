"""``strain(dataset, ...)``: Bragg disks -> lattice per pattern -> strain and rotation maps.

Steps: (1) the mean pattern (one streamed pass) gives the direct beam's position and, unless a
probe is given, the probe template; (2) disks are detected in every pattern (streamed over
navigation chunks, batched in torch on the CPU or a GPU, on a dask cluster with ``scheduler``);
(3) the Bragg-vector map of the reference region gives the automatic basis; (4) each pattern's
lattice is fitted by weighted least squares; (5) the elliptical distortion is measured and
corrected; (6) strain and rotation relative to the median lattice of the reference region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..backend.progress import CancelToken, ProgressCallback, check, steps
from ..backend.streaming import DEFAULT_BUDGET, stream_reduce
from ..dataset import Dataset
from ..errors import ParameterError
from . import disks as dk
from . import ellipse as el
from . import lattice as lt
from . import maps as mp
from .result import StrainResult

ELLIPSE = (None, "bragg", "ring")


def _check_dataset(dataset: Dataset):
    if not isinstance(dataset, Dataset):
        raise ParameterError(f"strain() needs a stemlab Dataset (stemlab.load), got {type(dataset).__name__}.")
    nav, sig = dataset.nav_axes, dataset.sig_axes
    if len(sig) != 2 or len(nav) < 1 or dataset.axes[:len(nav)] != nav:
        raise ParameterError(f"{dataset.name or 'the dataset'} has shape {dataset.shape} ({dataset.kind}): strain "
                             "mapping needs a 4D-STEM scan (scan axes first, then the 2D patterns).")
    if min(dataset.sig_shape) < 16:
        raise ParameterError(f"Patterns of {dataset.sig_shape[0]} x {dataset.sig_shape[1]} pixels are too small to "
                             "find Bragg disks (at least 16 x 16).")
    return len(nav)


def mean_pattern(dataset: Dataset, *, memory_budget=DEFAULT_BUDGET, scheduler=None, progress=None, cancel=None):
    """The mean diffraction pattern of a scan (float64), in one streamed pass."""
    nav_ndim = len(dataset.nav_axes)
    total = stream_reduce(dataset.data, _block_sum, nav_ndim=nav_ndim, reduce={"sum": "sum"},
                          memory_budget=memory_budget, scheduler=scheduler, progress=progress, cancel=cancel,
                          message="mean pattern")["sum"]
    return total / max(1, int(np.prod(dataset.nav_shape)))


def _block_sum(block):
    return {"sum": block.sum(axis=0, dtype=np.float64)}


def make_probe(dataset: Dataset, probe: Any, mean: np.ndarray, disk_radius: Optional[float], vacuum=None):
    """(probe image, radius px) for ``probe`` = 'auto' | 'mean' | 'vacuum' | 'synthetic' | a 2D array."""
    if isinstance(probe, str):
        kind = probe.lower()
        if kind not in dk.PROBES:
            raise ParameterError(f"probe={probe!r}: use 'auto', 'mean', 'vacuum', 'synthetic' or a 2D array.")
        if kind == "auto":
            kind = "vacuum" if vacuum is not None else "mean"
        if kind == "vacuum":
            if vacuum is None:
                raise ParameterError("probe='vacuum' needs the vacuum region: vacuum=(y0, y1, x0, x1) scan indices.")
            region = mp.region_mask(vacuum, dataset.nav_shape)
            picked = dataset.data.reshape((-1,) + dataset.sig_shape)[np.flatnonzero(region)]
            return dk.probe_from_pattern(np.asarray(picked, dtype=np.float64).mean(axis=0), disk_radius)
        if kind == "mean":
            return dk.probe_from_pattern(mean, disk_radius)
        radius = disk_radius if disk_radius is not None else dk.probe_from_pattern(mean)[1]
        return dk.synthetic_probe(radius, dataset.sig_shape), float(radius)
    image = np.asarray(probe, dtype=np.float64)
    if image.ndim != 2:
        raise ParameterError(f"The probe template must be one 2D pattern, got shape {image.shape}.")
    radius = disk_radius if disk_radius is not None else dk.disk_centre_radius(image)[2]
    return image, float(radius)


@dataclass
class BraggVectors:
    """Disks of every pattern, the Bragg-vector map of a region and its automatic basis.

    Attributes
    ----------
    bvm : (ky, kx) map of disk positions relative to each pattern's direct beam, weighted by
        correlation; the zero vector at pixel ``(ky // 2, kx // 2)``.
    peaks : (n, 3) peaks of ``bvm`` as vectors (x, y) detector pixels from the direct beam and weight,
        strongest first.
    basis : 2 x 2 automatic basis (columns g1, g2 as (x, y) pixels), or None when not asked for.
    disks : (scan..., m, 3) detected disks (x, y, correlation); ``flat_disks`` the same, (n, m, 3);
        ``origin`` (n, 2) each pattern's direct beam (x, y).
    mean : the mean pattern; ``radius`` the probe disk radius (px); ``direct_beam`` (x, y) on the mean.
    reference : boolean mask of the scan positions summed into ``bvm``; ``k_axes`` the detector's axes.
    """

    bvm: np.ndarray
    peaks: np.ndarray
    basis: Optional[np.ndarray]
    disks: np.ndarray
    flat_disks: np.ndarray
    origin: np.ndarray
    mean: np.ndarray
    radius: float
    direct_beam: tuple
    reference: np.ndarray
    k_axes: tuple

    def datasets(self) -> dict[str, Dataset]:
        """The Bragg-vector map on the detector's calibrated axes (weights: correlation counts)."""
        return {"bvm": Dataset(self.bvm.astype(np.float32), self.k_axes, kind="image", name="Bragg-vector map",
                               metadata={"value_units": "", "zero_vector_px": [self.bvm.shape[0] // 2,
                                                                               self.bvm.shape[1] // 2]})}

    def summary(self) -> str:
        """Peaks found and the automatic basis."""
        text = f"Bragg-vector map of {int(self.reference.sum())} patterns: {len(self.peaks)} peaks"
        if self.basis is None:
            return text
        g1, g2 = self.basis[:, 0], self.basis[:, 1]
        return f"{text}; automatic basis g1 = ({g1[0]:.2f}, {g1[1]:.2f}) px, g2 = ({g2[0]:.2f}, {g2[1]:.2f}) px"

    def save(self, path) -> Path:
        """Write ``.npz`` (bvm, peaks, basis, reference) atomically."""
        from ..io.writers import atomic_write

        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise ParameterError(f"Cannot write {path}: a Bragg-vector map is saved as .npz; name it OUT.npz.")
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, bvm=self.bvm, peaks=self.peaks, reference=self.reference,
                                    **({} if self.basis is None else {"basis": self.basis}))
        return path


def bragg_vectors(dataset: Dataset, *, probe: Any = "auto", disk_radius: Optional[float] = None, vacuum=None,
                  correlation_power: float = 1.0, min_relative_intensity: float = 0.005, min_intensity: float = 0.0,
                  min_spacing: Optional[float] = None, edge: Optional[float] = None, max_disks: int = 60,
                  upsample: int = 8, reference=None, automatic: bool = True, device: Any = "auto",
                  memory_budget: float = DEFAULT_BUDGET,
                  scheduler: Any = None, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> BraggVectors:
    """Bragg disks of every pattern and the Bragg-vector map of ``reference`` with its automatic basis.

    Steps (1)-(3) of :func:`strain`, with the same parameters (see there); ``reference`` is the
    region summed into the map (``None``: the whole scan); ``automatic=False`` skips the automatic
    basis (``.basis`` is then None).

    Returns
    -------
    BraggVectors
        ``.bvm``, ``.peaks``, ``.basis`` (columns g1, g2 as (x, y) detector pixels), ``.datasets()``.
    """
    nav_ndim = _check_dataset(dataset)
    sig_shape = dataset.sig_shape
    ref_mask = mp.region_mask(reference, dataset.nav_shape)
    sub = steps(progress, {"mean": 1, "disks": 10})
    mean = mean_pattern(dataset, memory_budget=memory_budget, scheduler=scheduler, progress=sub["mean"],
                        cancel=cancel)
    probe_img, radius = make_probe(dataset, probe, mean, disk_radius, vacuum)
    cx, cy, _ = dk.disk_centre_radius(dk.probe_from_pattern(mean, radius)[0])
    spacing = float(min_spacing) if min_spacing is not None else max(3.0, radius)
    detector = dk.DiskDetector(dk.template_spectrum(probe_img, sig_shape), sig_shape,
                               correlation_power=correlation_power, min_relative_intensity=min_relative_intensity,
                               min_intensity=min_intensity, min_spacing=spacing,
                               edge=float(edge) if edge is not None else radius, max_disks=max_disks,
                               upsample=upsample, device=device)
    found = stream_reduce(dataset.data, detector, nav_ndim=nav_ndim, memory_budget=memory_budget,
                          scheduler=scheduler, progress=sub["disks"], cancel=cancel, threads=1,
                          message="Bragg disks")["disks"]
    check(cancel)
    flat = found.reshape((-1,) + found.shape[nav_ndim:])
    origin = lt.origins(flat, (cx, cy))
    ref_flat = ref_mask.reshape(-1)
    bvm = lt.bragg_vector_map(flat[ref_flat], origin[ref_flat], sig_shape)
    peaks = lt.bvm_peaks(bvm, spacing)
    return BraggVectors(bvm=bvm, peaks=peaks, basis=lt.automatic_basis(peaks, radius) if automatic else None, disks=found, flat_disks=flat,
                        origin=origin, mean=mean, radius=float(radius), direct_beam=(float(cx), float(cy)),
                        reference=ref_mask, k_axes=tuple(dataset.sig_axes))


def strain(dataset: Dataset, *, probe: Any = "auto", disk_radius: Optional[float] = None, vacuum=None,
           correlation_power: float = 1.0, min_relative_intensity: float = 0.005, min_intensity: float = 0.0,
           min_spacing: Optional[float] = None, edge: Optional[float] = None, max_disks: int = 60,
           upsample: int = 8, basis=None, basis_vectors=None, reference=None, min_disks: int = 5,
           ellipse: Any = None, ring: Optional[tuple] = None, frame: str = "detector", direction_deg: float = 0.0,
           scan_rotation_deg: Optional[float] = None, device: Any = "auto", memory_budget: float = DEFAULT_BUDGET,
           scheduler: Any = None, progress: Optional[ProgressCallback] = None,
           cancel: Optional[CancelToken] = None) -> StrainResult:
    """Strain and rotation maps of a 4D-STEM scan from its Bragg disks.

    Parameters
    ----------
    dataset : a 4D-STEM :class:`stemlab.dataset.Dataset` (scan axes, then ky, kx).
    probe : template: ``'auto'`` (``'vacuum'`` when ``vacuum`` is given, else ``'mean'``), ``'mean'``
        (the mean direct beam of the scan), ``'vacuum'`` (mean pattern of ``vacuum``), ``'synthetic'``
        (a disk of ``disk_radius``, measured on the mean pattern when not given) or a 2D image.
    disk_radius : probe disk radius, detector pixels (default: measured).
    vacuum : (y0, y1, x0, x1) scan indices of a region without sample.
    correlation_power : 1 cross-correlation, 0 phase correlation (sharper maxima, more noise).
    min_relative_intensity, min_intensity : drop disks weaker than this fraction of a pattern's
        strongest / below this correlation (counts).
    min_spacing : pixels between two disks (default: the disk radius).
    edge : disks closer to the detector border are dropped, pixels (default: the disk radius).
    max_disks : at most this many disks per pattern, strongest first.
    upsample : sub-pixel refinement factor.
    basis : ``((h1, k1), (h2, k2))``: the basis reflections as indices on the automatic basis
        (default: the automatic, reduced basis). ``basis_vectors``: a 2 x 2 array (columns g1, g2 as
        (x, y) detector pixels from the direct beam) instead, e.g. picked on the Bragg-vector map.
    reference : the unstrained reference region: ``(y0, y1, x0, x1)`` scan indices, two slices, a
        boolean mask of the scan, or ``None`` (the whole scan).
    min_disks : patterns with fewer indexed disks (direct beam included) are masked.
    ellipse : elliptical distortion correction: ``None``, ``'bragg'`` (from the reference lattice,
        whose shells of equal |g| must be symmetry-equivalent), ``'ring'`` (an amorphous ring of the
        mean pattern between ``ring = (r_min, r_max)`` pixels) or a 2 x 2 correction matrix.
    frame : ``'detector'`` (x = detector columns) or ``'scan'`` (x along the scan's x axis turned by
        ``direction_deg`` degrees towards its y axis).
    scan_rotation_deg : angle of the scan x axis on the detector, degrees (default: the dataset's
        ``metadata['scan_rotation_deg']`` or 0).
    device : ``'auto' | 'cpu' | 'cuda'``; memory_budget : bytes of patterns in flight;
        scheduler : ``None`` (local threads) or a dask.distributed address / Client.
    progress, cancel : ``progress(done, total, message)``; a :class:`CancelToken`.

    Returns
    -------
    StrainResult
        exx, eyy, exy (fractions), theta (degrees), error (px), n_disks and mask on the scan's
        axes; ``.datasets()`` (strain in %), ``.save(path)`` (.npz), ``.summary()``.

    Examples
    --------
    >>> import stemlab
    >>> scan = stemlab.load_one("scan.mib", calibration="0.0127/angstrom")  # doctest: +SKIP
    >>> result = stemlab.strain(scan, reference=(0, 16, 0, 64))  # doctest: +SKIP
    >>> result.save("strain.npz")  # doctest: +SKIP

    References
    ----------
    Pekin et al., Ultramicroscopy 176 (2017) 170 (4D-STEM strain by Bragg-disk cross-correlation);
    Savitzky et al., Microsc. Microanal. 27 (2021) 712 (py4DSTEM); docs/strain.md.
    """
    _check_dataset(dataset)
    if ellipse is not None and not isinstance(ellipse, (str, np.ndarray, list, tuple)):
        raise ParameterError(f"ellipse={ellipse!r}: use None, 'bragg', 'ring' or a 2 x 2 matrix.")
    if isinstance(ellipse, str) and ellipse not in ELLIPSE:
        raise ParameterError(f"ellipse={ellipse!r}: use None, 'bragg', 'ring' or a 2 x 2 matrix.")
    if ellipse == "ring" and ring is None:
        raise ParameterError("ellipse='ring' needs ring=(r_min, r_max), the amorphous ring's radius range in pixels.")
    if int(min_disks) < 3:
        raise ParameterError(f"min_disks={min_disks}: a lattice fit needs at least 3 disks.")
    nav_shape = dataset.nav_shape
    ref_mask = mp.region_mask(reference, nav_shape)
    angle = mp.frame_rotation(frame, dataset.metadata.get("scan_rotation_deg", 0.0)
                              if scan_rotation_deg is None else scan_rotation_deg, direction_deg)
    sub = steps(progress, {"bvm": 11, "fit": 1})
    vectors = bragg_vectors(dataset, probe=probe, disk_radius=disk_radius, vacuum=vacuum,
                            correlation_power=correlation_power, min_relative_intensity=min_relative_intensity,
                            min_intensity=min_intensity, min_spacing=min_spacing, edge=edge, max_disks=max_disks,
                            upsample=upsample, reference=ref_mask, automatic=basis_vectors is None, device=device, memory_budget=memory_budget,
                            scheduler=scheduler, progress=sub["bvm"], cancel=cancel)
    found, flat, origin, mean, radius = vectors.disks, vectors.flat_disks, vectors.origin, vectors.mean, vectors.radius
    cx, cy = vectors.direct_beam
    if basis_vectors is not None:
        start = lt.check_basis(basis_vectors)
    else:
        start = vectors.basis
        if basis is not None:
            start = lt.basis_from_indices(start, basis)
    fit = lt.fit_lattices(flat, origin, start, min_disks=min_disks)
    report = sub["fit"]
    if report is not None:
        report(1, 2, "lattice fits")
    ok = fit["ok"].reshape(nav_shape)
    lattice = fit["lattice"].reshape(nav_shape + (2, 2))
    raw_ref = mp.reference_lattice(lattice, ok, ref_mask)
    if ellipse is None:
        correction = np.eye(2)
    elif isinstance(ellipse, str) and ellipse == "bragg":
        correction = el.from_lattice(raw_ref)
    elif isinstance(ellipse, str):
        correction = el.from_ring(mean, (cx, cy), *ring)
    else:
        correction = np.asarray(ellipse, dtype=float)
        if correction.shape != (2, 2) or abs(np.linalg.det(correction)) < 1e-6:
            raise ParameterError(f"ellipse matrix {ellipse!r}: give an invertible 2 x 2 correction matrix.")
    lattice = correction @ lattice
    ref = mp.reference_lattice(lattice, ok, ref_mask)
    comps = mp.strain_components(lattice, ref, angle)
    maps = {key: np.where(ok, value, np.nan) for key, value in comps.items()}
    maps.update(error=fit["error"].reshape(nav_shape), n_disks=fit["n_disks"].reshape(nav_shape), mask=~ok)
    if report is not None:
        report(2, 2, "lattice fits")
    frame_text = "detector (x = columns, y = rows)" if frame == "detector" else \
        f"scan: x at {angle:.2f} deg from detector x (scan rotation + direction {direction_deg:g} deg)"
    settings = {"probe": probe if isinstance(probe, str) else "array", "disk_radius_px": radius,
                "correlation_power": float(correlation_power), "min_disks": int(min_disks),
                "ellipse": ellipse if isinstance(ellipse, (str, type(None))) else "matrix", "direct_beam": [cx, cy]}
    return StrainResult(maps=maps, lattice=lattice, basis=ref, correction=correction, reference=ref_mask,
                        scan_axes=tuple(dataset.nav_axes), k_axes=tuple(dataset.sig_axes), frame=frame_text,
                        frame_angle=angle, basis_indices=None if basis is None else np.asarray(basis),
                        disks=found, settings=settings)
