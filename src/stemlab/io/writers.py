"""Writers that never leave half-written files: everything goes through ``atomic_write``.

``save_dataset(ds, path)`` picks the format from the extension (.npy, .npz, .tif/.tiff,
.zarr, .hspy/.h5/.hdf5) and stores the axis calibration where the format allows it, so
``stemlab.io.load`` reads it back. Large dask arrays are streamed chunk by chunk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..dataset import Dataset, as_dataset
from ..errors import FileFormatError
from .plain import CALIBRATION_KEY

WRITABLE = (".npy", ".npz", ".tif", ".tiff", ".zarr", ".hspy", ".h5", ".hdf5")


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error remove it.

    The temporary name keeps the extension (writers choose formats by it) and starts with
    a dot so file browsers hide it. Works for files and folders (zarr stores).
    """
    target = Path(path)
    if not target.parent.exists():
        raise FileFormatError(f"Cannot write {target}: folder {target.parent} does not exist; create it first.")
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise FileFormatError(f"Writing {target} produced no file.")
        _replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _replace(tmp: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        backup = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(target, backup)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(backup, target)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, target)


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def calibration_record(ds: Dataset) -> dict:
    """JSON-safe description of the axes, kind, name, voltage and scan geometry (what plain formats store)."""
    record = {
        "kind": ds.kind,
        "name": ds.name,
        "axes": [{"name": a.name, "size": a.size, "scale": a.scale, "offset": a.offset, "units": a.units,
                  "navigate": a.navigate} for a in ds.axes],
    }
    if ds.metadata.get("voltage_kv"):
        record["voltage_kv"] = float(ds.metadata["voltage_kv"])
    if ds.nav_axes or ds.scan_rotation_deg or ds.scan_flip:  # scans and the maps made from them
        record.update(ds.scan_geometry)
    return record


def save_dataset(ds: Dataset, path) -> Path:
    """Write ``ds`` to ``path`` (format from the extension) atomically; return the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    writer = {".npy": _write_npy, ".npz": _write_npz, ".tif": _write_tiff, ".tiff": _write_tiff,
              ".zarr": _write_zarr, ".hspy": _write_hspy, ".h5": _write_hspy, ".hdf5": _write_hspy}.get(suffix)
    if writer is None:
        raise FileFormatError(f"Cannot write {path.name}: choose one of {', '.join(WRITABLE)}.")
    with atomic_write(path) as tmp:
        writer(ds, tmp)
    return path


def _store(data, target) -> None:
    """Copy numpy or dask ``data`` into an array-like ``target`` chunk by chunk."""
    if type(data).__module__.startswith("dask"):
        import dask.array as da

        da.store(data, target, lock=True)
    else:
        target[...] = data


def _write_npy(ds: Dataset, tmp: Path) -> None:
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=ds.dtype, shape=ds.shape)
    try:
        _store(ds.data, out)
        out.flush()
    finally:
        del out


def _write_npz(ds: Dataset, tmp: Path) -> None:
    with open(tmp, "wb") as fh:  # a file object stops numpy appending another '.npz'
        np.savez(fh, data=np.asarray(ds.data), calibration=np.array(json.dumps(calibration_record(ds))))


def _write_tiff(ds: Dataset, tmp: Path) -> None:
    import tifffile

    data = np.asarray(ds.data)
    record = calibration_record(ds)
    resolution = (1.0 / ds.axes[-1].scale, 1.0 / ds.axes[-2].scale) if ds.ndim >= 2 else None
    imagej_axes = {2: "YX", 3: "TYX", 4: "TZYX"}.get(ds.ndim)  # a line (1D, e.g. of a line scan): plain TIFF
    if imagej_axes and data.dtype in (np.uint8, np.uint16, np.float32):
        metadata = {"axes": imagej_axes, "unit": ds.axes[-1].units or "pixel", "Info": json.dumps({CALIBRATION_KEY: record})}
        if ds.ndim == 3 and ds.axes[0].units == "s":
            metadata["finterval"] = ds.axes[0].scale
        tifffile.imwrite(tmp, data, imagej=True, resolution=resolution, metadata=metadata)
    else:
        tifffile.imwrite(tmp, data, resolution=resolution, metadata={CALIBRATION_KEY: record})


def _write_zarr(ds: Dataset, tmp: Path) -> None:
    import zarr

    from .chunks import nav_chunks

    chunks = nav_chunks(ds.shape, len(ds.nav_axes), ds.dtype.itemsize)
    group = zarr.open_group(str(tmp), mode="w")
    array = group.create_dataset("data", shape=ds.shape, dtype=ds.dtype, chunks=chunks)
    _store(ds.data, array)
    group.attrs[CALIBRATION_KEY] = calibration_record(ds)


def _write_hspy(ds: Dataset, tmp: Path) -> None:
    from rsciio.hspy import file_writer

    signal_type = "electron_diffraction" if ds.kind in ("4dstem", "diffraction") else ""
    signal = {
        "data": ds.data,
        "axes": [{"name": a.name, "size": a.size, "scale": a.scale, "offset": a.offset, "units": a.units,
                  "navigate": a.navigate} for a in ds.axes],
        "metadata": {"General": {"title": ds.name}, "Signal": {"signal_type": signal_type},
                     **({"Acquisition_instrument": {"TEM": {"beam_energy": ds.metadata["voltage_kv"]}}}
                        if ds.metadata.get("voltage_kv") else {})},
        "original_metadata": {"stemlab": ds.scan_geometry} if ds.nav_axes else {},
        "tmp_parameters": {},
        "attributes": {"_lazy": ds.is_lazy},
        "package_info": {"name": "stemlab", "version": _version()},
        "learning_results": {},
        "models": {},
    }
    file_writer(str(tmp), signal, show_progressbar=False)


def _version() -> str:
    from .. import __version__

    return __version__


def save_results(results: dict, output) -> Path:
    """Write named results (Datasets, arrays or scalars): one .npz (arrays + JSON 'calibration' per
    name, scalars as 0-d arrays), or, for any other path, a folder with one calibrated .tif per
    name and the scalars in ``values.json``."""
    output = Path(output)
    scalars = {name: np.asarray(v).item() for name, v in results.items()
               if not isinstance(v, Dataset) and np.ndim(v) == 0}
    items = {name: value if isinstance(value, Dataset) else as_dataset(np.asarray(value), name=name)
             for name, value in results.items() if name not in scalars}
    if output.suffix.lower() == ".npz":
        with atomic_write(output) as tmp, open(tmp, "wb") as fh:
            arrays = {name: np.asarray(ds.data) for name, ds in items.items()}
            calibration = {name: calibration_record(ds) for name, ds in items.items()}
            np.savez(fh, **arrays, **{k: np.array(v) for k, v in scalars.items()},
                     calibration=np.array(json.dumps(calibration)))
        return output
    output.mkdir(parents=True, exist_ok=True)
    for name, ds in items.items():
        save_dataset(ds, output / f"{name}.tif")
    if scalars:
        with atomic_write(output / "values.json") as tmp:
            tmp.write_text(json.dumps(scalars, indent=1))
    return output
