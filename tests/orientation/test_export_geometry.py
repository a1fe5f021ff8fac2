"""Orientation exports read back by orix: positions in micrometres (.ang) or the scan's unit (.h5) with
the scan offsets, and orientations in the sample (scan) frame, the scan rotation and flip applied.

Ground truth is built from the physical picture, not from the code's matrix: with scan rotation theta
the scan's x axis appears on the detector at angle -theta (mirrored when the scan is flipped), so the
lab-frame (detector) rotation of a known sample-frame orientation has those columns."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stemlab import Axis
from stemlab.orientation import OrientationResult, resolve_phase

EULER = np.radians([[30.0, 40.0, 50.0]])  # Bunge (phi1, Phi, phi2) of the sample-frame orientation


def _result(theta_deg, flip, shape=(3, 4)):
    from orix.quaternion import Rotation

    O = Rotation.from_euler(EULER).to_matrix()[0]  # orix: sample -> crystal
    S = O.T  # crystal -> sample
    t = np.radians(theta_deg)
    m = -1.0 if flip else 1.0
    # sample axes as seen in the lab (detector) frame: x_scan at angle -theta, mirrored when flipped;
    # with a flip the sample z points against the beam (a right-handed sample frame)
    sample_in_lab = np.column_stack([[m * np.cos(t), -np.sin(t), 0.0], [m * np.sin(t), np.cos(t), 0.0],
                                     [0.0, 0.0, m]])
    R_lab = sample_in_lab @ S  # crystal -> lab
    n = int(np.prod(shape))
    arrays = {"phase": np.zeros(shape, np.int64), "rotation": np.tile(R_lab.astype(np.float32), (n, 1, 1)),
              "score": np.full(shape, 0.8, np.float32), "orientation_reliability": np.full(shape, 40.0, np.float32),
              "phase_reliability": np.full(shape, 100.0, np.float32)}
    axes = (Axis("scan_y", shape[0], 2.0, 100.0, "nm", True), Axis("scan_x", shape[1], 2.5, 50.0, "nm", True))
    library = SimpleNamespace(phases=[resolve_phase("Al")], phase_names=["Al"])
    return OrientationResult(dataset_axes=axes, library=library, settings=None, arrays=arrays, name="map",
                             metadata={"scan_rotation_deg": theta_deg, "scan_flip": flip})


@pytest.mark.parametrize("theta, flip", [(0.0, False), (25.0, False), (-70.0, True)])
def test_ang_and_h5_read_back_by_orix(tmp_path, theta, flip):
    from orix import io as oio
    from orix.quaternion import Orientation

    res = _result(theta, flip)
    truth = Orientation.from_euler(EULER, symmetry=resolve_phase("Al").orix_phase().point_group)
    rows, cols = np.mgrid[0:3, 0:4]
    for suffix, scale in ((".ang", 1e-3), (".h5", 1.0)):  # .ang in micrometres, .h5 in the scan's nm
        xmap = oio.load(res.save(tmp_path / f"map{suffix}"))
        assert xmap.shape == (3, 4)
        np.testing.assert_allclose(xmap.x, ((50.0 + 2.5 * cols) * scale).ravel(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(xmap.y, ((100.0 + 2.0 * rows) * scale).ravel(), rtol=1e-6, atol=1e-9)
        assert xmap.dx == pytest.approx(2.5 * scale) and xmap.dy == pytest.approx(2.0 * scale)
        ori = Orientation(xmap.rotations, symmetry=truth.symmetry)
        assert np.max(ori.angle_with(truth, degrees=True)) < 0.01
        assert np.allclose(xmap.rotations.to_euler()[0], EULER[0], atol=1e-4)  # the same Euler angles
    assert "# XSTEP: 0.0025" in (tmp_path / "map.ang").read_text()


def test_ipf_x_follows_the_scan_axis():
    """Sample orientation = identity of an fcc crystal: the scan's x axis is [100], red in IPF-x, for any scan
    rotation; read in the detector frame (rotation ignored) it would not be."""
    global EULER
    saved, EULER = EULER, np.zeros((1, 3))
    try:
        for theta, flip in ((0.0, False), (33.0, False), (120.0, True)):
            rgb = _result(theta, flip).ipf_rgb("x")
            np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 0.0], atol=1e-3)
        ignored = _result(33.0, False)
        ignored.metadata = {}
        assert not np.allclose(ignored.ipf_rgb("x")[0, 0], [1.0, 0.0, 0.0], atol=0.05)
    finally:
        EULER = saved


def test_maps_record_the_scan_geometry():
    maps = _result(25.0, True).datasets()
    assert maps["ipf_x"].metadata["scan_rotation_deg"] == 25.0 and maps["phase"].metadata["scan_flip"] is True
    assert maps["phase"].axes[1].offset == 50.0 and maps["phase"].axes[1].units == "nm"


def test_h5_written_without_orix_reads_back_as_orix_writes_it(tmp_path):
    """``save('.h5')`` writes orix's HDF5 layout with h5py (``stemlab orient`` does not import orix):
    orix reads it back with the rotations, phases (hexagonal and orthorhombic lattices included),
    positions and properties of the same map written by orix's own writer."""
    from orix import io as oio
    from orix.quaternion import Rotation

    res = _result(25.0, True, shape=(4, 5))
    rng = np.random.default_rng(4)
    q = rng.normal(size=(20, 4))  # random rotations, seeded (orix's Rotation.random draws from the global state)
    R = Rotation(q / np.linalg.norm(q, axis=1, keepdims=True)).to_matrix()
    R[:3] = Rotation.from_euler([[0.3, 0.0, 0.0], [1.2, np.pi, 0.0], [0.0, 0.0, 0.0]]).to_matrix()  # Phi = 0, pi
    res.arrays["rotation"] = R.astype(np.float32)
    res.arrays["phase"] = rng.integers(0, 3, (4, 5))
    res.arrays["score"] = rng.random((4, 5)).astype(np.float32)
    phases = [resolve_phase(n) for n in ("Ti", "Fe3C", "WC")]
    res.library = SimpleNamespace(phases=phases, phase_names=[p.name for p in phases])
    ours = oio.load(res.save(tmp_path / "ours.h5"))
    theirs_path = tmp_path / "orix.h5"
    oio.save(str(theirs_path), res.crystal_map())
    theirs = oio.load(theirs_path)
    # 0.01 deg: orix turns the float32 matrices as they are, we first take the nearest rotation (SVD); they
    # differ by up to ~0.004 deg where the angles come from small entries
    assert np.max(ours.rotations.angle_with(theirs.rotations, degrees=True)) < 0.01
    np.testing.assert_array_equal(ours.phase_id, theirs.phase_id)
    for name in ("x", "y", "correlation", "orientation_reliability", "phase_reliability"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name))
    assert (ours.dx, ours.dy, ours.scan_unit) == (theirs.dx, theirs.dy, theirs.scan_unit)
    for (i, a), (j, b) in zip(ours.phases, theirs.phases):
        assert (i, a.name, a.space_group.number, a.point_group.name, a.color) == \
            (j, b.name, b.space_group.number, b.point_group.name, b.color)
        np.testing.assert_allclose(a.structure.lattice.base, b.structure.lattice.base, atol=1e-12)
        np.testing.assert_allclose(a.structure.lattice.baserot, b.structure.lattice.baserot, atol=1e-12)
        assert list(a.structure.element) == list(b.structure.element)
    # atoms: the CIF's fractional coordinates. orix's writer keeps the cartesian positions of diffpy's frame
    # when it turns a hexagonal lattice into its own (a || x), which moves the fractional ones: compare
    # with the phase's sites, and with orix's file where the frames agree (orthorhombic cementite)
    # (as sets: HDF5 lists the atom groups '0', '1', '10', ... in name order)
    def rows(xyz):
        xyz = np.round(np.asarray(xyz, float), 9)
        return xyz[np.lexsort(xyz.T)]

    for (_, a), phase in zip(ours.phases, phases):
        np.testing.assert_allclose(rows(a.structure.xyz), rows([s.xyz for s in phase.structure.sites]), atol=1e-9)
    np.testing.assert_allclose(rows(ours.phases[1].structure.xyz), rows(theirs.phases[1].structure.xyz), atol=1e-9)
