"""The result of a strain map: calibrated maps, an atomic .npz writer and a text summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..dataset import Dataset
from ..errors import ParameterError

STRAIN_KEYS = ("exx", "eyy", "exy")
MAP_KEYS = ("exx", "eyy", "exy", "theta", "error", "n_disks", "mask")


@dataclass
class StrainResult:
    """Strain, rotation and fit quality per scan position.

    Attributes
    ----------
    maps : ``exx, eyy, exy`` (fractions), ``theta`` (degrees, +x towards +y), ``error`` (weighted RMS
        distance of the disks from the fitted lattice, detector pixels), ``n_disks`` (disks used) and
        ``mask`` (True where the pattern could not be fitted; strain and theta are NaN there).
    lattice : (scan..., 2, 2) fitted lattice per position after the ellipse correction (columns g1,
        g2 as (x, y) detector pixels).
    basis : 2 x 2 reference lattice (columns g1, g2, pixels): the median over the reference region.
    basis_indices : the (h, k) of g1 and g2 on the automatic basis when they were given.
    correction : 2 x 2 elliptical-distortion correction applied to every lattice.
    reference : boolean mask of the reference region on the scan.
    scan_axes : the scan's calibrated axes; ``k_axes`` the detector's (ky, kx).
    frame : text naming the frame of exx/eyy/exy; ``frame_angle`` degrees from detector +x.
    disks : (scan..., m, 3) detected disks (x, y, correlation), NaN padded (kept in memory only).
    """

    maps: dict
    lattice: np.ndarray
    basis: np.ndarray
    correction: np.ndarray
    reference: np.ndarray
    scan_axes: tuple
    k_axes: tuple
    frame: str = "detector"
    frame_angle: float = 0.0
    basis_indices: Optional[np.ndarray] = None
    disks: Optional[np.ndarray] = None
    settings: dict = field(default_factory=dict)

    @property
    def nav_shape(self) -> tuple:
        return tuple(a.size for a in self.scan_axes)

    def datasets(self) -> dict[str, Dataset]:
        """The maps as Datasets on the scan's calibrated axes; strain in %, theta in degrees."""
        kind = "image" if len(self.scan_axes) == 2 else "stack"
        out = {}
        for key in MAP_KEYS:
            value = self.maps[key]
            units = {"theta": "deg", "error": "px", "n_disks": "", "mask": ""}.get(key, "%")
            data = value * 100.0 if key in STRAIN_KEYS else value
            name = {"exx": "strain exx", "eyy": "strain eyy", "exy": "strain exy", "theta": "rotation theta",
                    "error": "fit error", "n_disks": "disks used", "mask": "not fitted"}[key]
            dtype = np.uint8 if key == "mask" else (np.int32 if key == "n_disks" else np.float32)
            out[key] = Dataset(np.asarray(data).astype(dtype), self.scan_axes, kind=kind, name=name,
                               metadata={"value_units": units, "frame": self.frame})
        return out

    def calibration(self) -> dict:
        """JSON-safe scan and detector calibration, frame and basis."""
        axes = [{"name": a.name, "size": a.size, "scale": a.scale, "offset": a.offset, "units": a.units,
                 "navigate": a.navigate} for a in tuple(self.scan_axes) + tuple(self.k_axes)]
        return {"axes": axes, "frame": self.frame, "frame_angle_deg": self.frame_angle,
                "strain_units": "fraction", "theta_units": "deg", "error_units": "px",
                "vectors": "(x, y) detector pixels, x = column, y = row", "settings": self.settings}

    def save(self, path) -> Path:
        """Write ``.npz``: exx, eyy, exy, theta, error, n_disks, mask, basis (g1, g2 as columns, px),
        g1, g2, basis_k (1/length when the detector is calibrated), correction, lattice, reference and
        calibration (JSON); atomically (a failed write leaves nothing)."""
        from ..io.writers import atomic_write

        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise ParameterError(f"Cannot write {path}: strain maps are saved as .npz; name it OUT.npz.")
        arrays = {key: np.asarray(self.maps[key]) for key in MAP_KEYS}
        arrays.update(basis=self.basis, g1=self.basis[:, 0], g2=self.basis[:, 1], correction=self.correction,
                      lattice=self.lattice.astype(np.float32), reference=self.reference,
                      basis_k=self.basis * np.array([[self.k_axes[1].scale], [self.k_axes[0].scale]]),
                      calibration=np.array(json.dumps(self.calibration())))
        if self.basis_indices is not None:
            arrays["basis_indices"] = np.asarray(self.basis_indices)
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    def summary(self) -> str:
        """A few lines: positions fitted, basis, strain range, precision in the reference region."""
        mask = np.asarray(self.maps["mask"], bool)
        fitted = ~mask
        ref = self.reference & fitted
        g1, g2 = self.basis[:, 0], self.basis[:, 1]
        unit = self.k_axes[0].units or "px"
        ks = self.k_axes[1].scale if self.k_axes[0].units else 1.0
        lines = [f"strain map: {fitted.sum()} of {mask.size} positions fitted "
                 f"({int(np.median(self.maps['n_disks'][fitted])) if fitted.any() else 0} disks per pattern, "
                 f"median fit error {np.nanmedian(self.maps['error']) if fitted.any() else float('nan'):.3f} px)",
                 f"basis g1 = ({g1[0]:.2f}, {g1[1]:.2f}) px, |g1| = {np.hypot(*g1) * ks:.4g} {unit}; "
                 f"g2 = ({g2[0]:.2f}, {g2[1]:.2f}) px, |g2| = {np.hypot(*g2) * ks:.4g} {unit}",
                 f"frame: {self.frame}"]
        for key in STRAIN_KEYS + ("theta",):
            v = self.maps[key][fitted]
            r = self.maps[key][ref]
            f, u = (100.0, "%") if key in STRAIN_KEYS else (1.0, " deg")
            if v.size:
                lines.append(f"  {key:<5} {np.percentile(v, 1) * f:+.3f} to {np.percentile(v, 99) * f:+.3f}{u} "
                             f"(1-99 %), std in the reference {np.std(r) * f:.3f}{u}")
        return "\n".join(lines)

