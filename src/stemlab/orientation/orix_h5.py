"""Orientation maps in orix's HDF5 layout, written with h5py.

``orix.io.load`` reads these files as it reads its own (:func:`write_orix_h5`); ``stemlab orient``
writes them without importing orix, which costs ~4 CPU-s of start-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_orix_h5(path: Path, x: np.ndarray, y: np.ndarray, unit: str, rotations: np.ndarray,
                  phase_id: np.ndarray, properties: dict, phases) -> None:
    """Write a crystal map as ``orix.io.save`` would.

    Parameters
    ----------
    path : Path
        The ``.h5`` file to write.
    x, y : ndarray
        Point positions (n,), row-major, in ``unit``.
    unit : str
        Length unit of the positions (e.g. 'nm', 'px').
    rotations : ndarray
        Sample -> crystal rotation matrices (n, 3, 3), orix's convention.
    phase_id : ndarray
        Index of each point's phase in ``phases`` (n,).
    properties : dict
        Per-point float arrays (n,) stored as the map's properties.
    phases : sequence of Phase
        The phases, in index order.
    """
    import h5py

    data = {"y": y, "x": x, **dict(zip(("phi1", "Phi", "phi2"), _bunge_euler(rotations).T)),
            "phase_id": np.asarray(phase_id).astype(np.int64), "id": np.arange(x.size),
            "is_in_data": np.ones(x.size, bool), **properties}
    header = {"grid_type": "square", "ny": y.size, "nx": x.size, "y_step": _step(y), "x_step": _step(x),
              "rotations_per_point": 1, "scan_unit": unit,
              "phases": {str(i): _orix_phase_record(ph) for i, ph in enumerate(phases)}}
    with h5py.File(path, "w") as f:
        _write_group(f, {"manufacturer": "orix", "version": ORIX_FORMAT_VERSION,
                         "crystal_map": {"data": data, "header": header}})


ORIX_FORMAT_VERSION = "0.15.0"  # the orix release whose HDF5 layout write_orix_h5 writes


def _bunge_euler(g: np.ndarray) -> np.ndarray:
    """Bunge Euler angles (n, 3): phi1, Phi, phi2 in radians (phi1, phi2 in [0, 2 pi)) of
    rotation matrices g (n, 3, 3) in orix's convention (``Rotation.from_matrix(g).to_euler()``);
    at Phi = 0 or pi only phi1 +- phi2 is defined and phi2 = 0. g is first made orthonormal (the
    nearest rotation, by SVD): near Phi = 0 the angles come from small entries, where the rounding
    of single-precision matrices would turn them by up to ~0.03 deg."""
    U, _, Vt = np.linalg.svd(np.asarray(g, float))
    g = U @ Vt
    Phi = np.arccos(np.clip(g[:, 2, 2], -1.0, 1.0))
    general = np.hypot(g[:, 2, 0], g[:, 2, 1]) > 1e-9
    phi1 = np.where(general, np.arctan2(g[:, 2, 0], -g[:, 2, 1]), np.arctan2(g[:, 0, 1], g[:, 0, 0]))
    phi2 = np.where(general, np.arctan2(g[:, 0, 2], g[:, 1, 2]), 0.0)
    return np.stack([np.mod(phi1, 2 * np.pi), Phi, np.mod(phi2, 2 * np.pi)], axis=1)


def _step(coordinates: np.ndarray) -> float:
    """orix's step of a coordinate array: the smallest gap between its distinct values (0 if one)."""
    values = np.unique(coordinates)
    return float(values[1] - values[0]) if values.size > 1 else 0.0


def _orix_phase_record(phase) -> dict:
    """One phase of orix's HDF5 phase list: name, space and point group, colour, lattice and atoms.
    ``baserot`` turns diffpy's standard cartesian frame of the lattice into the crystal frame
    (a || x, c* || z; orix's and stemlab's): base = stdbase @ baserot."""
    st = phase.structure
    ca, cb, cg = np.cos(np.radians([st.alpha, st.beta, st.gamma]))
    sa, sb, sg = np.sin(np.radians([st.alpha, st.beta, st.gamma]))
    cos_gamma_star = (ca * cb - cg) / (sa * sb)
    sin_gamma_star = np.sqrt(1.0 - cos_gamma_star ** 2)
    a_star_inv = st.a * sb * sin_gamma_star  # 1 / |a*|
    stdbase = np.array([[a_star_inv, -cos_gamma_star / sin_gamma_star * a_star_inv, cb * st.a],
                        [0.0, st.b * sa, st.b * ca], [0.0, 0.0, st.c]])
    atoms = {str(i): {"element": s.element, "label": "", "occupancy": float(s.occupancy),
                      "xyz": np.asarray(s.xyz, float), "U": np.zeros((3, 3))} for i, s in enumerate(st.sites)}
    return {"name": phase.name, "space_group": int(phase.space_group) if phase.space_group else "None",
            "point_group": phase.point_group, "color": "tab:blue",
            "structure": {"atoms": atoms, "lattice": {
                "abcABG": np.array([st.a, st.b, st.c, st.alpha, st.beta, st.gamma], float),
                "baserot": np.linalg.solve(stdbase, st.direct_basis)}}}


def _write_group(group, record: dict) -> None:
    """A nested dict as HDF5 groups and datasets in orix's way: strings as one fixed-length byte
    string (length + 1), scalars as shape-(1,) datasets, arrays as they are."""
    for key, value in record.items():
        if isinstance(value, dict):
            _write_group(group.create_group(key), value)
        elif isinstance(value, str):
            group.create_dataset(key, data=np.array([value.encode()], dtype=f"S{len(value) + 1}"))
        elif np.ndim(value) == 0:
            group.create_dataset(key, data=np.array([value]))
        else:
            group.create_dataset(key, data=np.asarray(value))
