"""Orientation-mapping results: maps as Datasets, IPF colours, orix CrystalMap, .h5 / .ang export.

Orientation convention: ``rotation`` holds crystal->lab matrices R (v_lab = R @ v_crystal);
lab x = detector columns, lab y = detector rows, z = beam direction. orix orientations map
sample (lab) to crystal, so the CrystalMap holds ``Rotation.from_matrix(R.T)``.
Navigation shapes: a 2D scan maps to the CrystalMap's rows/columns; one navigation axis
becomes one row; leading axes of a series of scans are stacked as extra rows.
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
        """Crystal->lab rotation matrices, nav_shape + (3, 3)."""
        return self.arrays["rotation"].reshape(self.nav_shape + (3, 3)).astype(np.float64)

    def orientations(self, phase: int | None = None):
        """orix Orientation of every position (symmetry of ``phase``, default the first)."""
        from orix.quaternion import Orientation

        ph = self.library.phases[phase or 0]
        sym = ph.orix_phase().point_group
        R = self.rotations.reshape(-1, 3, 3)
        return Orientation.from_matrix(np.transpose(R, (0, 2, 1)), symmetry=sym)

    # -- colours and maps ------------------------------------------------------------------
    def ipf_rgb(self, direction: str = "z") -> np.ndarray:
        """IPF colours (orix's TSL key of each phase's point group) of lab ``direction`` x, y or z."""
        from orix.plot import IPFColorKeyTSL
        from orix.quaternion import Orientation
        from orix.vector import Vector3d

        vec = {"x": Vector3d.xvector(), "y": Vector3d.yvector(), "z": Vector3d.zvector()}.get(direction)
        if vec is None:
            raise ParameterError(f"IPF direction {direction!r}: use 'x', 'y' or 'z'.")
        R = self.rotations.reshape(-1, 3, 3)
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
        meta = {"phase_names": self.phase_names}
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
    def crystal_map(self):
        """orix CrystalMap with phases, orientations and properties 'correlation',
        'orientation_reliability', 'phase_reliability' (and 'ci' = correlation for .ang)."""
        from orix.crystal_map import CrystalMap, PhaseList
        from orix.quaternion import Rotation

        shape = self.nav_shape
        if len(shape) == 0:
            shape2 = (1, 1)
        elif len(shape) == 1:
            shape2 = (1, shape[0])
        else:
            shape2 = (int(np.prod(shape[:-1])), shape[-1])
        axes = self._axes()
        step_y = axes[-2].scale if len(axes) >= 2 else 1.0
        step_x = axes[-1].scale if len(axes) >= 1 else 1.0
        y0 = axes[-2].offset if len(axes) >= 2 else 0.0
        x0 = axes[-1].offset if len(axes) >= 1 else 0.0
        unit = (axes[-1].units if axes else "") or "px"
        ny, nx = shape2
        yy, xx = np.mgrid[0:ny, 0:nx]
        R = self.rotations.reshape(-1, 3, 3)
        rot = Rotation.from_matrix(np.transpose(R, (0, 2, 1)))
        phases = PhaseList(phases=[p.orix_phase() for p in self.library.phases],
                           ids=list(range(len(self.library.phases))))
        prop = {"correlation": self.arrays["score"].reshape(-1).astype(np.float64),
                "orientation_reliability": self.arrays["orientation_reliability"].reshape(-1).astype(np.float64),
                "phase_reliability": self.arrays["phase_reliability"].reshape(-1).astype(np.float64)}
        return CrystalMap(rotations=rot, phase_id=self.arrays["phase"].reshape(-1).astype(int),
                          x=(x0 + xx * step_x).ravel().astype(float), y=(y0 + yy * step_y).ravel().astype(float),
                          phase_list=phases, prop=prop, scan_unit=unit)

    def summary(self) -> str:
        """Patterns, phase shares, median correlation and the library's relrod width, in one line."""
        phase = self.arrays["phase"]
        shares = ", ".join(f"{n} {np.mean(phase == i) * 100:.0f}%" for i, n in enumerate(self.phase_names))
        return (f"{phase.size} patterns ({shares}), median correlation {np.median(self.arrays['score']):.2f}, "
                f"relrod width {self.library.params['s_width']:.4f} 1/A")

    def save(self, path) -> Path:
        """Write the result atomically: ``.h5`` (orix HDF5 CrystalMap) or ``.ang`` (EDAX TSL, for
        MTEX/OIM; CI = correlation), or ``.npz`` (the :meth:`datasets` maps with their calibration)."""
        from orix import io as oio

        from ..io.writers import atomic_write
        from ..results import save_datasets

        path = Path(path)
        ext = path.suffix.lower()
        if ext == ".npz":
            return save_datasets(self.datasets(), path)
        if ext not in (".h5", ".hdf5", ".ang"):
            raise ParameterError(f"Cannot write {path}: orientation maps are saved as .h5 (orix), .ang or .npz.")
        xmap = self.crystal_map()
        with atomic_write(path) as tmp:
            if ext == ".ang":
                oio.save(str(tmp), xmap, confidence_index_prop="correlation", image_quality_prop="orientation_reliability",
                         extra_prop=["phase_reliability"])
            else:
                oio.save(str(tmp), xmap)
        return path
