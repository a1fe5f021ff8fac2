"""napari reader: drag-and-drop and File > Open for every format ``stemlab.io`` reads."""

from __future__ import annotations

from pathlib import Path

from ..errors import StemlabError


# Extensions only electron-microscopy software writes: stemlab claims these files even when
# they are broken, so the user gets a notification saying what is wrong with them. Generic
# containers (.h5, .tif, .npy, .zarr, .xml) are claimed only when their content sniffs right,
# so stemlab coexists with other readers.
INSTRUMENT_EXTENSIONS = {".mib", ".hdr", ".blo", ".emd", ".hspy", ".zspy", ".dm3", ".dm4", ".ser",
                         ".emi", ".mrc", ".tvips", ".de5", ".app5"}


def napari_get_reader(path):
    """Return a reader for ``path`` if stemlab can read it, else None (other plugins may)."""
    from .. import io

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(_claims(io, p) for p in paths):
        return None
    return read_layers


def _claims(io, path) -> bool:
    return Path(path).suffix.lower() in INSTRUMENT_EXTENSIONS or io.can_read(path)


def read_layers(path) -> list[tuple]:
    """One image layer per usable signal; a bad file gives a notification, never a half layer."""
    from napari.utils.notifications import show_error, show_info

    from .. import io
    from .layers import image_layer_data, viewable

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    layers = []
    for one in paths:
        try:
            datasets = io.load(one)
        except StemlabError as error:
            show_error(str(error))
            continue
        spectra = [ds.name for ds in datasets if ds.ndim < 2]
        if spectra:
            show_info(f"{Path(one).name}: {len(spectra)} single spectra ({', '.join(spectra)}) are not shown: "
                      "napari layers are images; load them with stemlab.io.load in Python.")
        layers.extend(image_layer_data(viewable(ds)) for ds in datasets if ds.ndim >= 2)
    return layers or [(None,)]
