"""Cheap file-type detection: extension plus magic bytes, never loading data.

``identify(path)`` names the format stemlab will use for a file or folder, or raises a
:class:`~stemlab.errors.FileFormatError` saying what is wrong (missing, empty, wrong
content for the extension) and how to fix it. ``can_read`` is its yes/no form.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FileFormatError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# extension -> format name. HDF5 containers are resolved further in ``_hdf5_flavour``.
EXTENSIONS = {
    ".mib": "mib",
    ".hdr": "mib",  # Merlin header: read the .mib beside it
    ".blo": "blockfile",
    ".xml": "empad",
    ".emd": "hdf5",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hspy": "hdf5",
    ".de5": "emd",
    ".app5": "topspin",
    ".zspy": "zspy",
    ".dm3": "dm",
    ".dm4": "dm",
    ".ser": "tia",
    ".emi": "tia",
    ".mrc": "mrc",
    ".tvips": "tvips",
    ".npy": "npy",
    ".npz": "npz",
    ".zarr": "zarr",
    ".tif": "tiff",
    ".tiff": "tiff",
}

# What a file looks like inside, to tell the user what they actually gave us.
_KNOWN_CONTENT = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (HDF5_MAGIC, "an HDF5 file"),
    (NPY_MAGIC, "a NumPy .npy array"),
    (b"MQ1", "a Merlin .mib file"),
    (b"IMGBLO", "a NanoMegas blockfile (.blo)"),
    *((m, "a TIFF image") for m in TIFF_MAGICS),
)


def supported_extensions() -> list[str]:
    """Every file extension stemlab reads, for messages and file dialogs."""
    return sorted(EXTENSIONS)


def can_read(path) -> bool:
    """True when ``path`` is a file or folder stemlab can load (cheap: reads a few bytes)."""
    try:
        identify(path)
    except (FileFormatError, OSError, ValueError):
        return False
    return True


def identify(path) -> str:
    """Return the reader name for ``path`` ('mib', 'hspy', 'emd', 'npy', ...) or raise FileFormatError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileFormatError(f"File not found: {path}. Check the path and spelling.")
    if path.is_dir():
        if _is_zarr_dir(path):
            return "zspy" if suffix == ".zspy" else "zarr"
        raise FileFormatError(
            f"{path} is a folder, not a zarr store: open one of the files inside it instead."
        )
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:
        raise FileFormatError(
            f"{path.name}: stemlab cannot read '{suffix or 'no extension'}' files. "
            f"Supported: {', '.join(supported_extensions())}."
        )
    size = path.stat().st_size
    if size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes): the acquisition or copy did not finish; copy it again.")
    head = _head(path, 4096)
    check = _CHECKS.get(fmt)
    if check is not None and not check(path, head):
        raise FileFormatError(_mismatch_message(path, head, fmt))
    if fmt == "hdf5":
        return _hdf5_flavour(path)
    if fmt == "mib" and suffix == ".hdr":
        return "mib"
    return fmt


def mib_path(path: Path) -> Path:
    """The .mib data file for a Merlin .mib or .hdr path."""
    return path.with_suffix(".mib") if path.suffix.lower() == ".hdr" else path


# -- content checks -------------------------------------------------------------------
def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _is_zarr_dir(path: Path) -> bool:
    return any((path / name).exists() for name in (".zgroup", ".zarray", "zarr.json"))


def _check_mib(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".hdr":
        data = mib_path(path)
        return head.startswith(b"HDR") and data.exists() and _head(data, 3) == b"MQ1"
    return head.startswith(b"MQ1")


def _check_hdf5(path: Path, head: bytes) -> bool:
    if head.startswith(HDF5_MAGIC):
        return True
    # HDF5 allows a user block of 512 * 2**n bytes before the superblock.
    with open(path, "rb") as fh:
        for offset in (512, 1024, 2048, 4096):
            fh.seek(offset)
            if fh.read(8) == HDF5_MAGIC:
                return True
    return False


def _check_dm(path: Path, head: bytes) -> bool:
    return len(head) >= 4 and int.from_bytes(head[:4], "big") in (3, 4)


def _check_mrc(path: Path, head: bytes) -> bool:
    # 1024-byte header; 'MAP ' at byte 208 in MRC2000 files (older files lack it).
    return len(head) >= 1024 and (head[208:212] in (b"MAP ", b"MAP\x00") or head[208:212] == b"\x00" * 4)


def _check_empad(path: Path, head: bytes) -> bool:
    text = head.lstrip().lower()
    return text.startswith(b"<") and (b"raw_file" in text or b"empad" in text or b"<root" in text)


def _check_ser(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".emi":
        return not any(head.startswith(m) for m, _ in _KNOWN_CONTENT)
    return head[:2] == b"II" and int.from_bytes(head[2:4], "little") == 0x0197


_CHECKS = {
    "mib": _check_mib,
    "blockfile": lambda p, h: h.startswith(b"IMGBLO"),
    "empad": _check_empad,
    "hdf5": _check_hdf5,
    "emd": _check_hdf5,
    "topspin": _check_hdf5,
    "dm": _check_dm,
    "tia": _check_ser,
    "mrc": _check_mrc,
    "tvips": lambda p, h: len(h) >= 256 and not any(h.startswith(m) for m, _ in _KNOWN_CONTENT),
    "npy": lambda p, h: h.startswith(NPY_MAGIC),
    "npz": lambda p, h: h.startswith(b"PK\x03\x04"),
    "tiff": lambda p, h: h[:4] in TIFF_MAGICS,
}


def _hdf5_flavour(path: Path) -> str:
    """'hspy' for HyperSpy-written HDF5, else 'emd' (Velox, Berkeley/py4DSTEM, Prismatic, NCEM)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if str(f.attrs.get("file_format", "")).lower() == "hyperspy":
                return "hspy"
    except OSError as error:
        raise FileFormatError(
            f"{path} looks like HDF5 but cannot be opened ({error}); the file is probably "
            "truncated or still being written: copy it again."
        ) from None
    return "emd"


def _mismatch_message(path: Path, head: bytes, fmt: str) -> str:
    actual = next((name for magic, name in _KNOWN_CONTENT if head.startswith(magic)), None)
    if fmt == "mib" and path.suffix.lower() == ".hdr" and actual is None:
        return (f"{path.name}: a Merlin header needs its data file {mib_path(path).name} beside it; "
                "open the .mib file, or copy both.")
    if actual:
        return (f"{path.name} has the extension '{path.suffix}' but contains {actual}: "
                "rename it to its real extension or export it again from the acquisition software.")
    return (f"{path.name} does not look like a '{path.suffix}' file (unexpected header bytes "
            f"{head[:8]!r}): it may be damaged or mis-named; export it again.")
