"""Plain array containers: .npy (memory-mapped), .npz, .zarr and .tif, read lazily with dask.

These files carry no instrument metadata; axes get stemlab's default names for their
number of dimensions, and calibration that stemlab's own writers stored (zarr attrs,
npz ``calibration`` JSON, TIFF ImageJ tags) is read back.
"""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import numpy as np

from ..dataset import Axis, Dataset, default_layout
from ..errors import FileFormatError
from .chunks import nav_chunks

CALIBRATION_KEY = "stemlab"


def dataset_from_array(data, path: Path, fmt: str, calibration: dict | None = None) -> Dataset:
    """Wrap an array in a Dataset using stored stemlab calibration, else default names."""
    kind, names, navigate = default_layout(data.ndim)
    axes = [Axis(n, int(s), navigate=nav) for n, s, nav in zip(names, data.shape, navigate)]
    name, metadata = path.stem, {"format": fmt, "notes": []}
    geometry: dict = {}
    if calibration:
        try:
            stored = calibration["axes"]
            if len(stored) == data.ndim:
                axes = [Axis(name=a["name"], size=int(s), scale=float(a.get("scale", 1.0)),
                             offset=float(a.get("offset", 0.0)), units=a.get("units", ""),
                             navigate=bool(a.get("navigate", False)))
                        for a, s in zip(stored, data.shape)]
                kind = calibration.get("kind", kind)
            name = calibration.get("name") or name
            metadata.update(calibration.get("metadata") or {})
            if calibration.get("voltage_kv"):
                metadata["voltage_kv"] = float(calibration["voltage_kv"])
            geometry = {"scan_rotation_deg": float(calibration.get("scan_rotation_deg", 0.0)),
                        "scan_flip": bool(calibration.get("scan_flip", False))}
        except (KeyError, TypeError, ValueError) as error:
            metadata["notes"].append(f"stored calibration ignored ({error})")
    return Dataset(data=data, axes=tuple(axes), kind=kind, name=name, metadata=metadata, source=str(path),
                   **geometry)


READ_RUN_MIN_BYTES = 1 << 16  # contiguous pieces smaller than this are copied from the mapping instead


class MemmapArray:
    """Array-like view of raw bytes in a file, opened on first access (picklable for dask clusters).

    dask's ``from_array`` copies plain numpy arrays (memmaps included) into the graph, which
    reads the whole file; this wrapper keeps every read lazy, one chunk at a time.
    """

    def __init__(self, path, shape, dtype, offset: int, order: str = "C"):
        self.path, self.shape, self.dtype = str(path), tuple(shape), np.dtype(dtype)
        self.offset, self.order, self.ndim = int(offset), order, len(shape)
        self._map = None

    @classmethod
    def from_memmap(cls, path, mm: np.memmap) -> "MemmapArray":
        order = "F" if (mm.flags.f_contiguous and not mm.flags.c_contiguous) else "C"
        return cls(path, mm.shape, mm.dtype, mm.offset, order)

    def _mapped(self) -> np.memmap:
        if self._map is None:
            self._map = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape,
                                  order=self.order)
        return self._map

    def __getitem__(self, index):
        runs = self._byte_runs(index)
        if runs is not None:  # read() from the page cache: ~6x less CPU than faulting the mapping in
            shape, starts, run_bytes = runs
            out = np.empty(shape, self.dtype)
            flat = memoryview(out.reshape(-1).view(np.uint8))
            with open(self.path, "rb", buffering=0) as f:
                for i, start in enumerate(starts):
                    part = flat[i * run_bytes:(i + 1) * run_bytes]
                    if f.seek(start) != start or f.readinto(part) != run_bytes:
                        raise FileFormatError(f"{self.path}: the file is shorter than its header says.")
            return out
        mapped = self._mapped()
        out = np.array(mapped[index])
        # drop the pages just copied from this process's mapping (they stay in the page cache): a
        # pass over a 20 GB file then keeps the resident memory at one chunk, not the whole file
        if hasattr(mapped, "_mmap") and hasattr(mmap, "MADV_DONTNEED"):
            mapped._mmap.madvise(mmap.MADV_DONTNEED)
        return out

    def _byte_runs(self, index):
        """For a C-order selection by slices of step 1 (what chunked reads ask): the result's shape,
        the byte offsets of its contiguous runs in the file and the bytes per run; else None."""
        if self.order != "C" or self.ndim == 0:
            return None
        index = index if isinstance(index, tuple) else (index,)
        if len(index) > self.ndim or not all(isinstance(i, slice) for i in index):
            return None
        bounds = []
        for i, n in zip(index + (slice(None),) * (self.ndim - len(index)), self.shape):
            start, stop, step = i.indices(n)
            if step != 1:
                return None
            bounds.append((start, max(stop, start)))
        shape = tuple(b - a for a, b in bounds)
        partial = [k for k, (a, b) in enumerate(bounds) if (a, b) != (0, self.shape[k])]
        k = partial[-1] if partial else 0  # axes after k are whole: each run spans axis k and the rest
        item = self.dtype.itemsize
        strides = np.cumprod((1,) + self.shape[::-1])[::-1][1:] * item  # bytes per step of each axis
        run_bytes = int(shape[k] * strides[k]) if shape[k] else 0
        if int(np.prod(shape[:k])) > 1 and run_bytes < READ_RUN_MIN_BYTES:
            return None  # many small pieces (a crop of the detector): the mapping does better
        lead = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in bounds[:k]], indexing="ij"), -1).reshape(-1, k) \
            if k else np.zeros((1, 0), int)
        starts = self.offset + lead @ strides[:k].astype(np.int64) + bounds[k][0] * int(strides[k])
        return shape, [int(v) for v in np.atleast_1d(starts)], run_bytes

    def __getstate__(self):
        return {**self.__dict__, "_map": None}


def _chunks(array) -> tuple[int, ...]:
    """Whole frames per ~64 MB chunk; leading axes navigate (see ``chunks.nav_chunks``)."""
    return nav_chunks(tuple(array.shape), max(array.ndim - 2, 0), array.dtype.itemsize) if array.ndim else ()


def _token(path: Path) -> str:
    st = os.stat(path)
    return f"{path.name}-{st.st_size}-{st.st_mtime_ns}"


def read_npy(path: Path) -> Dataset:
    """Memory-map a .npy file (nothing is read until computed)."""
    import dask.array as da

    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - numpy raises ValueError/OSError/EOFError
        raise FileFormatError(
            f"Cannot read {path} as a NumPy .npy array ({type(error).__name__}: {error}): the file is "
            "probably truncated or damaged; save it again."
        ) from None
    if not isinstance(array, np.ndarray) or array.dtype.hasobject:
        raise FileFormatError(f"{path.name} holds Python objects, not a numeric array; save a numeric array.")
    data = da.from_array(MemmapArray.from_memmap(path, array), chunks=_chunks(array), name=f"npy-{_token(path)}",
                         meta=np.empty((0,) * array.ndim, array.dtype))
    return dataset_from_array(data, path, "npy")


def read_npz(path: Path) -> Dataset:
    """Read an .npz written by stemlab (array 'data' + JSON 'calibration') or holding one array."""
    import dask.array as da

    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            key = "data" if "data" in keys else next((k for k in keys if k != "calibration"), None)
            if key is None:
                raise FileFormatError(f"{path.name} holds no array; save one with stemlab.io.save_dataset.")
            array = archive[key]
            calibration = json.loads(str(archive["calibration"])) if "calibration" in keys else None
    except FileFormatError:
        raise
    except Exception as error:  # noqa: BLE001
        raise FileFormatError(
            f"Cannot read {path} as a NumPy .npz archive ({type(error).__name__}: {error}): "
            "the file is probably truncated or damaged; save it again."
        ) from None
    return dataset_from_array(da.from_array(array, chunks=array.shape), path, "npz", calibration)


def read_zarr(path: Path) -> Dataset:
    """Open a zarr array, or the 'data' (else largest) array of a zarr group, lazily."""
    import dask.array as da
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
        attrs = dict(node.attrs)
        if isinstance(node, zarr.hierarchy.Group):
            arrays = dict(node.arrays())
            if not arrays:
                raise FileFormatError(f"{path} is a zarr group without arrays: point to the array inside.")
            key = "data" if "data" in arrays else max(arrays, key=lambda k: arrays[k].nbytes)
            array = arrays[key]
            attrs = {**attrs, **dict(array.attrs)}
        else:
            array = node
        data = da.from_zarr(array)
    except FileFormatError:
        raise
    except Exception as error:  # noqa: BLE001
        raise FileFormatError(
            f"Cannot read {path} as zarr ({type(error).__name__}: {error}): the store is damaged or "
            "incomplete; write it again."
        ) from None
    return dataset_from_array(data, path, "zarr", attrs.get(CALIBRATION_KEY))


def read_tiff(path: Path) -> Dataset:
    """Read a TIFF (memory-mapped when uncompressed) with its ImageJ / resolution calibration."""
    import dask.array as da
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype = series.shape, series.dtype
            imagej = tif.imagej_metadata or {}
            shaped = (tif.shaped_metadata or [{}])[0] if tif.is_shaped else {}
            res = _resolution(tif.pages[0])
        try:
            array = tifffile.memmap(path, mode="r")
        except (ValueError, OSError):
            array = tifffile.imread(path)  # compressed/tiled: must decode (TIFFs are images, small)
    except Exception as error:  # noqa: BLE001
        raise FileFormatError(
            f"Cannot read {path} as TIFF ({type(error).__name__}: {error}): the file is truncated or "
            "damaged; export it again."
        ) from None
    if isinstance(array, np.memmap) and array.size == int(np.prod(shape)):
        source = MemmapArray(path, shape, array.dtype, array.offset)
    else:
        source = np.asarray(array).reshape(shape).astype(dtype, copy=False)
    data = da.from_array(source, chunks=_chunks(source), name=f"tif-{_token(path)}",
                         meta=np.empty((0,) * len(shape), source.dtype))
    calibration = shaped.get(CALIBRATION_KEY) if isinstance(shaped, dict) else None
    info = imagej.get("Info", "")
    if isinstance(info, str) and info.startswith("{"):
        try:
            calibration = json.loads(info).get(CALIBRATION_KEY) or calibration
        except ValueError:
            calibration = None
    ds = dataset_from_array(data, path, "tiff", calibration)
    if calibration is None and res and ds.ndim >= 2:
        unit = imagej.get("unit", "")
        unit = "" if unit in ("", "pixel") else str(unit).replace("\\u00B5", "u")
        changes = {ds.axes[-2].name: {"scale": res[0], "units": unit}, ds.axes[-1].name: {"scale": res[1], "units": unit}}
        try:
            ds = ds.with_axes(**changes)
        except Exception:  # noqa: BLE001 - unknown unit: keep pixels
            pass
    if calibration is None and ds.ndim == 3 and imagej.get("finterval"):
        t, y, x = ds.axes
        ds = Dataset(data=ds.data, kind="video", name=ds.name, metadata=ds.metadata, source=ds.source,
                     axes=(Axis("t", t.size, float(imagej["finterval"]), 0.0, "s", True),
                           Axis("y", y.size, y.scale, y.offset, y.units), Axis("x", x.size, x.scale, x.offset, x.units)))
    return ds


def _resolution(page) -> tuple[float, float] | None:
    """Pixel size (y, x) from TIFF resolution tags, in the file's unit; None if absent."""
    try:
        xr = page.tags["XResolution"].value
        yr = page.tags["YResolution"].value
        sx, sy = xr[1] / xr[0], yr[1] / yr[0]
    except (KeyError, ZeroDivisionError, TypeError, IndexError):
        return None
    if sx <= 0 or sy <= 0 or (sx == 1 and sy == 1):
        return None
    return sy, sx
