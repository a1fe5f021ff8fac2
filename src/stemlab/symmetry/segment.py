"""Segmentation of atomic-resolution images and videos from local symmetry descriptors.

Pipeline: descriptors on a grid of ``stride`` px (:mod:`.descriptors`) -> max-pool over one
unit cell, Gaussian-smooth over half of one -> standardise each operation -> PCA ->
k-means (k-means++ initialised) with the number of segments chosen by the silhouette
score, skipping counts that split off an interface band (or given) -> principal-component maps upsampled bilinearly to every pixel -> one label per pixel.
Videos: the model (operations, scaling, PCA, cluster centres) is fitted on one or a few
frames and applied unchanged to every frame, so label k means the same thing at all times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend.progress import check, report, scaled
from ..dataset import Axis, Dataset, as_dataset, square_pixels
from ..errors import CalibrationError, ParameterError
from ..units import convert, parse_quantity
from .descriptors import grid_shape, symmetry_descriptors
from .lattice import lattice_spacing_px
from .operations import FAMILIES, OperationSet, make_operations

PATCH_PER_SPACING = 2.0  # default patch size (4 sigma of the window), in lattice spacings
# When the automatic count finds one segment with a default patch below RETRY_PATCH_PX, it
# tries again with a patch of RETRY_PATCH_PX: a patch of a few pixels holds too few samples
# for its correlations to rise above the noise (the 4.5 px fringes of the real high-entropy-
# alloy image gave one segment with 9 and 12 px patches, its twin lamellae with 16 and 20 px),
# while on larger spacings the 2-spacing patch resolves boundaries best.
RETRY_PATCH_PX = 20.0
DESCRIPTOR_BUDGET = 128 * 2**20  # bytes of float32 descriptors (n_ops x grid points) the automatic stride allows
WINDOW_PER_SPACING = 3.0  # default search-window diameter, in lattice spacings
K_MAX_PER_SPACING = 2.5  # band limit of the rotation/mirror basis: 2.5 reflections of the spacing
SMOOTH_PER_POOL = 0.5  # Gaussian smoothing of the pooled maps, sigma in pooling diameters
MAX_FIT_POINTS = 20000
MAX_SCORE_POINTS = 2000


@dataclass
class SymmetryModel:
    """Everything needed to segment new images the same way (video frames, other images)."""

    ops: OperationSet
    sigma_px: float
    stride: int
    k_max: float
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # (n_components, n_ops) in scaled-descriptor space
    explained_variance_ratio: np.ndarray
    clusterer: object
    n_segments: int
    order: np.ndarray  # cluster index -> label - 1
    fingerprints: np.ndarray  # (K, n_ops) mean raw descriptor of each segment (label order)
    scores: dict = field(default_factory=dict)  # K -> silhouette
    pool_px: float = 0.0
    margin_px: float = 0.0
    smooth_px: float = 0.0

    @property
    def operation_labels(self) -> list[str]:
        return self.ops.labels()

    def descriptors(self, image, *, device="auto", progress=None, cancel=None) -> np.ndarray:
        """Pooled descriptors (n_ops, gh, gw) of a 2D image, border extended (see :func:`prepare`)."""
        raw = symmetry_descriptors(image, self.ops, self.sigma_px, stride=self.stride, k_max=self.k_max,
                                   device=device, progress=progress, cancel=cancel)
        return prepare(raw, self.stride, self.pool_px, self.margin_px, self.smooth_px)[0]

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        """Descriptors (n_ops, gh, gw) -> principal-component maps (n_components, gh, gw)."""
        n, gh, gw = descriptors.shape
        return _projected(descriptors.reshape(n, -1), self.mean, self.scale, self.components).reshape(-1, gh, gw)

    def predict_points(self, pcs: np.ndarray) -> np.ndarray:
        """Labels 1..K for points (n, n_components)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # OpenMP spin-waits cost seconds on a loaded machine
            return self.order[self.clusterer.predict(pcs.astype(np.float64))] + 1

    def labels_from_maps(self, pcs: np.ndarray, shape) -> np.ndarray:
        """Pixel labels (shape) from grid PC maps, upsampled bilinearly (grid point i at pixel i*stride)."""
        H, W = shape
        full = upsample(pcs, self.stride, (H, W))
        labels = self.predict_points(full.reshape(len(full), -1).T)
        return labels.reshape(H, W).astype(np.int32)


def _projected(flat: np.ndarray, mean: np.ndarray, scale: np.ndarray, components: np.ndarray) -> np.ndarray:
    """PC maps (n_components, n_points) float32 of descriptors ``flat`` (n_ops, n_points):
    ``components @ ((flat - mean) / scale)`` folded into one float32 product (no scaled
    float64 copy of the descriptors)."""
    weights = (components / scale[None, :]).astype(np.float32)  # (C, n_ops)
    return weights @ flat.astype(np.float32, copy=False) - (weights @ mean.astype(np.float32))[:, None]


@dataclass
class SegmentationResult:
    """Labels (1..K, input's axes), PC maps (grid axes), fingerprints and, for videos, fractions."""

    labels: Dataset
    components: list[Dataset]
    fingerprints: np.ndarray
    operation_labels: list[str]
    operation_families: np.ndarray
    fractions: np.ndarray  # (n_frames, K) area fraction of each segment per frame
    model: SymmetryModel
    parameters: dict

    @property
    def n_segments(self) -> int:
        return self.model.n_segments

    def datasets(self) -> dict[str, Dataset]:
        """``labels`` (1..K on the input's axes, uint16 up to 65534 segments) and ``PC 1``.. (the
        principal-component maps on the descriptor grid)."""
        labels = self.labels.data
        labels = self.labels.with_data(np.asarray(labels).astype(np.uint16 if self.n_segments < 65535 else np.int32))
        return {"labels": labels, **{f"PC {i + 1}": c for i, c in enumerate(self.components)}}

    def save(self, path):
        """Write the labels image atomically with its calibration (format from the extension:
        .tif, .npy, .npz, .zarr, .h5)."""
        from ..io.writers import save_dataset

        return save_dataset(self.datasets()["labels"], path)

    def summary(self) -> str:
        """Segments, their mean area fractions, the patch, window and stride used and the number
        of symmetry operations."""
        p = self.parameters
        units = p["units"] or "px"
        return (f"{self.n_segments} segments (fractions {', '.join(f'{f:.3f}' for f in self.fractions.mean(0))}); "
                f"patch {p['patch']:.4g} {units}, window {p['window']:.4g} {units}, stride {p['stride']} px, "
                f"{p['n_operations']} operations")


def prepare(desc: np.ndarray, stride: int, pool_px: float, margin_px: float, smooth_px: float = 0.0):
    """Pool raw descriptors over one unit cell, smooth, and replace the border by its nearest
    interior.

    Rotation and mirror correlations about a pixel peak at the symmetry centres of the
    structure and so vary with the pixel's place in the unit cell; the maximum over a disk
    of diameter ``pool_px`` (one lattice spacing) makes every descriptor a property of the
    local structure instead. A Gaussian of standard deviation ``smooth_px`` then averages
    the pooled maps (noise down, segment boundaries stay within about a unit cell). Grid
    points closer than ``margin_px`` (window + largest
    translation + pooling radius) to the image edge see padded data: they take the value
    of the nearest interior point. Returns (pooled descriptors, (row slice, col slice) of
    the interior on the grid).
    """
    from scipy import ndimage

    n, gh, gw = desc.shape
    m = int(np.ceil(margin_px / stride))
    r0, r1 = (m, gh - m) if gh - 2 * m >= 4 else (0, gh)
    c0, c1 = (m, gw - m) if gw - 2 * m >= 4 else (0, gw)
    foot = None
    if pool_px > stride:
        r = pool_px / 2.0 / stride
        k = int(np.floor(r))
        yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
        foot = (yy**2 + xx**2) <= r**2 + 1e-9
    out = np.empty_like(desc)
    for i in range(n):  # one operation at a time: one output array, no full-size temporaries
        channel = desc[i]
        if foot is not None:
            channel = ndimage.maximum_filter(channel, footprint=foot, mode="nearest")
        if smooth_px > 0:
            sg = smooth_px / stride
            channel = ndimage.gaussian_filter(channel, sg, mode="nearest", truncate=3.0)
        if (r0, r1, c0, c1) != (0, gh, 0, gw):
            channel = np.pad(channel[r0:r1, c0:c1], ((r0, gh - r1), (c0, gw - c1)), mode="edge")
        out[i] = channel
    desc = out
    return desc, (slice(r0, r1), slice(c0, c1))


def upsample(maps: np.ndarray, stride: int, shape) -> np.ndarray:
    """(C, gh, gw) grid maps -> (C, H, W): bilinear, grid point i at pixel i * stride."""
    from scipy import ndimage

    if stride == 1:
        return maps[:, :shape[0], :shape[1]]
    rows = np.arange(shape[0]) / stride
    cols = np.arange(shape[1]) / stride
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return np.stack([ndimage.map_coordinates(m, [rr, cc], order=1, mode="nearest") for m in maps])


# -- fitting ---------------------------------------------------------------------------------
def fit_model(descriptor_stack: list[np.ndarray], ops: OperationSet, *, sigma_px: float, stride: int,
              k_max: float, segments="auto", max_segments: int = 6, n_components: int | None = None,
              seed: int = 0, cancel=None, pool_px: float = 0.0, margin_px: float = 0.0,
              interior=None, smooth_px: float = 0.0) -> SymmetryModel:
    """Fit scaling, PCA and clustering to pooled descriptors (list of (n_ops, gh, gw) arrays),
    using the grid points inside ``interior`` (row, col slices) only."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    interior = interior or (slice(None), slice(None))
    # the points are drawn first and only they are gathered: the full (points x operations)
    # float64 matrix of a 1024^2 image at stride 1 would take gigabytes
    inner = [d[:, interior[0], interior[1]] for d in descriptor_stack]
    sizes = [d.shape[1] * d.shape[2] for d in inner]
    rng = np.random.default_rng(seed)
    n_all = sum(sizes)
    pick = rng.choice(n_all, MAX_FIT_POINTS, replace=False) if n_all > MAX_FIT_POINTS else np.arange(n_all)
    starts = np.cumsum([0] + sizes)
    frame_of = np.searchsorted(starts, pick, side="right") - 1
    X = np.empty((len(pick), inner[0].shape[0]), np.float64)
    for f, d in enumerate(inner):
        sel = frame_of == f
        X[sel] = d.reshape(d.shape[0], -1)[:, pick[sel] - starts[f]].T
    mean = X.mean(0)
    std = X.std(0)
    std[std < 1e-6] = 1e-6
    # Plain standardisation keeps every operation's vote: equal weight per family lets 4 rotations
    # outvote 180 mirrors, but the mirror angles (lab frame) are what tells grains of one phase apart
    # (5 vs 12 degree grains merge).
    scale = std
    Z = (X - mean) / scale
    Zc = Z - Z.mean(0)
    evals, evecs = np.linalg.eigh(Zc.T @ Zc)
    evals, vt = np.clip(evals[::-1], 0, None), evecs[:, ::-1].T
    ratio = evals / max(evals.sum(), 1e-30)
    if n_components is None:
        n_components = int(np.clip(np.searchsorted(np.cumsum(ratio), 0.8) + 1, 2, 6))
    n_components = int(min(n_components, len(evals)))
    comps = vt[:n_components]
    Y = Z @ comps.T
    # PC map of the first fit frame's interior, to look at the clusters' shapes
    d0 = inner[0]
    grid_pcs = _projected(d0.reshape(d0.shape[0], -1), mean, scale, comps).T.reshape(*d0.shape[1:], -1).astype(float)
    thin_radius = 0.5 * 4 * sigma_px / stride  # half a patch, in grid steps
    check(cancel)

    def fit(k):
        # one thread: a few thousand points in a few dimensions take milliseconds, while
        # OpenMP threads spin-waiting on a loaded machine took seconds per fit
        with threadpool_limits(1):
            return KMeans(k, n_init=4, random_state=seed).fit(Y)

    scores = {}
    if segments in (None, "auto"):
        idx = rng.choice(len(Y), min(MAX_SCORE_POINTS, len(Y)), replace=False)
        best_k, best_score, best_model = 1, -1.0, None
        for k in range(2, max_segments + 1):
            check(cancel)
            model = fit(k)
            lab = model.labels_[idx]
            score = silhouette(Y[idx], lab)
            scores[k] = score
            if score > best_score and not interface_cluster(model, grid_pcs, thin_radius):
                best_k, best_score, best_model = k, score, model
        if best_model is None:  # every K had an interface cluster: plain silhouette
            best_k = max(scores, key=scores.get)
            best_score, best_model = scores[best_k], fit(best_k)
        if best_score < SINGLE_PHASE_SILHOUETTE:
            best_k, best_model = 1, fit(1)
        model, k = best_model, best_k
    else:
        k = int(segments)
        if k < 1:
            raise ParameterError(f"Number of segments must be 'auto' or a positive integer, got {segments!r}.")
        model = fit(k)
    lab = model.labels_
    counts = np.bincount(lab, minlength=k)
    order = np.empty(k, int)
    order[np.argsort(-counts, kind="stable")] = np.arange(k)  # largest segment -> label 1
    fingerprints = np.stack([X[order[lab] == j].mean(0) if np.any(order[lab] == j) else np.zeros(X.shape[1])
                             for j in range(k)])
    return SymmetryModel(ops, float(sigma_px), int(stride), float(k_max), mean, scale, comps,
                         ratio[:n_components], model, k, order, fingerprints.astype(np.float32), scores,
                         float(pool_px), float(margin_px), float(smooth_px))


SINGLE_PHASE_SILHOUETTE = 0.3
TRANSITION_DISTANCE = 0.5  # see interface_cluster()
THIN_SURVIVING = 0.25


def interface_cluster(model, grid_pcs: np.ndarray, thin_radius: float) -> bool:
    """True when one cluster looks like the band where the patch straddles an interface or a
    grain boundary: its centre lies on the way between two other centres (10-90 % along
    the segment c_a -> c_b, within TRANSITION_DISTANCE x |c_b - c_a| of it: its descriptors
    mix both sides) and it is thin (less than THIN_SURVIVING of its grid points survive an
    erosion by a disk of ``thin_radius`` grid steps, half a patch). With the silhouette alone
    such a band often wins one extra segment; the automatic count skips K that have one."""
    from scipy import ndimage

    centres = model.cluster_centers_
    k = len(centres)
    labels = None
    r = int(np.ceil(thin_radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = yy**2 + xx**2 <= thin_radius**2
    for c in range(k):
        between = False
        for a in range(k):
            for b in range(a + 1, k):
                if c in (a, b):
                    continue
                ab = centres[b] - centres[a]
                n2 = float(ab @ ab)
                if n2 <= 0:
                    continue
                lam = float((centres[c] - centres[a]) @ ab) / n2
                dist = np.linalg.norm(centres[a] + lam * ab - centres[c]) / np.sqrt(n2)
                between |= 0.1 <= lam <= 0.9 and dist < TRANSITION_DISTANCE
        if not between:
            continue
        if labels is None:
            with _one_thread():
                labels = model.predict(grid_pcs.reshape(-1, grid_pcs.shape[-1])).reshape(grid_pcs.shape[:2])
        mask = labels == c
        core = ndimage.binary_erosion(mask, structure=disk, border_value=1)
        if core.sum() < THIN_SURVIVING * max(mask.sum(), 1):
            return True
    return False


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def silhouette(X: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (Rousseeuw 1987) of points X with labels; -1 for one cluster."""
    uniq = np.unique(labels)
    if len(uniq) < 2:
        return -1.0
    sq = (X**2).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0))
    member = labels[None, :] == uniq[:, None]  # (k, n)
    sums = d @ member.T.astype(float)  # (n, k)
    sizes = member.sum(1).astype(float)
    own = np.searchsorted(uniq, labels)
    a = sums[np.arange(len(X)), own] / np.maximum(sizes[own] - 1, 1)
    mean_other = sums / sizes[None, :]
    mean_other[np.arange(len(X)), own] = np.inf
    b = mean_other.min(1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[sizes[own] <= 1] = 0.0
    return float(s.mean())


# -- parameters in physical units ----------------------------------------------------------
def _length_px(value, axis: Axis, what: str) -> float:
    """A length (float in the axis unit, or a string like '0.6nm' / '12px') in pixels."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("px"):
            return float(text[:-2])
        number, unit = parse_quantity(text, what)
        if unit == "":
            return number / axis.scale if axis.calibrated else number
        if not axis.calibrated:
            raise CalibrationError(f"{what} {value!r} is in {unit} but the image has no calibration; "
                                   "give it in pixels (e.g. '12px') or calibrate the image first.")
        return convert(number, unit, axis.units) / axis.scale
    return float(value) / axis.scale


def image_axes(ds: Dataset) -> tuple[Axis, Axis]:
    """The two image (y, x) axes: the last two."""
    if ds.ndim not in (2, 3):
        raise ParameterError(f"Symmetry segmentation needs an image or a video (2D or 3D), got {ds.ndim}D "
                             f"data {ds.shape}.")
    return ds.axes[-2], ds.axes[-1]


def resolve_parameters(ds: Dataset, *, patch=None, window=None, stride=None, k_max=None,
                       frame: int = 0) -> dict:
    """Patch, window (physical units and px), stride and band limit; defaults from the lattice
    spacing found in the power spectrum of ``frame`` (videos) or the image."""
    ay, ax = image_axes(ds)
    if not square_pixels(ay, ax):
        raise CalibrationError(f"Pixels are not square ({ay.scale:g} x {ax.scale:g} {ax.units}); "
                               "resample the image first.")
    spacing_px = None
    if patch is None or window is None or k_max is None:
        img = ds.data[frame] if ds.ndim == 3 else ds.data
        spacing_px = lattice_spacing_px(np.asarray(img))
    patch_px = _length_px(patch, ax, "patch") if patch is not None else PATCH_PER_SPACING * spacing_px
    window_px = _length_px(window, ax, "window") if window is not None else WINDOW_PER_SPACING * spacing_px
    if patch_px < 4:
        raise ParameterError(f"Patch of {patch_px:.3g} px is too small: use at least 4 px "
                             "(about 3 lattice spacings is typical).")
    sigma = patch_px / 4.0
    if k_max is None:
        k_max = min(0.5, K_MAX_PER_SPACING / spacing_px) if spacing_px else 0.25
    if stride in (None, "auto"):
        stride = max(1, int(round((spacing_px or 4 * sigma / PATCH_PER_SPACING) / 4)))
    pool_px = spacing_px if spacing_px else patch_px / PATCH_PER_SPACING
    return {"pool_px": float(pool_px), "smooth_px": float(SMOOTH_PER_POOL * pool_px), "patch_px": float(patch_px), "window_px": float(window_px), "sigma_px": float(sigma),
            "stride": int(stride), "k_max": float(k_max),
            "lattice_spacing_px": None if spacing_px is None else float(spacing_px),
            "lattice_spacing": None if spacing_px is None else float(spacing_px * ax.scale),
            "patch": float(patch_px * ax.scale), "window": float(window_px * ax.scale), "units": ax.units}


def budget_stride(n_ops: int, shape, budget: float = DESCRIPTOR_BUDGET) -> int:
    """Smallest grid step (px) whose float32 descriptors of ``n_ops`` operations on an image
    of ``shape`` fit ``budget`` bytes (1 024 x 1 024 px, 272 operations, 128 MiB: 3 px)."""
    step = 1
    while n_ops * 4 * np.prod(grid_shape(shape, step), dtype=float) > budget:
        step += 1
    return step


# -- the public entry point ------------------------------------------------------------------
def segment(data, *, patch=None, window=None, stride=None, segments="auto", max_segments: int = 6,
            families=FAMILIES, n_translations: int = 100, rotation_orders=(2, 3, 4, 6), n_mirrors: int = 180,
            n_components: int | None = None, fit_frames=None, k_max=None, device: str = "auto", seed: int = 0,
            progress=None, cancel=None) -> SegmentationResult:
    """Segment an atomic-resolution image or video into domains of equal local symmetry.

    Parameters
    ----------
    data : Dataset or array
        2D image or 3D video (t, y, x); square pixels.
    patch : float or str, optional
        Patch size (Gaussian window, 4 sigma across) in the image's units, or a string
        ('0.6nm', '20px'); default 2 lattice spacings.
    window : float or str, optional
        Search-window diameter, same units; default 3 lattice spacings.
    stride : int, optional
        Descriptor grid step, pixels (default lattice spacing / 4, coarser where the
        descriptors would exceed ``DESCRIPTOR_BUDGET`` bytes).
    segments : 'auto' or int
        'auto': silhouette over 2..``max_segments`` (1 if no clustering is convincing; with
        the default patch below ``RETRY_PATCH_PX`` px, one segment is checked once more with
        a patch of ``RETRY_PATCH_PX``).
    max_segments : int
        Largest number of segments tried by 'auto'.
    families, n_translations, rotation_orders, n_mirrors
        The symmetry operations: families among 'translations', 'rotations', 'mirrors'; the
        number of translations; the rotation orders; the number of mirror angles.
    n_components : int, optional
        Principal components kept (default: 80 % of the variance, 2..6).
    fit_frames : list of int, optional
        Frames of a video the model is fitted on (default: the first).
    k_max : float, optional
        Band limit of the rotation/mirror basis, cycles per pixel (default from the lattice).
    device : {'auto', 'cpu', 'cuda'}
        Torch device.
    seed : int
        Random seed of the clustering.
    progress, cancel
        ``progress(done, total, message)`` and a :class:`~stemlab.backend.progress.CancelToken`.

    Returns
    -------
    SegmentationResult
        ``labels`` (1..K on the input's axes), principal-component maps, fingerprints, per-frame
        area fractions; ``.datasets()``, ``.save(path)``, ``.summary()``.

    Examples
    --------
    >>> import stemlab
    >>> result = stemlab.segment(stemlab.sample_haadf())  # doctest: +SKIP
    >>> result.save("labels.tif")  # doctest: +SKIP

    References
    ----------
    Wang, Freysoldt, Zhang, Liebscher & Neugebauer, Microsc. Microanal. 27 (2021) 1454.
    """
    if not isinstance(data, Dataset) and np.ndim(data) not in (2, 3):
        raise ParameterError(f"Symmetry segmentation needs a 2D image or 3D video, got shape {np.shape(data)}.")
    ds = as_dataset(data if isinstance(data, Dataset) else np.asarray(data), kind="video")
    ay, ax = image_axes(ds)
    video = ds.ndim == 3
    n_frames = ds.shape[0] if video else 1
    frames = [0] if fit_frames is None else [int(f) for f in np.atleast_1d(fit_frames)]
    if video and any(not 0 <= f < n_frames for f in frames):
        raise ParameterError(f"fit_frames {frames} outside the video's {n_frames} frames.")

    def frame(i):
        return np.asarray(ds.data[i] if video else ds.data, dtype=np.float32)

    steps = n_frames + 1  # one descriptor computation per frame (fit frames reused) + clustering
    report(progress, 0, 1000, "symmetry descriptors")

    def fit_pass(patch_value, first, last):
        """Parameters, operations, descriptors of the fit frames and the model for one patch."""
        params = resolve_parameters(ds, patch=patch_value, window=window, stride=stride, k_max=k_max,
                                    frame=frames[0])
        ops = make_operations(params["window_px"], n_translations=n_translations,
                              rotation_orders=rotation_orders, n_mirrors=n_mirrors, families=families)
        if stride in (None, "auto"):  # keep the descriptors (n_ops x grid points, float32) within the budget
            params["stride"] = max(params["stride"], budget_stride(len(ops), (ay.size, ax.size)))
        params["margin_px"] = float(2 * params["sigma_px"] + ops.max_shift + params["pool_px"] / 2)
        fit_desc = {}
        for n, f in enumerate(frames):
            check(cancel)
            fit_desc[f], interior = _descriptors(frame(f), ops, params, device, cancel, scaled(
                progress, first + (last - first) * n // len(frames), first + (last - first) * (n + 1) // len(frames),
                1000))
        report(progress, last, 1000, "clustering")
        model = fit_model(list(fit_desc.values()), ops, sigma_px=params["sigma_px"], stride=params["stride"],
                          k_max=params["k_max"], segments=segments, max_segments=max_segments,
                          n_components=n_components, seed=seed, cancel=cancel, pool_px=params["pool_px"],
                          margin_px=params["margin_px"], interior=interior, smooth_px=params["smooth_px"])
        return params, ops, fit_desc, model

    step = len(frames)
    params, ops, fit_desc, model = fit_pass(patch, 0, int(1000 * step / steps))
    if segments in (None, "auto") and patch is None and model.n_segments == 1 \
            and params["patch_px"] < RETRY_PATCH_PX:
        first = {"patch_px": params["patch_px"], "silhouette": {int(k): float(v) for k, v in model.scores.items()}}
        del fit_desc  # free the first descriptors before the second pass
        params, ops, fit_desc, model = fit_pass(f"{RETRY_PATCH_PX:g}px", 0, int(1000 * step / steps))
        params["first_patch"] = first  # what the default patch gave (one segment)
    step += 1
    H, W = ay.size, ax.size
    labels = np.empty((n_frames, H, W), np.int32)
    pcs_all = []
    s = params["stride"]
    for i in range(n_frames):
        check(cancel)
        if i in fit_desc:
            desc = fit_desc[i]
        else:
            desc = _descriptors(frame(i), ops, params, device, cancel,
                                scaled(progress, int(1000 * step / steps), int(1000 * (step + 1) / steps), 1000,
                                       f"frame {i + 1}/{n_frames}: "))[0]
            step += 1
        pcs = model.project(desc)
        pcs_all.append(pcs)
        labels[i] = model.labels_from_maps(pcs, (H, W))
    K = model.n_segments
    fractions = np.stack([np.bincount(l.ravel(), minlength=K + 1)[1:] / l.size for l in labels])
    gh, gw = grid_shape((H, W), s)
    grid_axes = (Axis(ay.name, gh, ay.scale * s, ay.offset, ay.units), Axis(ax.name, gw, ax.scale * s, ax.offset, ax.units))
    lead = ds.axes[:1] if video else ()
    comp_ds = []
    for c in range(model.components.shape[0]):
        data = np.stack([p[c] for p in pcs_all]) if video else pcs_all[0][c]
        comp_ds.append(Dataset(data, lead + grid_axes, kind="video" if video else "image",
                               name=f"{ds.name or 'image'} symmetry PC{c + 1}",
                               metadata={"explained_variance_ratio": float(model.explained_variance_ratio[c])}))
    label_data = labels if video else labels[0]
    label_ds = Dataset(label_data, ds.axes, kind=ds.kind, name=f"{ds.name or 'image'} symmetry segments",
                       metadata={"symmetry_segmentation": {**params, "n_segments": K, "operations": ops.counts,
                                                           "silhouette": {int(k): float(v) for k, v in model.scores.items()},
                                                           "fractions": fractions.tolist()}},
                       source=ds.source)
    report(progress, 1000, 1000, "done")
    return SegmentationResult(label_ds, comp_ds, model.fingerprints, ops.labels(), ops.families, fractions, model,
                              {**params, "n_operations": len(ops), "operations": ops.counts, "n_segments": K,
                               "silhouette": model.scores, "fit_frames": frames if video else None})


def _descriptors(image, ops, params, device, cancel, progress):
    """Pooled descriptors of one frame and the interior slices (see :func:`prepare`)."""
    raw = symmetry_descriptors(image, ops, params["sigma_px"], stride=params["stride"], k_max=params["k_max"],
                               device=device, progress=progress, cancel=cancel)
    return prepare(raw, params["stride"], params["pool_px"], params["margin_px"], params["smooth_px"])


def _array_dataset(array) -> Dataset:
    array = np.asarray(array)
    if array.ndim == 2:
        return Dataset(array, (Axis("y", array.shape[0]), Axis("x", array.shape[1])), kind="image")
    if array.ndim == 3:
        return Dataset(array, (Axis("t", array.shape[0], navigate=True), Axis("y", array.shape[1]),
                               Axis("x", array.shape[2])), kind="video")
    raise ParameterError(f"Symmetry segmentation needs a 2D image or 3D video, got shape {array.shape}.")


def match_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Pixel accuracy after the best one-to-one matching of labels to truth classes (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    a = np.unique(labels, return_inverse=True)[1].ravel()
    b = np.unique(truth, return_inverse=True)[1].ravel()
    cm = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(cm, (a, b), 1)
    r, c = linear_sum_assignment(-cm)
    return float(cm[r, c].sum() / a.size)
