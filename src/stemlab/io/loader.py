"""``load(path)``: any supported file -> list of calibrated, lazy Datasets.

The path is sniffed first (clear errors for missing/empty/mis-named files), read with
rosettasciio or the plain readers, given stemlab axis names and whole-frame dask chunks,
then the user's calibration is applied where the file lacks one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from ..errors import CalibrationError, FileFormatError, StemlabError
from .sniff import identify

_PLAIN = {"npy", "npz", "zarr", "tiff"}


def load(path, *, lazy: bool = True, scan_step=None, calibration=None, camera_length=None,
         detector_pixel=None, voltage=None, scan_rotation=None, scan_flip=None) -> list[Dataset]:
    """Read every usable signal of an instrument or plain file as calibrated Datasets.

    Parameters
    ----------
    path : str or pathlib.Path
        Any format :func:`stemlab.io.can_read` accepts: rosettasciio's instrument formats
        (.dm3/.dm4, .emd, .mib, .blo, .hspy, ...) and plain .npy, .npz, .zarr, .tif.
    lazy : bool
        Keep instrument data as dask arrays (read chunk by chunk); ``False`` reads into memory.
    scan_step : float or str, optional
        Probe step or image pixel size; a float is in nm, a string carries its unit ('2nm').
    calibration : float or str, optional
        Reciprocal size of one detector pixel; float in 1/angstrom, or e.g. '0.127 1/nm'.
    camera_length : float or str, optional
        Camera length (float in m), with ``detector_pixel``: gives ``calibration``.
    detector_pixel : float or str, optional
        Physical detector pixel size (float in m, or e.g. '55um').
    voltage : float or str, optional
        Accelerating voltage, kV (e.g. 200 or '200kV').
    scan_rotation : float or str, optional
        Scan rotation, degrees: the angle from the detector frame to the scan frame
        (:attr:`stemlab.Dataset.scan_rotation_deg`); replaces the file header's.
    scan_flip : bool, optional
        The detector image is mirrored relative to the scan.

    The calibration options fill in what the file lacks and override what it has
    (:func:`stemlab.calibration.apply_calibration`).

    Returns
    -------
    list of Dataset
        One Dataset per signal, navigation axes first, units on every axis.

    Examples
    --------
    >>> import stemlab
    >>> scan = stemlab.load("scan.mib", calibration="0.0127/angstrom")[0]  # doctest: +SKIP

    References
    ----------
    rosettasciio, the reader library of HyperSpy: https://hyperspy.org/rosettasciio
    """
    path = Path(path)
    fmt = identify(path)
    if fmt in _PLAIN:
        datasets = [_read_plain(path, fmt)]
    else:
        datasets = _read_instrument(path, fmt, lazy)
    options = dict(scan_step=scan_step, calibration=calibration, camera_length=camera_length,
                   detector_pixel=detector_pixel, voltage=voltage, scan_rotation=scan_rotation, scan_flip=scan_flip)
    if any(v is not None for v in options.values()):
        datasets = _apply_options(datasets, options, path)
    if not lazy:
        datasets = [_compute(ds, path) for ds in datasets]
    return datasets


def load_one(path, *, lazy: bool = True, scan_step=None, calibration=None, camera_length=None,
             detector_pixel=None, voltage=None, scan_rotation=None, scan_flip=None) -> Dataset:
    """The main signal of a file as one calibrated Dataset.

    Parameters
    ----------
    path, lazy, scan_step, calibration, camera_length, detector_pixel, voltage, scan_rotation, scan_flip
        As for :func:`load`.

    Returns
    -------
    Dataset
        The first 4D-STEM dataset, else by kind (video, stack, image, pattern, spectrum image,
        spectrum), a HAADF image first, then the largest.

    Examples
    --------
    >>> import stemlab
    >>> image = stemlab.load_one("haadf.emd", scan_step="0.02nm")  # doctest: +SKIP
    """
    datasets = load(path, lazy=lazy, scan_step=scan_step, calibration=calibration, camera_length=camera_length,
                    detector_pixel=detector_pixel, voltage=voltage, scan_rotation=scan_rotation, scan_flip=scan_flip)
    rank = {"4dstem": 6, "video": 5, "stack": 4, "image": 3, "diffraction": 2, "spectrum_image": 1}

    def key(item):
        i, ds = item
        return (rank.get(ds.kind, 0), "haadf" in ds.name.lower(), ds.data.size, -i)

    return max(enumerate(datasets), key=key)[1]


def describe(path, **load_kwargs) -> str:
    """Text summary of every signal in ``path`` (for ``stemlab info``): shape, dtype, axes, voltage.

    ``load_kwargs`` (scan_step, calibration, ...) are passed to :func:`load`.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        datasets = load(path, **load_kwargs)
    lines = [f"{path} ({identify(path)}): {len(datasets)} signal(s)"]
    for i, ds in enumerate(datasets):
        block = ds.describe().splitlines()
        lines.append(f"[{i}] " + block[0] + f", {ds.nbytes / 2**20:.3g} MiB")
        lines += block[1:]
        voltage = ds.metadata.get("voltage_kv")
        lines.append(f"  voltage  {voltage:g} kV" if voltage else "  voltage  unknown")
        for note in ds.metadata.get("notes", []):
            lines.append(f"  note: {note}")
    for warning in caught:
        text = str(warning.message)
        if not any(note in text for ds in datasets for note in ds.metadata.get("notes", [])):
            lines.append(f"warning: {text}")
    return "\n".join(lines)


def _read_plain(path: Path, fmt: str) -> Dataset:
    from . import plain

    return {"npy": plain.read_npy, "npz": plain.read_npz, "zarr": plain.read_zarr, "tiff": plain.read_tiff}[fmt](path)


def _read_instrument(path: Path, fmt: str, lazy: bool) -> list[Dataset]:
    from .chunks import rechunk_whole_frames
    from .convert import signal_to_dataset
    from .rsciio_reader import read_signals

    signals = read_signals(path, fmt, lazy=True)  # always lazy here; computed at the end if asked
    datasets, failures = [], []
    for i, signal in enumerate(signals):
        try:
            name = path.stem if len(signals) == 1 else f"{path.stem}[{i}]"
            ds = signal_to_dataset(signal, fmt=fmt, path=path, name=name)
        except StemlabError as error:
            failures.append(f"signal {i}: {error}")
            continue
        if not ds.is_lazy:
            import dask.array as da

            ds.data = da.from_array(ds.data, chunks=ds.data.shape)
        datasets.append(ds)
    if not datasets:
        raise FileFormatError(f"{path.name}: no signal could be loaded ({'; '.join(failures)}).")
    for ds in datasets:
        _check_complete(ds, path, fmt)  # before rechunking: the probe then reads one source chunk
        ds.data = rechunk_whole_frames(ds.data, len(ds.nav_axes))
    for failure in failures:
        warnings.warn(f"{path.name}: skipped {failure}", stacklevel=3)
    _unique_names(datasets)
    return datasets


def _check_complete(ds: Dataset, path: Path, fmt: str) -> None:
    """Catch truncated files now, not at the first compute: read the very last element.

    Memory-mapped readers (blockfile, mrc, ...) only fail when the missing bytes are
    touched; the last element costs one page or one storage chunk. Merlin files lose
    whole frames silently, so compare with the frame count in the .hdr header.
    """
    if fmt == "mib":
        expected = _mib_expected_frames(ds)
        found = int(np.prod(ds.nav_shape)) if ds.nav_shape else 1
        if expected and found < expected:
            raise FileFormatError(
                f"{path} is truncated: its header announces {expected} frames, the file holds {found}. "
                "Copy the file again (the acquisition may not have finished).")
    if ds.data.size == 0:
        raise FileFormatError(f"{path.name}: the signal {ds.name!r} is empty (shape {ds.shape}).")
    try:
        ds.data[(-1,) * ds.ndim].compute()
    except Exception as error:  # noqa: BLE001
        raise FileFormatError(
            f"{path} is truncated or damaged: its last data bytes cannot be read ({type(error).__name__}: "
            f"{error}). Copy or export the file again.") from None


def _mib_expected_frames(ds: Dataset) -> int | None:
    header = ds.metadata.get("original_metadata", {}).get("hdr_file", {}) or {}
    for key, value in header.items():
        if key.startswith("Frames in Acquisition"):
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


def _unique_names(datasets: list[Dataset]) -> None:
    seen: dict[str, int] = {}
    for ds in datasets:
        count = seen.get(ds.name, 0)
        seen[ds.name] = count + 1
        if count:
            ds.name = f"{ds.name} ({count + 1})"


def _apply_options(datasets: list[Dataset], options: dict, path: Path) -> list[Dataset]:
    """Apply user calibration to each dataset it fits; an option that fits none is an error."""
    from ..calibration import apply_calibration

    out = [apply_calibration(ds, **options, strict=False) for ds in datasets]
    used = {key for ds in out for key in ds.metadata.get("user_calibration", {})}
    if options["scan_step"] is not None and "scan_step" not in used:
        raise CalibrationError(f"scan_step: {path.name} has no scan or image axes to calibrate.")
    wants_k = options["calibration"] is not None or options["camera_length"] is not None
    if wants_k and "reciprocal_pixel" not in used:
        raise CalibrationError(f"calibration: {path.name} has no diffraction patterns (ky, kx axes) to calibrate.")
    geometry = options["scan_rotation"] is not None or options["scan_flip"] is not None
    if geometry and not ({"scan_rotation_deg", "scan_flip"} & used):
        raise CalibrationError(f"scan rotation/flip: {path.name} holds no scan (4D-STEM) to set them on.")
    return out


def _compute(ds: Dataset, path: Path) -> Dataset:
    if not ds.is_lazy:
        return ds
    try:
        ds.data = ds.data.compute()
    except Exception as error:  # noqa: BLE001 - damaged data surfaces only when read
        raise FileFormatError(
            f"Reading the data of {path} failed ({type(error).__name__}: {error}): the file is "
            "probably truncated or damaged; copy it again."
        ) from None
    return ds
