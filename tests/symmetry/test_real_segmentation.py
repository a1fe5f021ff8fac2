"""Automatic segmentation of the real high-entropy-alloy HAADF image (../shared/data/images).

The image (1024 x 1024, 4.5 px lattice fringes) shows twin lamellae: straight bands about
50 px wide running from the top left to the bottom right. With the default settings the
automatic count must find them (2-3 segments) and the segment boundaries must run along the
bands. The band direction is measured here from the image itself (the structure tensor of
the image smoothed far beyond the fringes), independently of the segmentation.
"""

import numpy as np
import pytest
from scipy import ndimage


def band_direction(image: np.ndarray) -> float:
    """Angle (radians, x right, y down) along the bands: normal to the dominant smoothed gradient."""
    gy, gx = np.gradient(ndimage.gaussian_filter(image.astype(float), 12))
    across = 0.5 * np.arctan2(2 * (gx * gy).mean(), (gx * gx).mean() - (gy * gy).mean())
    return across + np.pi / 2


def label_change(labels: np.ndarray, angle: float, distance: float = 10, margin: int = 40) -> float:
    """Fraction of pixels whose label differs from the one ``distance`` px away along ``angle``."""
    moved = ndimage.shift(labels.astype(float), (distance * np.sin(angle), distance * np.cos(angle)), order=0,
                          mode="nearest")
    return float((moved != labels)[margin:-margin, margin:-margin].mean())


@pytest.mark.slow
def test_auto_segments_follow_the_twin_lamellae(shared_data):
    from stemlab.io import load_one
    from stemlab.symmetry import segment

    path = shared_data / "images" / "haadf_high_entropy_alloy.npy"
    if not path.exists():
        pytest.skip(f"{path} not found")
    ds = load_one(path)
    result = segment(ds)
    labels = np.asarray(result.labels.data)
    assert 2 <= result.n_segments <= 3, result.parameters
    assert labels.shape == (1024, 1024)
    assert result.fractions.min() > 0.05  # every segment is a real region, not a speck
    along = band_direction(np.asarray(ds.data))
    assert 50 < np.degrees(along) % 180 < 80  # top left to bottom right, steep (what the image shows)
    angles = np.radians(np.arange(0, 180, 5))
    changes = np.array([label_change(labels, a) for a in angles])
    # the labels change least along the bands and most across them
    quietest = angles[changes.argmin()]
    assert abs((np.degrees(quietest - along) + 90) % 180 - 90) < 20
    assert label_change(labels, along) < 0.75 * label_change(labels, along + np.pi / 2)
    # the default 2-spacing patch (9 px here) found one segment; the retry with a larger one the lamellae
    assert result.parameters["first_patch"]["patch_px"] < result.parameters["patch_px"]
