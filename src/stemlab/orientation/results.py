"""Orientation-mapping results: maps as Datasets, IPF colours, orix CrystalMap, .h5 / .ang export.

Orientation convention: ``rotation`` holds crystal->lab matrices R (v_lab = R @ v_crystal);
lab x = detector columns, lab y = detector rows, z = beam direction. The sample frame is the
scan's: x along ``scan_x``, y along ``scan_y``; the scan rotation and flip of the dataset
(:attr:`stemlab.Dataset.scan_rotation_deg`) turn lab into sample vectors,
v_sample = M @ v_lab with M = [[R2(theta) F, 0], [0, det F]], F = diag(-1, 1) when flipped
(then z points against the beam, so the sample frame stays right-handed). Everything that
leaves this module (orientations, IPF-x/y/z colours, the CrystalMap, .h5 / .ang files) is in
the sample frame; orix orientations map sample to crystal, so the CrystalMap holds
``Rotation.from_matrix((M R).T)``.
Navigation shapes: a 2D scan maps to the CrystalMap's rows/columns; one navigation axis
becomes one row; leading axes of a series of scans are stacked as extra rows. Positions are
the scan's calibrated coordinates (offset + index x step): in the scan's unit in the
CrystalMap and ``.h5``, in micrometres in ``.ang`` (the unit every .ang reader assumes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset import Axis, Dataset
from ..errors import ParameterError



@dataclass
class OrientationResult:
    """Per-position arrays from :func:`index_orientations` plus what is needed to interpret them."""

    dataset_axes: tuple
    library: object
    settings: object
    arrays: dict
    voltage_kv: float = 200.0
    name: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def nav_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays["phase"].shape)

    @property
    def phase_names(self) -> list[str]:
        return self.library.phase_names

    @property
    def rotations(self) -> np.ndarray:
        """Crystal->lab (detector frame) rotation matrices, nav_shape + (3, 3)."""
        return self.arrays["rotation"].reshape(self.nav_shape + (3, 3)).astype(np.float64)

    @property
    def scan_geometry(self) -> dict:
        """``{'scan_rotation_deg', 'scan_flip'}`` of the indexed dataset (0 and False when unknown)."""
        return {"scan_rotation_deg": float(self.metadata.get("scan_rotation_deg", 0.0)),
                "scan_flip": bool(self.metadata.get("scan_flip", False))}

    def lab_to_sample(self) -> np.ndarray:
        """The proper rotation M (3, 3) taking lab (detector-frame) vectors to the sample (scan) frame."""
        geometry = self.scan_geometry
        theta = np.radians(geometry["scan_rotation_deg"])
        c, s = np.cos(theta), np.sin(theta)
        flip = -1.0 if geometry["scan_flip"] else 1.0
        return np.array([[c * flip, -s, 0.0], [s * flip, c, 0.0], [0.0, 0.0, flip]])

    @property
    def sample_rotations(self) -> np.ndarray:
        """Crystal->sample rotation matrices M @ R, nav_shape + (3, 3): what exports and IPF maps use."""
        return np.einsum("ij,...jk->...ik", self.lab_to_sample(), self.rotations)

    def orientations(self, phase: int | None = None):
        """orix Orientation (sample to crystal) of every position (symmetry of ``phase``, default the first)."""
        from orix.quaternion import Orientation

        ph = self.library.phases[phase or 0]
        sym = ph.orix_phase().point_group
        R = self.sample_rotations.reshape(-1, 3, 3)
        return Orientation.from_matrix(np.transpose(R, (0, 2, 1)), symmetry=sym)

    # -- colours and maps ------------------------------------------------------------------
    def ipf_rgb(self, direction: str = "z") -> np.ndarray:
        """IPF colours (orix's TSL key of each phase's point group) of sample ``direction`` x, y or z."""
        from orix.plot import IPFColorKeyTSL
        from orix.quaternion import Orientation
        from orix.vector import Vector3d

        vec = {"x": Vector3d.xvector(), "y": Vector3d.yvector(), "z": Vector3d.zvector()}.get(direction)
        if vec is None:
            raise ParameterError(f"IPF direction {direction!r}: use 'x', 'y' or 'z'.")
        R = self.sample_rotations.reshape(-1, 3, 3)
        phase = self.arrays["phase"].reshape(-1)
        rgb = np.zeros((len(R), 3))
        for p, ph in enumerate(self.library.phases):
            sel = phase == p
            if not np.any(sel):
                continue
            sym = ph.orix_phase().point_group
            ori = Orientation.from_matrix(np.transpose(R[sel], (0, 2, 1)), symmetry=sym)
            rgb[sel] = IPFColorKeyTSL(sym, direction=vec).orientation2color(ori)
        return rgb.reshape(self.nav_shape + (3,)).astype(np.float32)

    def _axes(self):
        if self.dataset_axes:
            return tuple(self.dataset_axes)
        return ()

    def datasets(self) -> dict[str, Dataset]:
        """The maps as Datasets on the scan's axes: phase, ipf_x/y/z (RGB), correlation,
        orientation_reliability, phase_reliability."""
        axes = self._axes()
        out = {}
        meta = {"phase_names": self.phase_names, **self.scan_geometry}
        phase = self.arrays["phase"].astype(np.int32) + 1  # 0 = background in napari Labels
        out["phase"] = Dataset(phase, axes, kind="image" if len(axes) == 2 else "stack", name="phase", metadata=meta)
        for d in "xyz":
            rgb_axes = axes + (Axis("rgb", 3),)
            out[f"ipf_{d}"] = Dataset(self.ipf_rgb(d), rgb_axes, kind="image" if len(axes) == 2 else "stack",
                                      name=f"IPF {d}", metadata=meta)
        for key, src in (("correlation", "score"), ("orientation_reliability", "orientation_reliability"),
                         ("phase_reliability", "phase_reliability")):
            out[key] = Dataset(self.arrays[src].astype(np.float32), axes, kind="image" if len(axes) == 2 else "stack",
                               name=key.replace("_", " "), metadata=meta)
        return out

    # -- orix export -------------------------------------------------------------------------
    def _positions(self, unit: str | None = None, offsets: bool = True):
        """Map positions x, y (one per point, row-major, float) in ``unit`` (default the scan's own,
        'px' when uncalibrated) and the unit's name: see :meth:`crystal_map`."""
        from ..units import convert, normalize_unit

        shape = self.nav_shape
        if len(shape) == 0:
            shape2 = (1, 1)
        elif len(shape) == 1:
            shape2 = (1, shape[0])
        else:
            shape2 = (int(np.prod(shape[:-1])), shape[-1])
        axes = self._axes()
        ax_y = axes[-2] if len(axes) >= 2 else Axis("y", 1)
        ax_x = axes[-1] if len(axes) >= 1 else Axis("x", 1)
        own = ax_x.units or "px"
        factor = 1.0
        if unit is not None and normalize_unit(unit) != normalize_unit(ax_x.units):
            if not ax_x.units:
                raise ParameterError(f"The scan of {self.name!r} is uncalibrated: positions cannot be given in "
                                     f"{unit}; set the scan step (--scan-step, scan_step=).")
            factor = convert(1.0, ax_x.units, unit)
            own = {"micrometer": "um"}.get(normalize_unit(unit), normalize_unit(unit))
        ny, nx = shape2
        yy, xx = np.mgrid[0:ny, 0:nx]
        x = (ax_x.offset * offsets + xx * ax_x.scale) * factor
        y = (ax_y.offset * offsets + yy * ax_y.scale) * factor
        return x.ravel().astype(float), y.ravel().astype(float), own

    def _properties(self) -> dict:
        """The CrystalMap's per-point properties (float64)."""
        return {key: self.arrays[src].reshape(-1).astype(np.float64) for key, src in
                (("correlation", "score"), ("orientation_reliability", "orientation_reliability"),
                 ("phase_reliability", "phase_reliability"))}

    def crystal_map(self, unit: str | None = None, *, offsets: bool = True):
        """orix CrystalMap with phases, orientations (sample frame) and properties 'correlation',
        'orientation_reliability', 'phase_reliability'.

        Positions x, y are the scan's coordinates (offset + index x step) in ``unit`` (a length
        such as 'um'; default the scan's own unit, 'px' when uncalibrated); ``offsets=False``
        starts them at 0 (what orix's .ang writer needs: it indexes the map from 0).
        """
        from orix.crystal_map import CrystalMap, PhaseList
        from orix.quaternion import Rotation

        x, y, own = self._positions(unit, offsets)
        R = self.sample_rotations.reshape(-1, 3, 3)
        rot = Rotation.from_matrix(np.transpose(R, (0, 2, 1)))
        phases = PhaseList(phases=[p.orix_phase() for p in self.library.phases],
                           ids=list(range(len(self.library.phases))))
        return CrystalMap(rotations=rot, phase_id=self.arrays["phase"].reshape(-1).astype(int), x=x, y=y,
                          phase_list=phases, prop=self._properties(), scan_unit=own)

    def summary(self) -> str:
        """Patterns, phase shares, median correlation and the library's relrod width, in one line."""
        phase = self.arrays["phase"]
        shares = ", ".join(f"{n} {np.mean(phase == i) * 100:.0f}%" for i, n in enumerate(self.phase_names))
        return (f"{phase.size} patterns ({shares}), median correlation {np.median(self.arrays['score']):.2f}, "
                f"relrod width {self.library.params['s_width']:.4f} 1/A")

    def save(self, path) -> Path:
        """Write the CrystalMap: ``.h5`` (orix HDF5, positions in the scan's unit) or ``.ang`` (EDAX TSL,
        for MTEX/OIM; positions and steps in micrometres; CI = correlation), atomically (a failed
        write leaves nothing), or ``.npz`` (the :meth:`datasets` maps with their calibration). ``.h5``
        and ``.ang`` keep the scan offsets; orientations are in the sample frame."""
        from ..io.writers import atomic_write
        from ..results import save_datasets

        path = Path(path)
        ext = path.suffix.lower()
        if ext == ".npz":
            return save_datasets(self.datasets(), path)
        if ext not in (".h5", ".hdf5", ".ang"):
            raise ParameterError(f"Cannot write {path}: orientation maps are saved as .h5 (orix), .ang or .npz.")
        calibrated = bool(self._axes()) and bool(self._axes()[-1].units)
        with atomic_write(path) as tmp:
            if ext == ".ang":
                from orix import io as oio

                unit = "um" if calibrated else None
                xmap = self.crystal_map(unit, offsets=False)
                oio.save(str(tmp), xmap, confidence_index_prop="correlation", image_quality_prop="orientation_reliability",
                         extra_prop=["phase_reliability"])
                placed = self.crystal_map(unit)
                _ang_positions(tmp, placed.x, placed.y, xmap.dx, xmap.dy)
            else:
                self._write_orix_h5(tmp)
        return path

    def _write_orix_h5(self, path: Path) -> None:
        """The map in orix's HDF5 layout, written without orix (see :mod:`.orix_h5`)."""
        from .orix_h5 import write_orix_h5

        x, y, unit = self._positions()
        write_orix_h5(path, x, y, unit, np.transpose(self.sample_rotations.reshape(-1, 3, 3), (0, 2, 1)),
                      self.arrays["phase"].reshape(-1), self._properties(), self.library.phases)


def _ang_positions(path: Path, x, y, dx: float, dy: float) -> None:
    """Put the map's own x, y (offsets included) and exact steps into an .ang that orix wrote.

    orix's writer renumbers x, y from 0 with 5 decimals (10 pm in micrometres: too coarse for
    sub-nm scans); columns 4 and 5 and the XSTEP/YSTEP header lines are rewritten here.
    """
    lines = path.read_text().splitlines()
    x, y = np.asarray(x, float), np.asarray(y, float)
    out, i = [], 0
    for line in lines:
        if line.startswith("#"):
            key = line[1:].strip().split(":")[0]
            if key in ("XSTEP", "YSTEP"):
                step = dx if key == "XSTEP" else dy
                line = f"# {key}: {float(step):.9g}"
            out.append(line)
            continue
        cols = line.split()
        if len(cols) < 5:
            out.append(line)
            continue
        cols[3], cols[4] = f"{x[i]:.9g}", f"{y[i]:.9g}"
        out.append("  ".join(cols))
        i += 1
    if i != x.size:
        raise ParameterError(f"Writing {path.name}: {i} data rows for {x.size} map points.")
    path.write_text("\n".join(out) + "\n")
