"""Window-by-window classification with an ensemble of Monte-Carlo-dropout networks, plus local
rotation and lattice constant.

:func:`classify` resamples the image to the descriptor sampling, cuts windows of
``window`` angstrom every ``stride`` input pixels, and per batch of windows computes the
descriptors, each network's trunk once, the dropout heads ``passes`` times in all (shared
out among the networks), the mean softmax, the mutual information (bits) between the
prediction and the sampled network, and (optionally) the rotation and lattice constant for
the predicted class (:mod:`stemlab.classifier.lattice`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend.progress import check, report, steps
from ..dataset import Axis, Dataset, as_dataset, square_pixels
from ..errors import CalibrationError, ParameterError
from ..units import convert
from . import descriptor as D

DEFAULT_WINDOW = 12.0  # angstrom
DEFAULT_PASSES = 30
DEFAULT_THRESHOLD = 0.25  # bits of mutual information; flags ~22 % of our realistic simulated in-class windows
# and ~62 % of simulated diamond / tetragonal windows with the weights of issue 15 (docs/classification.md)
DEFAULT_LATTICE_TOLERANCE = 0.05  # relative; a lattice constant this far outside its class's range is 'unknown'


DESCRIPTOR_CHUNK = 64  # windows per descriptor step: a progress step every fraction of a second

LABELS_CONVENTION = ("labels == k means class_names[k - 1] (labels count from 1, class_names from 0); "
                     "0 is never written (the napari Labels background)")


@dataclass
class ClassificationResult:
    """Maps on the window grid (rows, cols of window centres).

    ``labels`` int32: 1 + index of the predicted class in ``class_names`` (0 is never used, so a
    napari Labels layer shows every window); ``probability`` mean softmax of that class (of it and
    its twin for an ambiguous window); ``uncertainty`` mutual information in bits; ``unknown``
    uncertainty > threshold, or no reading of the window's geometry in a class's range (or, with
    priors, near a given phase); ``ambiguous`` the geometry fits two (class, lattice constant)
    readings (spacing twins) and nothing tells them apart: ``alternative_labels`` and
    ``alternative_lattice_constant`` hold the second (0 / NaN elsewhere);
    ``rotation`` degrees modulo the class's symmetry; ``lattice_constant`` angstrom;
    ``mean_probabilities`` (rows, cols, n_classes); ``axes`` the grid's calibrated (y, x) axes.
    """

    labels: np.ndarray
    probability: np.ndarray
    uncertainty: np.ndarray
    unknown: np.ndarray
    rotation: np.ndarray
    lattice_constant: np.ndarray
    mean_probabilities: np.ndarray
    class_names: list
    axes: tuple
    window_angstrom: float
    stride_pixels: float
    passes: int
    threshold: float
    ambiguous: np.ndarray | None = None
    alternative_labels: np.ndarray | None = None
    alternative_lattice_constant: np.ndarray | None = None
    priors: tuple = ()
    info: dict = field(default_factory=dict)

    MAPS = ("labels", "probability", "uncertainty", "unknown", "ambiguous", "rotation", "lattice_constant")

    def __post_init__(self):
        if self.ambiguous is None:
            self.ambiguous = np.zeros(self.labels.shape, bool)
        if self.alternative_labels is None:
            self.alternative_labels = np.zeros(self.labels.shape, np.int32)
        if self.alternative_lattice_constant is None:
            self.alternative_lattice_constant = np.full(self.labels.shape, np.nan, np.float32)

    def dataset(self, name: str, source: Dataset | None = None) -> Dataset:
        """One map as a Dataset on the window grid (keeps the source's metadata/source).

        ``metadata['classification']`` holds the class names, their label values, the labels
        convention, the window (angstrom), passes, threshold (bits) and ``rotation_period_deg``
        (:meth:`rotation_period`: the span of a seamless cyclic colour map of the rotation)."""
        data = getattr(self, name)
        if name in ("unknown", "ambiguous"):
            data = data.astype(np.uint8)
        meta = {"classification": {"class_names": list(self.class_names), "label_values": self.label_values(),
                                   "labels_convention": LABELS_CONVENTION, "window_angstrom": self.window_angstrom,
                                   "passes": self.passes, "threshold_bits": self.threshold,
                                   "rotation_period_deg": self.rotation_period()}}
        title = f"{source.name} {name}" if source is not None and source.name else name
        if source is not None:
            return source.with_data(data, axes=self.axes, kind="image", name=title, **meta)
        return Dataset(data, self.axes, kind="image", name=title, metadata=meta)

    def datasets(self, source: Dataset | None = None) -> dict[str, Dataset]:
        """Every map of :attr:`MAPS` as a Dataset on the window grid (see :meth:`dataset`)."""
        return {name: self.dataset(name, source) for name in self.MAPS}

    def save(self, path):
        """Write :meth:`arrays` (maps, class names, grid calibration: scale, offset, units) to one
        ``.npz``, atomically."""
        from pathlib import Path

        from ..errors import FileFormatError
        from ..io.writers import atomic_write

        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise FileFormatError(f"Output {path} must end in .npz.")
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **self.arrays())
        return path

    def summary(self, top: int = 3) -> str:
        """One line: the unknown and ambiguous shares (with what each ambiguity is), then the ``top``
        classes among the other windows."""
        sure = ~self.unknown & ~self.ambiguous
        known = self.labels[sure]
        counts = np.bincount(known, minlength=len(self.class_names) + 1)[1:]
        shares = ", ".join(f"{self.class_names[i]} {counts[i] / max(known.size, 1):.0%}"
                           for i in np.argsort(-counts, kind="stable")[:top] if counts[i])
        text = f"{self.labels.shape[0]} x {self.labels.shape[1]} windows, {self.unknown.mean():.0%} unknown / interface"
        amb = self.ambiguities()
        if amb:
            text += f", {self.ambiguous.mean():.0%} ambiguous (" + "; ".join(f"{t} {s:.0%}" for t, s in amb) + ")"
        if self.priors:
            text += "; priors " + ", ".join(p.label for p in self.priors)
        return text + f"; the others: {shares or 'none'}"

    def ambiguities(self) -> list[tuple[str, float]]:
        """[(text, share of all windows)] of each ambiguity found, most frequent first, e.g.
        ('bcc [100] a = 2.87 Å or fcc [100] a = 4.06 Å', 0.9) (median lattice constants)."""
        from .readings import describe

        amb = self.ambiguous
        if not amb.any():
            return []
        first, second = self.labels[amb] - 1, self.alternative_labels[amb] - 1
        a1, a2 = self.lattice_constant[amb], self.alternative_lattice_constant[amb]
        swap = np.array([self.class_names[i] > self.class_names[j] for i, j in zip(first, second)])
        lo, hi = np.where(swap, second, first), np.where(swap, first, second)
        alo, ahi = np.where(swap, a2, a1), np.where(swap, a1, a2)
        out = []
        for i, j in sorted({(int(x), int(y)) for x, y in zip(lo, hi)}):
            sel = (lo == i) & (hi == j)
            out.append((describe(self.class_names, i, alo[sel], j, ahi[sel]), float(sel.sum() / amb.size)))
        return sorted(out, key=lambda t: -t[1])

    def rotation_period(self) -> float:
        """360/n degrees for the n-fold symmetry of the most frequent class among the known windows:
        the range a cyclic colour map of the rotation map should span (seamless at the wrap)."""
        from ..simulate.projections import projection

        known = self.labels[~self.unknown]
        if known.size == 0:
            return 180.0
        name = self.class_names[int(np.bincount(known).argmax()) - 1]
        return 360.0 / projection(name).rotation_symmetry

    def label_values(self) -> dict:
        """``{class name: value in labels}``: ``labels == k`` is ``class_names[k - 1]`` (1-based)."""
        return {name: i + 1 for i, name in enumerate(self.class_names)}

    def arrays(self) -> dict:
        """Everything the CLI writes: the maps, class names and the grid calibration.

        ``labels`` counts from 1 while ``class_names`` is indexed from 0: ``labels == k`` means
        ``class_names[k - 1]`` (0 is never written: napari's Labels background). The file says
        so itself: ``label_values[i]`` is the value of ``class_names[i]`` in ``labels`` and
        ``labels_convention`` states the rule in words.
        """
        out = {name: np.asarray(getattr(self, name)) for name in self.MAPS}
        out["mean_probabilities"] = self.mean_probabilities
        out["alternative_labels"] = np.asarray(self.alternative_labels, dtype=np.int32)
        out["alternative_lattice_constant"] = np.asarray(self.alternative_lattice_constant, dtype=np.float32)
        out["ambiguities"] = np.array([t for t, _ in self.ambiguities()], dtype=str)
        out["priors"] = np.array([p.label for p in self.priors], dtype=str)
        out["class_names"] = np.array(self.class_names)
        out["label_values"] = np.arange(1, len(self.class_names) + 1, dtype=np.int32)
        out["labels_convention"] = np.array(LABELS_CONVENTION)
        out["grid_scale"] = np.array([a.scale for a in self.axes])
        out["grid_offset"] = np.array([a.offset for a in self.axes])
        out["grid_units"] = np.array([a.units for a in self.axes])
        out["window_angstrom"] = np.array(self.window_angstrom)
        out["passes"] = np.array(self.passes)
        return out


def image_pixel_size(ds: Dataset, pixel_size=None) -> tuple[float, str, float]:
    """(pixel size in angstrom, axis unit, pixel size in that unit) of a 2D image dataset."""
    if pixel_size is not None:
        if isinstance(pixel_size, str):
            from ..units import parse_quantity

            value, unit = parse_quantity(pixel_size, "pixel size")
            if not unit:
                raise CalibrationError(f"pixel size {pixel_size!r} needs a unit, e.g. '0.1angstrom' or '0.01nm'.")
        else:
            value, unit = float(pixel_size), "angstrom"
        return convert(value, unit, "angstrom"), unit, value
    ay, ax = ds.axes[-2], ds.axes[-1]
    if not ax.units or not ay.units:
        raise CalibrationError(
            f"{ds.name or 'The image'} has no pixel-size calibration: the classifier needs it (the window is in "
            "angstrom). Set the layer scale and units in napari, pass pixel_size=..., or use --scan-step 0.1angstrom.")
    if not square_pixels(ay, ax):
        raise CalibrationError(
            f"{ds.name or 'The image'} has non-square pixels ({ay.scale} x {ax.scale} {ax.units}): resample it first.")
    return convert(ax.scale, ax.units, "angstrom"), ax.units, ax.scale


def _monotone(progress):
    """``progress`` that never moves back (a batch retried after running out of memory reports
    its part again); ``None`` stays ``None``."""
    if progress is None:
        return None
    furthest = [0]

    def call(done, total, message=""):
        furthest[0] = max(furthest[0], int(done))
        progress(furthest[0], total, message)

    return call


def _mutual_information(probs):
    """Mean softmax (N, C) and mutual information in bits (N,) from (T, N, C) torch probabilities."""
    import torch

    mean = probs.mean(0)
    eps = 1e-12
    h_mean = -(mean * torch.log2(mean + eps)).sum(-1)
    h_each = -(probs * torch.log2(probs + eps)).sum(-1).mean(0)
    return mean, (h_mean - h_each).clamp_min(0.0)


def _twin_table(record) -> dict:
    """The spacing-twin table stored with the weights (computed from the geometry for weights
    trained before it was stored)."""
    from .twins import table_from_record, twin_table

    if "twins" in record:
        return table_from_record(record["twins"])
    return twin_table()


def classify(data, *, pixel_size=None, window: float = DEFAULT_WINDOW, stride: float | None = None,
             passes: int = DEFAULT_PASSES, threshold: float = DEFAULT_THRESHOLD, lattice=True, phases=None,
             lattice_tolerance: float = DEFAULT_LATTICE_TOLERANCE, device="auto", batch_size: int = 1024,
             weights=None, seed: int = 0, progress=None, cancel=None) -> ClassificationResult:
    """Crystal structure and zone axis of every window of a 2D HAADF image, with uncertainty.

    Parameters
    ----------
    data : Dataset or array
        2D image; a Dataset's y/x calibration gives the pixel size (square pixels).
    pixel_size : float or str, optional
        Pixel size of an array (float in angstrom, or e.g. '0.012nm'); overrides the Dataset's.
    window : float
        Window side, angstrom (the network was trained on ~10-14 angstrom).
    stride : float, optional
        Window step, input pixels (default a quarter window).
    passes : int
        Stochastic passes (Monte-Carlo dropout, shared out among the ensemble's networks).
    threshold : float
        Mutual information, bits, above which a window is 'unknown'.
    lattice : bool or str or sequence of str
        ``True``/``False``: measure (or not) the local in-plane rotation (degrees) and lattice
        constant (angstrom). Lattice priors instead, e.g. ``'bcc:2.87 fcc:3.61'`` or
        ``['hcp:2.95:4.68']`` (family : a [: c], angstrom): measure, and keep only readings near them.
    phases : str or sequence, optional
        Phase priors: CIF paths or shipped names (``'alpha-Fe, Cu'``), as ``stemlab orient``
        takes them. With priors, the classes are restricted to their families (and spacing twins)
        and each window takes the reading whose lattice constant is within 4 % of a prior's
        (none: unknown), which resolves spacing twins.
    lattice_tolerance : float
        A window none of whose readings has a lattice constant within this far (relative) of a
        class's trained range is marked unknown too; ``float('inf')`` turns this off (a twin
        reading still needs to be within 5 % of its class's range).
    device : {'auto', 'cpu', 'cuda'}
        Torch device.
    batch_size : int
        Windows per network pass.
    weights : path, optional
        Folder with classifier.pt + classes.json (default: the shipped weights).
    seed : int
        Fixes the dropout masks.
    progress, cancel
        ``progress(done, total, message)`` and a :class:`~stemlab.backend.progress.CancelToken`.

    Returns
    -------
    ClassificationResult
        Maps on the window grid (class labels, probability, uncertainty in bits, unknown and
        ambiguous masks, rotation in degrees, lattice constant in angstrom, the alternative
        reading of ambiguous windows); ``.datasets()``, ``.save('x.npz')``, ``.summary()``,
        ``.ambiguities()``.

    Examples
    --------
    >>> import stemlab
    >>> result = stemlab.classify(stemlab.sample_haadf(), window=12)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP

    References
    ----------
    Gal & Ghahramani, ICML 2016 (Monte-Carlo dropout); Lakshminarayanan, Pritzel & Blundell,
    NeurIPS 2017 (deep ensembles); docs/classification.md.
    """
    import torch

    from ..backend.batching import run_batched
    from ..backend.device import resolve_device
    from . import lattice as L
    from .priors import resolve_priors
    from .readings import allowed_classes, resolve, twin_groups
    from .training import load

    ds = as_dataset(data if isinstance(data, Dataset) else np.asarray(data))
    if ds.ndim != 2:
        raise ParameterError(f"classify needs a 2D image; {ds.name or 'the input'} has shape {ds.shape}: pick one frame.")
    if passes < 1:
        raise ParameterError(f"passes must be >= 1, got {passes}.")
    priors = resolve_priors(phases, None if isinstance(lattice, bool) else lattice)
    measure = lattice is not False
    # a family's c/a when the priors fix one (the hcp template then has the specimen's c/a)
    ratios = {}
    for p in priors:
        if p.c_over_a is not None:
            ratios.setdefault(p.family, set()).add(round(float(p.c_over_a), 4))
    c_over_a = {fam: next(iter(r)) for fam, r in ratios.items() if len(r) == 1}
    if priors and "hcp" not in {p.family for p in priors} and "fcc" in {p.family for p in priors}:
        # an hcp reading then only stands for its fcc [211] twin: close-packed, c/a = sqrt(8/3)
        c_over_a["hcp"] = float(np.sqrt(8.0 / 3.0))
    if priors and not measure:
        raise ParameterError("Phase priors need the lattice-constant measurement: drop lattice=False (--no-lattice).")
    if not lattice_tolerance >= 0:  # also NaN
        raise ParameterError(f"lattice_tolerance must be >= 0 (a fraction, e.g. 0.05; inf turns the check off), "
                             f"got {lattice_tolerance}.")
    p_a, unit, p_unit = image_pixel_size(ds, pixel_size)
    w_px = D.window_pixels(float(window))
    f = D.SAMPLING / p_a  # input pixels per resampled pixel
    if stride is None:
        stride = window / 4.0 / p_a
    if stride <= 0:
        raise ParameterError(f"stride must be positive (input pixels), got {stride}.")
    stride_res = max(1, int(round(stride / f)))

    sub = steps(progress, {"resample": 0.5, "classify": 10.0})
    report(sub["resample"], 0, 1, "resampling")
    image = D.resample(np.asarray(ds.data, dtype=np.float32), p_a)
    report(sub["resample"], 1, 1, "resampling")
    check(cancel)
    rows, cols = D.window_grid(image.shape, w_px, stride_res)
    view = D.extract_windows(image, w_px, stride_res)
    ny, nx = len(rows), len(cols)
    n = ny * nx

    dev = resolve_device(device)
    model, record = load(weights, device="cpu")
    names = list(record["classes"])
    C = len(names)
    table = _twin_table(record)
    allowed = torch.from_numpy(allowed_classes(names, priors, table).astype(np.float32))
    merge = torch.from_numpy(twin_groups(names, table))
    out_p = np.empty((n, C), np.float32)
    out_mi = np.empty(n, np.float32)
    out_mi_twins = np.empty(n, np.float32)
    out_rot = np.full(n, np.nan, np.float32)
    out_a = np.full(n, np.nan, np.float32)
    models = {}

    def get_model(d):
        key = str(d)
        if key not in models:
            models[key] = model.to(d).prepare_inference()
        return models[key]

    bar = _monotone(sub["classify"])
    # shares of one batch's time: descriptors, the Monte-Carlo passes, the lattice measurement
    done_desc, done_mc = (0.3, 0.5) if measure else (0.6, 1.0)

    def run(start, stop, d):
        def part(fraction, message):
            report(bar, start + fraction * (stop - start), n, message)

        idx = np.arange(start, stop)
        wins = np.ascontiguousarray(view[idx // nx, idx % nx])
        net = get_model(d)
        gen = torch.Generator(device=d)
        gen.manual_seed(int(seed))  # the same T sampled networks for every batch
        with torch.no_grad():
            if d.type == "cpu":  # per-window FFTs: chunking only adds progress steps, never changes a value
                chunks = range(0, len(wins), DESCRIPTOR_CHUNK)
                parts = []
                for j, lo in enumerate(chunks):
                    parts.append(D.descriptors(wins[lo:lo + DESCRIPTOR_CHUNK]))
                    part(done_desc * (j + 1) / len(chunks), "window descriptors")
                    check(cancel)
                desc_np = np.concatenate(parts)
                x = torch.from_numpy(desc_np)
            else:
                x = D.descriptors_torch(torch.from_numpy(wins).to(d))
                desc_np = None
                part(done_desc, "window descriptors")
            probs = net.mc_probabilities(x, passes, generator=gen)
            if priors:  # only the priors' classes (and their twins)
                probs = probs * allowed.to(probs.device)
                probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-30)
            mean, mi = _mutual_information(probs)
            _, mi_twins = _mutual_information(probs @ merge.to(probs.device))  # twins merged
        out_p[start:stop] = mean.float().cpu().numpy()
        out_mi[start:stop] = mi.float().cpu().numpy()
        out_mi_twins[start:stop] = mi_twins.float().cpu().numpy()
        part(done_mc, f"{passes} Monte-Carlo passes")
        if measure:
            if desc_np is None:
                desc_np = x.float().cpu().numpy()
            pred = out_p[start:stop].argmax(1)
            classes = np.unique(pred)
            measured = 0
            for c in classes:
                check(cancel)
                sel = pred == c
                r, a = L.measure(wins[sel], desc_np[sel], names[c], c_over_a.get(names[c].split(" ")[0]))
                out_rot[start:stop][sel] = r
                out_a[start:stop][sel] = a
                measured += int(sel.sum())
                part(done_mc + (1.0 - done_mc) * measured / len(pred), f"lattice of {names[c]}")
        return stop - start

    run_batched(run, n, batch_size, device=dev, progress=bar, cancel=cancel, message="classifying windows")

    read = resolve(names, out_p, out_a, out_rot, table, lattice_tolerance, priors)
    # an ambiguous window's uncertainty is that of the twins merged: their split is not a doubt
    mi_used = np.where(read.ambiguous, out_mi_twins, out_mi)
    unknown = read.unknown | (mi_used > threshold)
    ambiguous = read.ambiguous & ~unknown
    prob = out_p[np.arange(n), read.label]
    prob = prob + np.where(ambiguous, out_p[np.arange(n), np.maximum(read.alt_label, 0)], 0.0)
    # grid calibration in the input's units: window centres
    step_unit = convert(stride_res * D.SAMPLING, "angstrom", unit)
    centre_res = (w_px - 1) / 2.0
    ay, ax = ds.axes[-2], ds.axes[-1]

    def offset(axis):
        base = convert(axis.offset, axis.units, "angstrom") if axis.units else axis.offset * p_a
        return convert(base + centre_res * D.SAMPLING, "angstrom", unit)

    off_y, off_x = offset(ay), offset(ax)
    axes = (Axis(ay.name, ny, step_unit, off_y, unit), Axis(ax.name, nx, step_unit, off_x, unit))
    shape = (ny, nx)
    return ClassificationResult(
        labels=(read.label + 1).astype(np.int32).reshape(shape), probability=prob.reshape(shape).astype(np.float32),
        uncertainty=mi_used.reshape(shape).astype(np.float32), unknown=unknown.reshape(shape),
        rotation=read.rotation.reshape(shape), lattice_constant=read.a.reshape(shape),
        mean_probabilities=out_p.reshape(ny, nx, C), class_names=names, axes=axes, window_angstrom=float(window),
        stride_pixels=float(stride_res * f), passes=int(passes), threshold=float(threshold),
        ambiguous=ambiguous.reshape(shape),
        alternative_labels=np.where(ambiguous, read.alt_label + 1, 0).astype(np.int32).reshape(shape),
        alternative_lattice_constant=np.where(ambiguous, read.alt_a, np.nan).astype(np.float32).reshape(shape),
        priors=priors,
        info={"pixel_size_angstrom": p_a, "windows": n, "window_pixels_resampled": w_px,
              "stride_resampled": stride_res, "device": str(dev),
              "no_reading_in_range": int(read.unknown.sum())})
