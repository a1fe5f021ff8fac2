"""The one data type that flows through stemlab: an array plus calibrated, named axes.

A :class:`Dataset` holds a numpy or (lazy) dask array, one :class:`Axis` per array
dimension (name, scale, offset, pint-valid unit, whether it navigates), a kind
("4dstem", "image", "video", "diffraction", "stack", "spectrum") and the instrument
metadata. Readers produce it, analyses consume it, and the napari layer keeps its scale,
translate, units and axis labels.

The scan geometry is calibration too: ``scan_rotation_deg`` and ``scan_flip`` say how the
scan grid sits on the detector (see :attr:`Dataset.scan_rotation_deg`). Results made with
:meth:`Dataset.with_data` keep them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import CalibrationError, ParameterError
from .units import normalize_unit

KINDS = ("4dstem", "image", "video", "diffraction", "stack", "spectrum", "spectrum_image")


@dataclass(frozen=True)
class Axis:
    """One calibrated array axis: physical coordinate = offset + index * scale, in ``units``."""

    name: str
    size: int
    scale: float = 1.0
    offset: float = 0.0
    units: str = ""
    navigate: bool = False

    def __post_init__(self):
        object.__setattr__(self, "units", normalize_unit(self.units))
        if not (self.scale > 0):
            raise CalibrationError(f"Axis {self.name!r}: scale must be positive, got {self.scale}.")

    @property
    def calibrated(self) -> bool:
        """True when the axis has a physical unit."""
        return self.units != ""


@dataclass
class Dataset:
    """A calibrated array: ``data`` (numpy or dask) with one :class:`Axis` per dimension.

    Attributes
    ----------
    scan_rotation_deg : float
        Scan rotation in degrees: the angle from the detector frame to the scan frame. A vector
        ``(x, y)`` measured on the detector (x along columns ``kx``, y along rows ``ky``) points
        along ``R(theta) F (x, y)`` in scan coordinates (x along ``scan_x``, y along ``scan_y``),
        with ``R(theta) = [[cos, -sin], [sin, cos]]`` and ``F`` = diag(-1, 1) when ``scan_flip``
        (detector columns mirrored) else the identity. 0 and False: scan and detector aligned.
    scan_flip : bool
        The detector image is mirrored relative to the scan (handedness change), see above.
    """

    data: Any
    axes: tuple[Axis, ...]
    kind: str = "image"
    name: str = ""
    metadata: dict = field(default_factory=dict)
    source: str | None = None
    scan_rotation_deg: float = 0.0
    scan_flip: bool = False

    def __post_init__(self):
        self.axes = tuple(self.axes)
        rotation = float(self.scan_rotation_deg)
        if not math.isfinite(rotation):
            raise CalibrationError(f"Dataset {self.name!r}: scan rotation must be a finite angle in degrees, "
                                   f"got {self.scan_rotation_deg!r}.")
        self.scan_rotation_deg = (rotation + 180.0) % 360.0 - 180.0
        self.scan_flip = bool(self.scan_flip)
        if len(self.axes) != self.data.ndim:
            raise ParameterError(
                f"Dataset {self.name!r}: {len(self.axes)} axes for an array of {self.data.ndim} dimensions."
            )
        for axis, size in zip(self.axes, self.data.shape):
            if axis.size != size:
                raise ParameterError(f"Axis {axis.name!r} says {axis.size} points, the array has {size}.")
        if self.kind not in KINDS:
            raise ParameterError(f"Unknown dataset kind {self.kind!r}; one of {KINDS}.")

    # -- views of the axes -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def nav_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.navigate)

    @property
    def sig_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.navigate)

    @property
    def nav_shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.nav_axes)

    @property
    def sig_shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.sig_axes)

    @property
    def scale(self) -> tuple[float, ...]:
        return tuple(a.scale for a in self.axes)

    @property
    def translate(self) -> tuple[float, ...]:
        return tuple(a.offset for a in self.axes)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(a.units for a in self.axes)

    @property
    def axis_labels(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def is_lazy(self) -> bool:
        return type(self.data).__module__.startswith("dask")

    @property
    def nbytes(self) -> int:
        return int(self.data.size) * self.data.dtype.itemsize

    # -- derived datasets --------------------------------------------------------------
    def with_axes(self, **changes_by_name: dict) -> "Dataset":
        """Copy with some axes changed, e.g. ``ds.with_axes(kx={'scale': 0.01, 'units': '1/nm'})``."""
        unknown = set(changes_by_name) - set(self.axis_labels)
        if unknown:
            raise ParameterError(f"No axis named {sorted(unknown)}; axes are {self.axis_labels}.")
        axes = tuple(replace(a, **changes_by_name.get(a.name, {})) for a in self.axes)
        return replace(self, axes=axes)

    def subset(self, **slices: slice) -> "Dataset":
        """The part given by a slice per axis name, calibration kept: ``ds.subset(scan_y=slice(0, 16))``."""
        unknown = set(slices) - set(self.axis_labels)
        if unknown:
            raise ParameterError(f"No axis named {sorted(unknown)}; axes are {self.axis_labels}.")
        index, axes = [], []
        for axis in self.axes:
            start, stop, step = slices.get(axis.name, slice(None)).indices(axis.size)
            index.append(slice(start, stop, step))
            axes.append(replace(axis, size=len(range(start, stop, step)), offset=axis.offset + start * axis.scale,
                                scale=axis.scale * step))
        return replace(self, data=self.data[tuple(index)], axes=tuple(axes))

    def with_data(self, data, axes=None, kind=None, name=None, **metadata) -> "Dataset":
        """A result on (part of) this dataset's axes, keeping its metadata and source."""
        return Dataset(
            data=data,
            axes=tuple(axes) if axes is not None else self.axes,
            kind=kind or self.kind,
            name=name or self.name,
            metadata={**self.metadata, **metadata},
            source=self.source,
            scan_rotation_deg=self.scan_rotation_deg,
            scan_flip=self.scan_flip,
        )

    @property
    def scan_geometry(self) -> dict:
        """``{'scan_rotation_deg': float, 'scan_flip': bool}``: the scan geometry, for result files."""
        return {"scan_rotation_deg": self.scan_rotation_deg, "scan_flip": self.scan_flip}

    def describe(self) -> str:
        """Human-readable summary: kind, shape, dtype and each axis with its calibration."""
        lines = [f"{self.name or '(unnamed)'}: {self.kind}, shape {self.shape}, {self.dtype}"
                 + (", lazy" if self.is_lazy else "")]
        for axis in self.axes:
            role = "nav" if axis.navigate else "sig"
            unit = axis.units or "px (uncalibrated)"
            lines.append(f"  {axis.name:<8} {role} {axis.size:>6} x {axis.scale:.6g} {unit}"
                         + (f" offset {axis.offset:.6g}" if axis.offset else ""))
        if self.nav_axes and self.sig_axes:
            lines.append(f"  scan rotation {self.scan_rotation_deg:g} deg"
                         + (", flipped (detector mirrored)" if self.scan_flip else ", not flipped"))
        return "\n".join(lines)


# -- arrays without calibration, and pixel checks -------------------------------------------------
SQUARE_PIXEL_TOLERANCE = 1e-3  # relative difference of two pixel sizes still called square


def square_pixels(y_axis: Axis, x_axis: Axis) -> bool:
    """Whether two axes (an image's rows and columns) have the same step within
    :data:`SQUARE_PIXEL_TOLERANCE` (relative); the one check every analysis uses."""
    return abs(y_axis.scale - x_axis.scale) <= SQUARE_PIXEL_TOLERANCE * max(abs(y_axis.scale), abs(x_axis.scale))


def default_layout(ndim: int, kind: str | None = None) -> tuple[str, list[str], list[bool]]:
    """Kind, axis names and navigate flags for an uncalibrated array of ``ndim`` dimensions.

    ``kind`` None guesses from ``ndim`` (2: image, 3: stack, 4: 4D-STEM); 'video' names the
    first of three axes ``t``; 'diffraction' makes the last two axes the detector (``ky``,
    ``kx``) and every leading axis navigate, named as in a 4D-STEM scan.
    """
    if kind == "video" and ndim == 3:
        return "video", ["t", "y", "x"], [True, False, False]
    if kind == "diffraction" and ndim >= 2:
        if ndim == 2:
            return "diffraction", ["ky", "kx"], [False, False]
        if ndim == 3:
            return "stack", ["frame", "ky", "kx"], [True, False, False]
        return default_layout(ndim)
    if ndim == 1:
        return "spectrum", ["signal"], [False]
    if ndim == 2:
        return "image", ["y", "x"], [False, False]
    if ndim == 3:
        return "stack", ["frame", "y", "x"], [True, False, False]
    extra = [f"frame{i}" if i else "depth" for i in range(ndim - 4)]
    return "4dstem", extra + ["scan_y", "scan_x", "ky", "kx"], [True] * (ndim - 2) + [False, False]


def as_dataset(data, kind: str | None = None, name: str = "") -> Dataset:
    """``data`` itself if it is a :class:`Dataset`, else the array wrapped with uncalibrated axes
    named by :func:`default_layout` (the one way stemlab turns a bare array into a Dataset)."""
    if isinstance(data, Dataset):
        return data
    import numpy as np

    array = data if hasattr(data, "ndim") and hasattr(data, "shape") else np.asarray(data)
    layout, names, navigate = default_layout(array.ndim, kind)
    axes = tuple(Axis(n, int(s), navigate=nav) for n, s, nav in zip(names, array.shape, navigate))
    return Dataset(array, axes, kind=layout, name=name)
