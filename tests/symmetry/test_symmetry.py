"""Symmetry descriptors against the per-patch reference, and segmentation against ground truth."""

import numpy as np
import pytest
from scipy import ndimage

from stemlab import Axis, Dataset
from stemlab.backend.progress import CancelToken
from stemlab.errors import CalibrationError, Cancelled, ParameterError
from stemlab.simulate.haadf import haadf_image
from stemlab.symmetry import (lattice_spacing_px, make_operations, match_accuracy, reference_descriptors, segment,
                              symmetry_descriptors)


PIXEL = 0.03  # nm: Al {200} spacing 0.2025 nm = 6.75 px, so a 192 px image holds ~28 spacings


@pytest.fixture(scope="module")
def sample():
    return haadf_image((192, 192), pixel_size=PIXEL, seed=1, dose=40)


@pytest.fixture(scope="module")
def sample_result(sample):
    return segment(sample, device="cpu")


def test_operations_counts():
    ops = make_operations(30, n_translations=100, n_mirrors=180)
    assert 80 <= ops.counts["translations"] <= 130
    assert ops.counts["rotations"] == 4 and ops.counts["mirrors"] == 180
    t = ops.translations
    assert np.all((t[:, 0] > 0) | ((t[:, 0] == 0) & (t[:, 1] > 0)))  # half plane: no t and -t twice
    assert len(ops.labels()) == len(ops) == len(ops.families)
    with pytest.raises(ParameterError):
        make_operations(30, families=())


def test_fast_descriptors_match_per_patch_reference():
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 1.5)
    ops = make_operations(12, n_translations=20, rotation_orders=(2, 3, 4, 6), n_mirrors=12)
    fast = symmetry_descriptors(img, ops, 4.0, stride=1, k_max=0.3, device="cpu")
    pts = rng.integers(20, 76, size=(25, 2))
    ref = reference_descriptors(img, ops, 4.0, pts)
    got = fast[:, pts[:, 0], pts[:, 1]].T
    fam = ops.families
    assert np.abs(got[:, fam == "translations"] - ref[:, fam == "translations"]).max() < 1e-4
    assert np.abs(got[:, fam != "translations"] - ref[:, fam != "translations"]).max() < 0.02
    # the torch path (the GPU code) run on the CPU gives the compiled kernel's numbers
    via_torch = symmetry_descriptors(img, ops, 4.0, stride=2, k_max=0.3, device="cpu", method="torch")
    np.testing.assert_allclose(via_torch, fast[:, ::2, ::2], atol=1e-5)
    # the stride grid samples the same values
    strided = symmetry_descriptors(img, ops, 4.0, stride=3, k_max=0.3, device="cpu")
    np.testing.assert_allclose(strided, fast[:, ::3, ::3], atol=1e-4)


def test_square_lattice_symmetries():
    """At an atomic column of a square lattice: 2- and 4-fold and the 0/45/90 degree mirrors hold."""
    y, x = np.mgrid[0:96, 0:96].astype(float)
    img = sum(np.exp(-((y - 8 * i) ** 2 + (x - 8 * j) ** 2) / 4.0) for i in range(13) for j in range(13))
    ops = make_operations(16, n_translations=30, n_mirrors=8)
    d = symmetry_descriptors(img, ops, 4.0, stride=1, k_max=0.35, device="cpu")[:, 48, 48]
    labels = ops.labels()
    get = dict(zip(labels, d))
    assert get["C2"] > 0.98 and get["C4"] > 0.98
    assert get["C3"] < 0.5 and get["C6"] < 0.5
    assert get["m 0.0"] > 0.98 and get["m 45.0"] > 0.98 and get["m 90.0"] > 0.98
    assert get["m 22.5"] < 0.8
    assert get["t(+8,+0)"] > 0.98 and get["t(+4,+0)"] < 0


def test_lattice_spacing(sample):
    # Al [001] at 0.03 nm/px: the strongest reflection is {200}, d = 0.2025 nm = 6.75 px
    assert lattice_spacing_px(sample.data) == pytest.approx(0.2025 / PIXEL, rel=0.03)


def test_segment_sample_image(sample, sample_result):
    res = sample_result
    truth = sample.metadata["ground_truth"]["labels"]
    assert res.n_segments == 3  # automatic count: two grains + precipitate
    assert match_accuracy(res.labels.data, truth) > 0.92
    lab = res.labels
    assert lab.data.shape == sample.shape and lab.data.dtype == np.int32
    assert lab.scale == sample.scale and lab.units == sample.units and lab.axis_labels == sample.axis_labels
    assert set(np.unique(lab.data)) == {1, 2, 3}
    assert res.fingerprints.shape == (3, len(res.operation_labels))
    s = res.parameters["stride"]
    assert res.components[0].scale == pytest.approx((PIXEL * s, PIXEL * s))
    assert res.parameters["patch"] == pytest.approx(2 * 0.202, rel=0.05)  # nm, from the lattice spacing


def test_grains_of_one_phase_at_different_orientations():
    """Three Al [001] grains at 12, 37 and 5 degrees: the 5 and 12 degree grains differ only by
    their orientation in the lab frame (mirror angles, translation vectors) and must not merge."""
    ds = haadf_image((192, 192), pixel_size=PIXEL, seed=3, dose=40, phases=("Al", "Al"),
                     rotations_deg=(12.0, 37.0, 5.0))
    truth = ds.metadata["ground_truth"]["labels"]
    res = segment(ds, device="cpu", n_mirrors=90)
    assert res.n_segments == 3
    assert match_accuracy(res.labels.data, truth) > 0.92
    # each segment's strongest mirror line is a mirror of its grain: angle = rotation (mod 45)
    mirrors = res.operation_families == "mirrors"
    angles = np.array([float(l.split()[1]) for l, f in zip(res.operation_labels, res.operation_families)
                       if f == "mirrors"])
    found = sorted(angles[np.argmax(fp[mirrors])] % 45 for fp in res.fingerprints)
    assert found == pytest.approx([5.0, 12.0, 37.0], abs=2.5)


def test_grain_boundary_is_not_a_segment():
    """Two Al grains (12 and 37 degrees) meeting at a curved boundary: two segments, not a
    third one for the band where the patch straddles the boundary."""
    full = haadf_image((384, 192), pixel_size=PIXEL, seed=3, dose=40, phases=("Al", "Al"),
                       rotations_deg=(12.0, 37.0, 12.0))
    image = np.asarray(full.data)[:192]  # the top half: no precipitate ellipse
    truth = full.metadata["ground_truth"]["labels"][:192]
    assert set(np.unique(truth)) == {0, 1}
    res = segment(Dataset(image, (Axis("y", 192, PIXEL, 0, "nm"), Axis("x", 192, PIXEL, 0, "nm"))), device="cpu")
    assert res.n_segments == 2
    assert match_accuracy(res.labels.data, truth) > 0.95


@pytest.mark.slow
def test_model_reused_on_new_image_and_fixed_k(sample, sample_result):
    model = sample_result.model
    other = haadf_image((192, 192), pixel_size=PIXEL, seed=1, dose=20)  # same structure, new noise
    pcs = model.project(model.descriptors(other.data, device="cpu"))
    labels = model.labels_from_maps(pcs, other.shape)
    assert match_accuracy(labels, sample_result.labels.data) > 0.9
    fixed = segment(sample, segments=2, device="cpu", families=("rotations", "mirrors"), n_mirrors=36)
    assert fixed.n_segments == 2


@pytest.mark.slow
def test_video_labels_consistent_over_time():
    base = haadf_image((128, 256), pixel_size=PIXEL, seed=2, dose=40, phases=("Al", "Al"),
                       rotations_deg=(12.0, 37.0, 12.0))
    frames = np.stack([np.asarray(base.data)[:, 0:128], np.asarray(base.data)[:, 64:192],
                       np.asarray(base.data)[:, 128:256]])
    axes = (Axis("t", 3, 0.5, 0.0, "s", True), Axis("y", 128, PIXEL, 0, "nm"), Axis("x", 128, PIXEL, 0, "nm"))
    video = Dataset(frames, axes, kind="video", name="video")
    res = segment(video, segments=2, n_mirrors=36, device="cpu")
    assert res.labels.data.shape == frames.shape
    assert res.labels.axes == video.axes
    assert res.fractions.shape == (3, 2)
    np.testing.assert_allclose(res.fractions.sum(1), 1.0)
    truth = np.stack([base.metadata["ground_truth"]["labels"][:, a:a + 128] for a in (0, 64, 128)])
    truth = np.where(truth == 2, 0, truth)
    # one labelling for all frames: matched once over the whole video
    assert match_accuracy(res.labels.data, truth) > 0.8
    # the second grain's fraction grows as the view moves right
    grain_b = np.argmax([np.mean(res.labels.data[2] == k) for k in (1, 2)])
    assert res.fractions[0, grain_b] < res.fractions[2, grain_b]


def test_errors_and_cancel(sample):
    with pytest.raises(ParameterError):
        segment(np.zeros(10))
    uncal = np.asarray(sample.data)
    with pytest.raises(CalibrationError):
        segment(uncal, patch="0.4nm")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        segment(sample, cancel=token, device="cpu")


def test_cli_writes_calibrated_labels(tmp_path, sample):
    import argparse

    from stemlab.io import load_one
    from stemlab.io.writers import save_dataset
    from stemlab.cli import segment as command

    src = save_dataset(sample, tmp_path / "in.npz")
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "labels.tif"
    args = parser.parse_args(["segment", str(src), "--segments", "3", "--families", "translations,rotations",
                              "-o", str(out)])
    assert args.func(args) == 0
    back = load_one(out, lazy=False)
    assert back.shape == sample.shape
    assert back.axes[-1].scale == pytest.approx(PIXEL) and back.axes[-1].units == "nm"
    assert set(np.unique(np.asarray(back.data))) == {1, 2, 3}
