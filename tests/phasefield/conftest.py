"""Small synthetic videos for the phase-field tests."""

import pytest


@pytest.fixture(scope="session")
def small_video():
    """A 10-frame 48 x 48 Allen-Cahn growth video (ground truth in metadata)."""
    from stemlab.simulate.video import phase_transformation_video

    return phase_transformation_video(n_frames=10, shape=(48, 48), dose=50.0, seed=1, n_nuclei=1,
                                      nucleus_radius=0.5)
