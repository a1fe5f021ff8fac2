"""Centre of mass (CoM), differential phase contrast (DPC) and integrated phase (iDPC).

Conventions
-----------
* CoM in detector pixels: ``com_y`` along detector rows, ``com_x`` along columns.
* Calibrated CoM: ``k = offset + index * scale`` of the signal axes (e.g. 1/angstrom).
* DPC shift = CoM - reference (default: the mean CoM), so a uniform descan offset is removed.
* Phase gradient: for a thin phase object ``psi = probe * exp(i phi)`` and the Fourier
  convention ``psi(k) = sum psi(r) exp(-2 pi i k.r)`` (numpy's), the expectation of the
  diffraction-plane position is ``<k> = grad(phi) / (2 pi)``; hence
  ``grad(phi) = 2 pi * shift`` with ``shift`` in reciprocal length and ``phi`` in rad.
  This holds in the scan frame: on a real microscope the detector is rotated (and maybe
  mirrored) relative to the scan, so the shifts are first turned into the scan frame with
  :func:`rotate_shifts` by the scan rotation (:attr:`stemlab.Dataset.scan_rotation_deg`), or
  by the rotation :func:`find_dpc_rotation` finds on the data itself: the one that makes the
  CoM field curl-free, as the gradient of a phase must be.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import CalibrationError, ParameterError


def fit_plane(values: np.ndarray, *, robust: bool = True, iterations: int = 10):
    """Least-squares plane ``v ~ c0 + a @ index`` over the navigation grid of ``values``.

    Returns ``(c0, a, fitted)``: constant, gradient per navigation axis (value units per
    scan pixel) and the fitted array. ``robust`` reweights with Tukey's biweight
    (4.685 x MAD scale) so outliers (e.g. strong-contrast regions) hardly bias the fit.
    NaNs are ignored.
    """
    values = np.asarray(values, dtype=np.float64)
    grids = np.indices(values.shape).reshape(values.ndim, -1).T.astype(np.float64)
    design = np.concatenate([np.ones((grids.shape[0], 1)), grids], axis=1)
    v = values.ravel()
    w = np.isfinite(v).astype(np.float64)
    v0 = np.where(w > 0, v, 0.0)
    coef = np.zeros(design.shape[1])
    for _ in range(iterations if robust else 1):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(design * sw[:, None], v0 * sw, rcond=None)
        if not robust:
            break
        r = v0 - design @ coef
        good = w > 0
        mad = np.median(np.abs(r[good] - np.median(r[good]))) if good.any() else 0.0
        scale = 1.4826 * mad
        if scale <= 1e-12:
            break
        u = r / (4.685 * scale)
        w = np.where(np.isfinite(v) & (np.abs(u) < 1), (1 - u ** 2) ** 2, 0.0)
    fitted = (design @ coef).reshape(values.shape)
    return float(coef[0]), coef[1:].copy(), fitted


def dpc(com_y: np.ndarray, com_x: np.ndarray, reference=None, *, descan: bool = False) -> dict:
    """DPC maps from CoM maps (any consistent units).

    ``reference``: ``None`` (mean CoM), a ``(ry, rx)`` pair, or per-position arrays
    ``(ry, rx)``. ``descan=True`` subtracts a robust plane fit from each component instead
    (removes a linear descan and the mean). Returns ``shift_y``, ``shift_x``, ``magnitude``
    and ``angle`` (rad, ``atan2(shift_y, shift_x)``).
    """
    com_y, com_x = np.asarray(com_y, np.float64), np.asarray(com_x, np.float64)
    if com_y.shape != com_x.shape:
        raise ParameterError(f"com_y {com_y.shape} and com_x {com_x.shape} differ in shape.")
    if descan:
        sy = com_y - fit_plane(com_y)[2]
        sx = com_x - fit_plane(com_x)[2]
    else:
        if reference is None:
            ry, rx = np.nanmean(com_y), np.nanmean(com_x)
        else:
            ry, rx = reference
        sy, sx = com_y - ry, com_x - rx
    return {"shift_y": sy, "shift_x": sx, "magnitude": np.hypot(sy, sx), "angle": np.arctan2(sy, sx)}


def rotate_shifts(shift_y: np.ndarray, shift_x: np.ndarray, angle_rad: float, flip: bool = False):
    """Rotate detector-frame shifts by ``angle_rad`` (counter-clockwise in (x, y)) into the scan frame.

    ``flip`` first mirrors the detector columns (``x -> -x``).
    """
    sx = -shift_x if flip else shift_x
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return s * sx + c * shift_y, c * sx - s * shift_y


def _curl_and_divergence(shift_y, shift_x, step_y, step_x):
    """Curl (d sy/dx - d sx/dy) and divergence (d sx/dx + d sy/dy) by central differences, finite pixels."""
    dsy_dy, dsy_dx = np.gradient(shift_y, step_y, step_x)
    dsx_dy, dsx_dx = np.gradient(shift_x, step_y, step_x)
    curl, div = (dsy_dx - dsx_dy).ravel(), (dsx_dx + dsy_dy).ravel()
    good = np.isfinite(curl) & np.isfinite(div)
    return curl[good], div[good]


def find_dpc_rotation(shift_y: np.ndarray, shift_x: np.ndarray, step_y: float = 1.0, step_x: Optional[float] = None,
                      *, flip: Optional[bool] = None) -> dict:
    """Rotation (and flip) of the detector relative to the scan that makes the CoM field curl-free.

    A phase gradient has no curl, so the rotation ``theta`` that turns the detector-frame
    shifts into the scan frame (:func:`rotate_shifts`) is the one that minimises the summed
    squared curl of the rotated field, the standard DPC calibration. With C and D the curl
    and divergence of the unrotated field, the rotated curl is ``cos(theta) C + sin(theta) D``,
    so the minimum over theta is the smallest eigenvector of the 2 x 2 matrix of sums of
    C^2, CD, D^2: exact, no search. Both flips are tried (``flip=None``) and the one with
    less curl kept. Curl-freeness fixes theta up to 180 degrees; the branch whose integrated
    phase has positive skewness is chosen (atoms and particles are phase peaks on a flatter
    background), so pass the rotation explicitly when the sample is the opposite.

    Parameters
    ----------
    shift_y, shift_x : ndarray
        CoM shifts (any one unit) on a 2D scan grid, detector frame.
    step_y, step_x : float
        Scan steps (any one length unit; only their ratio matters).
    flip : bool or None
        Force the mirror (True/False) or try both (None).

    Returns
    -------
    dict
        ``rotation_deg`` (float, in [-180, 180)), ``flip`` (bool), ``curl_fraction`` (residual
        curl energy over curl + divergence energy: near 0 for a clean field) and
        ``curl_fraction_other_flip`` (the same for the rejected flip, NaN when forced).
    """
    shift_y, shift_x = np.asarray(shift_y, np.float64), np.asarray(shift_x, np.float64)
    if shift_y.ndim != 2 or shift_y.shape != shift_x.shape or min(shift_y.shape) < 3:
        raise ParameterError(f"find_dpc_rotation needs two 2D maps of equal shape, at least 3 x 3; got "
                             f"{shift_y.shape} and {shift_x.shape}.")
    step_x = step_y if step_x is None else step_x
    candidates = []
    for mirrored in ((False, True) if flip is None else (bool(flip),)):
        curl, div = _curl_and_divergence(shift_y, -shift_x if mirrored else shift_x, step_y, step_x)
        m = np.array([[curl @ curl, curl @ div], [curl @ div, div @ div]])
        values, vectors = np.linalg.eigh(m)
        total = values.sum()
        fraction = float(values[0] / total) if total > 0 else float("nan")
        c, s = vectors[:, 0]
        candidates.append((fraction, mirrored, float(np.arctan2(s, c))))
    candidates.sort(key=lambda t: (np.nan_to_num(t[0], nan=np.inf)))
    fraction, mirrored, angle = candidates[0]
    ry, rx = rotate_shifts(shift_y, shift_x, angle, mirrored)
    phase = integrate_phase(ry, rx, step_y, step_x)
    centred = phase - phase.mean()
    if np.mean(centred ** 3) < 0:  # the other 180-degree branch: phase peaks up
        angle += np.pi
    degrees = (np.degrees(angle) + 180.0) % 360.0 - 180.0
    other = candidates[1][0] if len(candidates) > 1 else float("nan")
    return {"rotation_deg": float(degrees), "flip": bool(mirrored), "curl_fraction": fraction,
            "curl_fraction_other_flip": float(other)}


def com_calibrated(com_y_px: np.ndarray, com_x_px: np.ndarray, ky_axis, kx_axis):
    """Convert pixel CoM to calibrated reciprocal coordinates using signal :class:`~stemlab.Axis` objects."""
    if not (ky_axis.calibrated and kx_axis.calibrated):
        raise CalibrationError(
            f"Signal axes {ky_axis.name!r}/{kx_axis.name!r} are uncalibrated: set the reciprocal pixel "
            "size (e.g. ds.with_axes(ky={'scale': 0.01, 'units': '1/angstrom'}, kx=...)).")
    return ky_axis.offset + com_y_px * ky_axis.scale, kx_axis.offset + com_x_px * kx_axis.scale


def integrate_phase(shift_y: np.ndarray, shift_x: np.ndarray, step_y: float = 1.0, step_x: Optional[float] = None,
                    *, regularization: float = 1e-6) -> np.ndarray:
    """Phase (rad) whose gradient is ``2 pi * (shift_y, shift_x)``, by Fourier integration.

    ``shift_*`` are CoM shifts in reciprocal length (e.g. 1/angstrom) on a scan grid with
    steps ``step_y``, ``step_x`` in the matching length (angstrom). With spatial
    frequencies ``(qy, qx)`` (cycles per length):
    ``phi(q) = (qy gy(q) + qx gx(q)) / (2 pi i (|q|^2 + eps))`` with ``g = 2 pi shift``,
    ``eps = regularization * max|q|^2`` (suppresses the near-DC noise blow-up); the
    ``q = 0`` term (undetermined constant) is set to 0, so the result has zero mean.
    NaNs are replaced by the mean shift. Periodic boundaries are assumed.
    """
    step_x = step_y if step_x is None else step_x
    gy = 2 * np.pi * np.nan_to_num(np.asarray(shift_y, np.float64), nan=np.nanmean(shift_y))
    gx = 2 * np.pi * np.nan_to_num(np.asarray(shift_x, np.float64), nan=np.nanmean(shift_x))
    if gy.ndim != 2 or gy.shape != gx.shape:
        raise ParameterError(f"integrate_phase needs two 2D maps of equal shape, got {gy.shape} and {gx.shape}.")
    qy = np.fft.fftfreq(gy.shape[0], d=step_y)[:, None]
    qx = np.fft.fftfreq(gy.shape[1], d=step_x)[None, :]
    q2 = qy ** 2 + qx ** 2
    eps = regularization * q2.max()
    num = qy * np.fft.fft2(gy) + qx * np.fft.fft2(gx)
    phase_q = num / (2j * np.pi * (q2 + eps))
    phase_q[0, 0] = 0.0
    return np.real(np.fft.ifft2(phase_q))


def com_dataset(ds, *, reference=None, descan: bool = False, rotation=None, flip=None, **kwargs) -> dict:
    """CoM, DPC and iDPC of a 4D :class:`~stemlab.Dataset` as Datasets on its scan axes.

    One pass of :func:`stemlab.diffraction.virtual_images` (``kwargs`` go there), then
    :func:`com_results`.
    """
    from .virtual import virtual_images

    res = virtual_images(ds, (), com=True, patterns=False, **kwargs)
    return com_results(ds, res["com_y"], res["com_x"], reference=reference, descan=descan, rotation=rotation,
                       flip=flip)


def com_results(ds, com_y_px, com_x_px, *, reference=None, descan: bool = False, rotation=None,
                flip=None) -> dict:
    """CoM maps (px) of ``ds`` turned into calibrated CoM / DPC / iDPC Datasets on its scan axes.

    Returns ``com_y``/``com_x`` (px), and when the signal axes are calibrated in reciprocal
    length: ``shift_y``/``shift_x``/``magnitude`` (their units), ``angle`` (rad) and
    ``phase`` (rad, when the scan axes are calibrated lengths). ``reference`` (px): ``None``
    (mean CoM), a ``(ry, rx)`` pair or per-position arrays, e.g. the fitted descan of
    :func:`stemlab.diffraction.find_direct_beam`; ``descan=True`` removes a plane fit instead.

    The shifts, angle and phase are in the scan frame: the detector-frame shifts are turned
    by ``rotation`` (degrees; ``None``: the dataset's ``scan_rotation_deg``; ``'auto'``: the
    curl-free rotation of :func:`find_dpc_rotation`) and mirrored by ``flip`` (``None``: the
    dataset's ``scan_flip``, or found with ``'auto'``). Every DPC Dataset records
    ``dpc_rotation_deg`` and ``dpc_flip`` in its metadata (and ``dpc_curl_fraction`` when found).
    """
    from dataclasses import replace

    from ..units import convert, is_reciprocal

    nav_axes = tuple(replace(a, navigate=False) for a in ds.nav_axes)
    kind = "image" if len(nav_axes) == 2 else "stack"
    out = {k: ds.with_data(v, axes=nav_axes, kind=kind, name=f"{ds.name} {k}".strip(), units="px")
           for k, v in (("com_y", com_y_px), ("com_x", com_x_px))}
    ky, kx = ds.sig_axes[-2:]
    if not (ky.calibrated and kx.calibrated and is_reciprocal(ky.units)):
        return out
    cy, cx = com_calibrated(com_y_px, com_x_px, ky, kx)
    if reference is not None:
        reference = com_calibrated(np.asarray(reference[0]), np.asarray(reference[1]), ky, kx)
    if kx.units != ky.units:
        cx = convert(cx, kx.units, ky.units)
        if reference is not None:
            reference = (reference[0], convert(reference[1], kx.units, ky.units))
    maps = dpc(cy, cx, reference, descan=descan)
    sy, sx = nav_axes[-2:] if len(nav_axes) == 2 else (None, None)
    scan_calibrated = sy is not None and sy.calibrated and sx.calibrated and not is_reciprocal(sy.units)
    length = ky.units[2:]
    step_y, step_x = (convert(sy.scale, sy.units, length), convert(sx.scale, sx.units, length)) if scan_calibrated \
        else (1.0, 1.0)
    geometry = _dpc_geometry(ds, maps, rotation, flip, step_y, step_x)
    if geometry["dpc_rotation_deg"] or geometry["dpc_flip"]:
        maps["shift_y"], maps["shift_x"] = rotate_shifts(maps["shift_y"], maps["shift_x"],
                                                         np.radians(geometry["dpc_rotation_deg"]), geometry["dpc_flip"])
        maps["angle"] = np.arctan2(maps["shift_y"], maps["shift_x"])
    for k, v in maps.items():
        out[k] = ds.with_data(v, axes=nav_axes, kind=kind, name=f"{ds.name} {k}".strip(), units=(
            "rad" if k == "angle" else ky.units), **geometry)
    if scan_calibrated:
        phase = integrate_phase(maps["shift_y"], maps["shift_x"], step_y, step_x)
        out["phase"] = ds.with_data(phase, axes=nav_axes, kind=kind, name=f"{ds.name} phase".strip(), units="rad",
                                    **geometry)
    return out


def _dpc_geometry(ds, maps, rotation, flip, step_y, step_x) -> dict:
    """{'dpc_rotation_deg', 'dpc_flip'[, 'dpc_curl_fraction']} from the options, the data or the dataset."""
    from ..calibration import parse_scan_rotation

    auto_rotation = isinstance(rotation, str) and rotation.strip().lower() == "auto"
    auto_flip = isinstance(flip, str) and flip.strip().lower() == "auto"
    if isinstance(flip, str) and not auto_flip:
        raise ParameterError(f"DPC flip must be True, False, None or 'auto', got {flip!r}.")
    if auto_rotation or auto_flip:
        if maps["shift_y"].ndim != 2:
            raise ParameterError(f"rotation='auto' needs a 2D scan; {ds.name!r} has scan shape "
                                 f"{maps['shift_y'].shape}.")
        forced = None if auto_flip or (flip is None and auto_rotation) else bool(flip)
        found = find_dpc_rotation(maps["shift_y"], maps["shift_x"], step_y, step_x, flip=forced)
        angle = found["rotation_deg"] if auto_rotation else (
            ds.scan_rotation_deg if rotation is None else parse_scan_rotation(rotation, "dpc rotation"))
        return {"dpc_rotation_deg": angle, "dpc_flip": found["flip"], "dpc_curl_fraction": found["curl_fraction"]}
    angle = ds.scan_rotation_deg if rotation is None else parse_scan_rotation(rotation, "dpc rotation")
    return {"dpc_rotation_deg": float(angle), "dpc_flip": ds.scan_flip if flip is None else bool(flip)}
