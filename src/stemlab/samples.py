"""Sample datasets: deterministic simulations with ground truth, cached on disk.

``sample_4dstem()``, ``sample_haadf()`` and ``sample_video()`` return :class:`Dataset`
objects made by :mod:`stemlab.simulate` with fixed seeds. The first call generates (a
few seconds) and writes ``<name>-<key>.npz`` (arrays) + ``.json`` (axes, scalars) to the
``samples`` folder of the stemlab cache (:mod:`stemlab.cache`: ``$STEMLAB_CACHE`` if set, else
the platform user cache, ``~/.cache/stemlab/samples`` on Linux). The key hashes
:data:`SAMPLE_VERSION`, the sample name and its parameters, so any change regenerates.
Files are written atomically (temporary file in the same folder, then ``os.replace``);
a missing, partial or unreadable cache entry is regenerated, and an unwritable cache
folder only costs the regeneration next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .cache import cache_dir as _cache_dir
from .dataset import Axis, Dataset

SAMPLE_VERSION = 2

_PARAMS = {
    "4dstem": {"scan_shape": [48, 48], "pattern_shape": [128, 128], "reciprocal_pixel": 0.0165,
               "scan_step": 2.0, "voltage_kv": 200.0, "dose": 20000.0, "seed": 0},
    "haadf": {"shape": [512, 512], "pixel_size": 0.02, "seed": 0, "dose": 40.0},
    "video": {"n_frames": 40, "shape": [128, 128], "pixel_size": 0.04, "frame_time": 0.5,
              "model": "allen-cahn", "dose": 30.0, "seed": 0},
}


def cache_dir() -> Path:
    """Folder holding cached samples (not created here): ``stemlab.cache.cache_dir("samples")``."""
    return _cache_dir("samples")


def _generate(name: str, params: dict) -> Dataset:
    if name == "4dstem":
        from .simulate.fourd import two_phase_scan
        return two_phase_scan(**params)
    if name == "haadf":
        from .simulate.haadf import haadf_image
        return haadf_image(**params)
    from .simulate.video import phase_transformation_video
    return phase_transformation_video(**params)


# -- metadata <-> (json, arrays) -----------------------------------------------------------
def _encode(obj, arrays: dict):
    if isinstance(obj, np.ndarray):
        key = f"meta_{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _encode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _decode(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def _normalized(ds: Dataset) -> Dataset:
    """The dataset exactly as the cache will give it back (tuples -> lists, numpy scalars -> Python)."""
    arrays: dict = {}
    meta = _decode(json.loads(json.dumps(_encode(ds.metadata, arrays))), arrays)
    return Dataset(ds.data, ds.axes, ds.kind, ds.name, meta, ds.source)


def _key(name: str, params: dict) -> str:
    text = json.dumps({"version": SAMPLE_VERSION, "name": name, "params": params}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _save(ds: Dataset, base: Path) -> None:
    arrays: dict = {"data": ds.data}
    header = {
        "version": SAMPLE_VERSION, "kind": ds.kind, "name": ds.name, "source": ds.source,
        "axes": [{"name": a.name, "size": a.size, "scale": a.scale, "offset": a.offset, "units": a.units,
                  "navigate": a.navigate} for a in ds.axes],
        "metadata": _encode(ds.metadata, arrays),
    }
    base.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(base.with_suffix(".npz"), lambda f: np.savez(f, **arrays))
    _atomic_write(base.with_suffix(".json"), lambda f: f.write(json.dumps(header, indent=1).encode()))


def _load(base: Path) -> Dataset | None:
    npz, js = base.with_suffix(".npz"), base.with_suffix(".json")
    if not (npz.is_file() and js.is_file()):
        return None
    try:
        header = json.loads(js.read_text())
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        axes = tuple(Axis(**a) for a in header["axes"])
        return Dataset(arrays.pop("data"), axes, header["kind"], header["name"],
                       _decode(header["metadata"], arrays), header.get("source"))
    except Exception:  # corrupt or foreign entry: regenerate
        return None


def load_sample(name: str, *, cache: bool = True) -> Dataset:
    """The sample ``name`` ('4dstem', 'haadf' or 'video'), from the cache when possible."""
    if name not in _PARAMS:
        from .errors import ParameterError
        raise ParameterError(f"Unknown sample {name!r}; one of {sorted(_PARAMS)}.")
    params = _PARAMS[name]
    base = cache_dir() / f"{name}-{_key(name, params)}"
    if cache:
        ds = _load(base)
        if ds is not None:
            return ds
    ds = _normalized(_generate(name, params))
    ds.source = f"stemlab sample {name!r} (simulated)"
    if cache:
        try:
            _save(ds, base)
        except OSError:
            pass  # read-only or full cache folder: still return the sample
    return ds


def sample_4dstem(*, cache: bool = True) -> Dataset:
    """48 x 48 scan of 128 x 128 px patterns (uint16, ~75 MB): fcc Al + bcc Fe grains, 200 kV,
    Poisson noise at 20000 e/pattern, linear descan; ground truth phase/orientation/descan."""
    return load_sample("4dstem", cache=cache)


def sample_haadf(*, cache: bool = True) -> Dataset:
    """512 x 512 HAADF image (0.02 nm/px): two Al [001] grains + a Ti [0001] precipitate; labels."""
    return load_sample("haadf", cache=cache)


def sample_video(*, cache: bool = True) -> Dataset:
    """40 x 128 x 128 HAADF video (0.5 s/frame, 0.04 nm/px) of Allen-Cahn growth; order parameter."""
    return load_sample("video", cache=cache)


class SampleInfo(NamedTuple):
    key: str
    display_name: str
    function: Callable[..., Dataset]
    description: str


SAMPLES = {
    "4dstem": SampleInfo("4dstem", "4D-STEM: two-phase Al + Fe grains (simulated)", sample_4dstem,
                         sample_4dstem.__doc__.split("\n")[0]),
    "haadf": SampleInfo("haadf", "HAADF: grain boundary + precipitate (simulated)", sample_haadf,
                        sample_haadf.__doc__.split("\n")[0]),
    "video": SampleInfo("video", "HAADF video: phase transformation (simulated)", sample_video,
                        sample_video.__doc__.split("\n")[0]),
}
