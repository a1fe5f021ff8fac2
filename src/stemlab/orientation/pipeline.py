"""Orientation mapping of whole datasets: calibration, library, streaming of the patterns
through a :class:`~stemlab.orientation.matching.Matcher` (see :func:`index_orientations`).
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..errors import ParameterError
from .matching import Matcher, MatchSettings


PROGRESS_PATTERNS = 128  # patterns per streamed chunk, at most (~1 s of matching on 2 CPU cores)


class _BlockMatcher:
    """Picklable per-chunk function for stream_reduce: builds its Matcher once per process."""

    _cache: dict = {}

    def __init__(self, library, settings, pattern_shape, device, nominal_centre):
        self.args = (library, settings, tuple(pattern_shape), str(device), tuple(nominal_centre))
        self.key = (library.token, repr(settings), tuple(pattern_shape), str(device), tuple(nominal_centre))

    def matcher(self) -> Matcher:
        m = self._cache.get(self.key)
        if m is None:
            lib, st, shape, dev, centre = self.args
            m = Matcher(lib, st, shape, dev, centre)
            self._cache.clear()
            self._cache[self.key] = m
        return m

    def __call__(self, block):
        from ..backend.batching import run_batched

        m = self.matcher()
        parts = run_batched(lambda a, b, dev: m.match(block[a:b]), len(block), m.batch, device=m.device)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _cpu_workers() -> int:
    """Chunks matched at once on the CPU: one per core torch would use (each single-threaded)."""
    import torch

    return max(1, torch.get_num_threads())


_THREADS_LOCK = threading.Lock()
_THREADS_STATE = {"users": 0, "before": None}


@contextlib.contextmanager
def _torch_threads(n):
    """torch's intra-op threads set to ``n`` (None: unchanged) while any caller is inside, then restored
    (calls from several threads nest: the first saves the setting, the last restores it). Chunks
    on one thread each use both cores of a 2-core machine fully: most ops of a 64-pattern batch
    are below torch's parallel grain."""
    import torch

    if not n:
        yield
        return
    with _THREADS_LOCK:
        if _THREADS_STATE["users"] == 0:
            _THREADS_STATE["before"] = torch.get_num_threads()
            torch.set_num_threads(n)
        _THREADS_STATE["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["users"] -= 1
            if _THREADS_STATE["users"] == 0:
                torch.set_num_threads(_THREADS_STATE["before"])


def index_orientations(data, phases, *, voltage=None, calibration=None, resolution: float = 1.0,
                       precession: float = 0.0, s_width: float | str = 0.02, gamma: float = 0.5,
                       sigma_px: float = 1.5, centre: str = "auto", background: str = "none",
                       n_harmonics: int = 40, n_theta: int = 180, device="auto", scheduler=None,
                       memory_budget: float = 512 * 2**20, cache=True, library=None,
                       progress=None, cancel=None, **settings):
    """Phase and crystal orientation of every pattern by template matching.

    Parameters
    ----------
    data : Dataset or array
        4D-STEM scan, or an array whose last two axes are the detector; any navigation shape
        works (one pattern, a line, a 2D scan, a series of scans). numpy, dask or cupy arrays
        (cupy chunks are matched on their GPU without a copy to the host; ``device='cuda'``).
    phases : list of str or Phase
        CIF paths or shipped names ('Al', 'Cu', 'Ni', 'Ag', 'Au', 'Si', 'alpha-Fe', 'austenite',
        'Ti', 'Mg').
    voltage : float or str, optional
        Accelerating voltage in kV (default: the dataset's, else 200).
    calibration : float or str, optional
        Reciprocal pixel size, 1/angstrom per detector pixel (default: the kx axis).
    resolution : float
        Library spacing of beam directions, degrees.
    precession : float
        Precession semi-angle, degrees (0: none).
    s_width : float or 'auto'
        Relrod width of the library, 1/angstrom (~1/thickness; 0.01-0.04 is typical), or
        'auto' to measure it on a sample of the patterns (:mod:`stemlab.orientation.relrod`).
    gamma : float
        Intensity transform exponent applied to patterns and template spots.
    sigma_px : float
        Template spot width, detector pixels.
    centre : {'auto', 'fixed'}
        Fit the direct beam of every pattern, or use the detector axes' k = 0.
    background : {'none', 'tophat'}
        Subtract a wide-Gaussian background first.
    n_harmonics, n_theta : int
        Angular harmonics kept and angular samples of the polar transform.
    device : {'auto', 'cpu', 'cuda'}
        Torch device.
    scheduler : str or dask.distributed.Client, optional
        Run the chunks on a dask.distributed cluster.
    memory_budget : float
        Bytes of patterns in memory at once.
    cache : bool or path
        Cache template libraries in the stemlab cache (:mod:`stemlab.cache`) or a folder.
    library : TemplateLibrary, optional
        A prebuilt library (then ``phases``, ``resolution``, ``s_width`` are not used).
    progress, cancel
        ``progress(done, total, message)`` and a :class:`~stemlab.backend.progress.CancelToken`.
    **settings
        Further :class:`~stemlab.orientation.matching.MatchSettings` fields (``n_refine``,
        ``n_candidates``, ``r_min``, ...).

    Returns
    -------
    OrientationResult
        Phase, orientation (crystal->lab rotations), correlation and reliabilities per
        position on the scan's axes; ``.datasets()``, ``.save('map.h5' | '.ang' | '.npz')``,
        ``.summary()``, ``.crystal_map()`` (orix).

    Examples
    --------
    >>> import stemlab
    >>> result = stemlab.index_orientations(stemlab.sample_4dstem(), ["Al", "alpha-Fe"])  # doctest: +SKIP
    >>> result.save("map.ang")  # doctest: +SKIP

    References
    ----------
    Rauch & Dupuy, Arch. Metall. Mater. 50 (2005) 87 (template matching of precession patterns);
    docs/orientation.md for the method and its measured accuracy.
    """
    from ..backend.progress import steps
    from ..backend.streaming import stream_reduce
    from ..calibration import parse_reciprocal, parse_voltage, reciprocal_pixel, square_detector_pixels
    from ..dataset import Dataset, as_dataset
    from ..units import convert
    from .library import build_library
    from .results import OrientationResult

    if not isinstance(data, Dataset):
        arr = data
        if arr.ndim < 2:
            raise ParameterError(f"data must have at least 2 dimensions (a pattern), got shape {arr.shape}.")
        data = as_dataset(arr, kind="diffraction", name="patterns")
    sig = data.sig_axes
    if len(sig) != 2:
        raise ParameterError(f"Dataset {data.name!r} has {len(sig)} signal axes; orientation mapping needs 2 (ky, kx).")
    if calibration is None:
        data = square_detector_pixels(data)  # one reciprocal pixel size from here on
        sig = data.sig_axes
        calibration = reciprocal_pixel(data)  # names --voltage for mrad, --calibration when uncalibrated
    elif not isinstance(calibration, (int, float)):
        value, unit = parse_reciprocal(calibration)
        calibration = convert(value, unit, "1/angstrom")
    voltage = parse_voltage(voltage) if voltage is not None else float(data.metadata.get("voltage_kv") or 200.0)
    # nominal centre: where k = 0 sits on the detector axes (else the middle pixel)
    centre_px = []
    for ax in sig:
        c = -ax.offset / ax.scale if ax.units.startswith("1/") and ax.offset < 0 else ax.size // 2
        centre_px.append(float(c) if 0 <= c < ax.size else float(ax.size // 2))
    width_ok = s_width == "auto" or (isinstance(s_width, (int, float)) and s_width > 0)
    if library is None and not width_ok:
        raise ParameterError(f"s_width={s_width!r}: give the relrod width in 1/angstrom (0.01-0.04 is typical, "
                             "about 1/thickness) or 'auto' to measure it on the data.")
    auto_width = library is None and s_width == "auto"
    sub = steps(progress, {"relrod": 3 if auto_width else 0, "library": 1, "matching": 9})
    if auto_width:
        from .relrod import estimate_relrod_width, scan_sample

        sample = scan_sample(data)

        def sample_scores(width):
            return index_orientations(
                sample, phases, voltage=voltage, calibration=calibration, resolution=resolution,
                precession=precession, s_width=width, gamma=gamma, sigma_px=sigma_px, centre=centre,
                background=background, n_harmonics=n_harmonics, n_theta=n_theta,
                device=device if scheduler is None else "auto", cache=cache, cancel=cancel, **settings).arrays["score"]

        s_width, _ = estimate_relrod_width(sample_scores, progress=sub["relrod"], cancel=cancel)
    if library is None:
        g_edge = float(np.hypot(*data.sig_shape)) / 2 * calibration
        library = build_library(phases, voltage_kv=voltage, resolution_deg=resolution, g_max=min(g_edge, 4.0),
                                s_width=s_width, precession_deg=precession, cache=cache, progress=sub["library"],
                                cancel=cancel)
    st = MatchSettings(calibration=float(calibration), gamma=gamma, sigma_px=sigma_px, centre=centre,
                       background=background, n_harmonics=n_harmonics, n_theta=n_theta, **settings)
    st.check()
    from ..backend.device import resolve_device

    dev = resolve_device(device) if scheduler is None else device
    func = _BlockMatcher(library, st, data.sig_shape, dev, centre_px)
    func.matcher()  # validate geometry early (clear errors before any data is read)
    arr = data.data
    nav_ndim = len(data.nav_axes)
    if nav_ndim == 0:
        arr = arr[None]
        nav_ndim = 1
    # chunks of at most PROGRESS_PATTERNS patterns: progress moves (and Cancel answers) every second or two
    # even where the memory budget would take a whole scan at once; results do not depend on chunking
    sig_bytes = int(np.prod(data.sig_shape)) * np.dtype(arr.dtype).itemsize
    n_chunks = -(-int(np.prod(arr.shape[:nav_ndim])) // PROGRESS_PATTERNS)
    workers = min(_cpu_workers(), n_chunks) if scheduler is None and getattr(dev, "type", "cpu") == "cpu" else 1
    budget = min(memory_budget, 3 * workers * PROGRESS_PATTERNS * sig_bytes)  # stream_reduce: a third per chunk
    with _torch_threads(1 if workers > 1 else None):
        out = stream_reduce(arr, func, nav_ndim=nav_ndim, memory_budget=budget, progress=sub["matching"],
                            cancel=cancel, scheduler=scheduler, threads=workers, message="orientation mapping")
    if not data.nav_axes:
        out = {k: v[0] for k, v in out.items()}
    return OrientationResult(dataset_axes=data.nav_axes, library=library, settings=st, arrays=out,
                             voltage_kv=voltage, name=data.name, metadata=dict(data.scan_geometry))
