"""Small simulated images for the classifier tests (cached per session)."""

import pytest

from stemlab import Axis, Dataset
from stemlab.classifier import synthetic as S
from stemlab.simulate.projections import projection


@pytest.fixture(scope="session")
def bicrystal_ds():
    """fcc [110] | bcc [100] bicrystal, 0.1 angstrom pixels (in nm), vertical boundary."""
    img, grain, dist, params = S.bicrystal((360, 360), 0.1, projection("fcc [110]"), projection("bcc [100]"),
                                           rotation_a=12.0, rotation_b=33.0, seed=3,
                                           params={"dose": 3000.0, "read_noise": 0.5, "column_scatter": 0.05, "tilt": 0.0,
                                                   "amorphous": 0.0, "probe_tail": 0.0, "gamma": 1.0,
                                                   "drift": (0.0, 0.0), "background": 0.3, "sharp": 0.0,
                                                   "depth_contrast": 0.0, "column_shape": 0.0})
    axes = (Axis("y", 360, 0.01, 0.5, "nm"), Axis("x", 360, 0.01, -0.2, "nm"))
    ds = Dataset(img, axes, kind="image", name="bicrystal")
    return ds, grain, dist
