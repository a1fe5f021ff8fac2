"""Instrument formats through rosettasciio: file -> list of rsciio signal dicts (lazy dask).

Any exception from rsciio is turned into a FileFormatError naming the file, and signals
that need an optional package (EDS spectrum images need ``sparse``) are skipped with a
warning when the rest of the file can still be read.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path

from ..errors import FileFormatError
from .sniff import mib_path

_MODULES = {
    "mib": "quantumdetector",
    "blockfile": "blockfile",
    "empad": "empad",
    "emd": "emd",
    "hspy": "hspy",
    "zspy": "zspy",
    "dm": "digitalmicrograph",
    "tia": "tia",
    "mrc": "mrc",
    "tvips": "tvips",
    "topspin": "topspin",
}

FORMAT_NAMES = {
    "mib": "Merlin/Medipix .mib",
    "blockfile": "NanoMegas blockfile",
    "empad": "EMPAD",
    "emd": "EMD (Velox / Berkeley / py4DSTEM / Prismatic)",
    "hspy": "HyperSpy HDF5",
    "zspy": "HyperSpy zarr (.zspy)",
    "dm": "Gatan DigitalMicrograph",
    "tia": "FEI TIA (.ser/.emi)",
    "mrc": "MRC",
    "tvips": "TVIPS",
    "topspin": "NanoMegas Topspin (.app5)",
}


def read_signals(path: Path, fmt: str, *, lazy: bool = True) -> list[dict]:
    """Read every signal of ``path`` with rsciio's ``fmt`` plugin; each dict gains 'mapped_metadata'."""
    module = importlib.import_module(f"rsciio.{_MODULES[fmt]}")
    target = str(mib_path(path) if fmt == "mib" else path)
    kwargs = {"lazy": lazy}
    if fmt == "topspin":
        kwargs["show_progressbar"] = False
    try:
        signals = _call(module.file_reader, target, **kwargs)
    except ImportError as error:
        if fmt != "emd":
            raise _wrap(path, fmt, error) from None
        signals = _read_without_optional(module.file_reader, path, error, lazy)
    except FileFormatError:
        raise
    except Exception as error:  # rsciio raises many types for damaged files: wrap them all
        raise _wrap(path, fmt, error) from None
    if not signals:
        raise FileFormatError(f"{path.name}: the {FORMAT_NAMES[fmt]} file holds no data signal.")
    for signal in signals:
        signal["mapped_metadata"] = _apply_mapping(signal)
    return signals


def _call(reader, target, **kwargs):
    """Run an rsciio reader with its own logging/warnings kept quiet (we report problems ourselves)."""
    logger = logging.getLogger("rsciio")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", ResourceWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="rsciio")
            warnings.filterwarnings("ignore", message=".*VisibleDeprecationWarning.*")
            return reader(target, **kwargs)
    finally:
        logger.setLevel(level)


def _read_without_optional(reader, path: Path, error: ImportError, lazy: bool) -> list[dict]:
    """Velox EMD: keep the signals that do not need the missing package; warn about the rest."""
    signals = []
    for kind in ("images", "single_spectrum"):
        try:
            signals += _call(reader, str(path), lazy=lazy, select_type=kind)
        except Exception:  # noqa: BLE001 - a part we cannot read is skipped, reported below
            continue
    if not signals:
        raise _wrap(path, "emd", error)
    warnings.warn(
        f"{path.name}: skipped the signals that need an optional package ({error}); "
        "install it (e.g. `pip install sparse`) to load EDS spectrum images too.",
        stacklevel=3,
    )
    return signals


def _wrap(path: Path, fmt: str, error: Exception) -> FileFormatError:
    what = FORMAT_NAMES.get(fmt, fmt)
    detail = f"{type(error).__name__}: {error}".strip()
    if isinstance(error, ImportError):
        fix = "install the missing package named above"
    else:
        fix = ("the file may be truncated, damaged or not really a " + what + " file; "
               "copy or export it again")
    return FileFormatError(f"Cannot read {path} as {what} ({detail[:300]}): {fix}.")


def _get(tree: dict, dotted: str):
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise KeyError(dotted)
        node = node[key]
    return node


def _apply_mapping(signal: dict) -> dict:
    """Apply rsciio's original->metadata 'mapping' (what HyperSpy does) to find voltage etc."""
    mapped: dict = {}
    original = signal.get("original_metadata") or {}
    for source, (target, func) in (signal.get("mapping") or {}).items():
        try:
            value = _get(original, source)
            value = func(value) if func is not None else value
        except Exception:  # noqa: BLE001 - a missing or odd tag is simply not mapped
            continue
        node = mapped
        *parents, leaf = target.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return mapped
