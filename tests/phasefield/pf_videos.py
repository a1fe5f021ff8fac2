"""Videos that follow no phase-field model (for the poor-fit tests and the benchmark)."""

import numpy as np

from stemlab import Axis, Dataset


def rigid_pattern_video(n_frames=16, shape=(64, 64), dose=40.0, seed=0) -> Dataset:
    """A bright disk gliding across a static lattice at constant speed: no phase-field model."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    lattice = 1 + 0.3 * np.cos(2 * np.pi * yy / 6.0) * np.cos(2 * np.pi * xx / 6.0)
    frames = []
    for k in range(n_frames):
        cx = 12 + 2.0 * k
        disk = 0.5 * (1 + np.tanh((10 - np.hypot(yy - ny / 2, xx - cx)) / 1.5))
        frames.append(dose * lattice * (1 + 0.8 * disk))
    clean = np.array(frames)
    data = rng.poisson(clean).astype(np.float32)
    axes = (Axis("t", n_frames, 0.5, 0, "s", True), Axis("y", ny, 0.04, 0, "nm"), Axis("x", nx, 0.04, 0, "nm"))
    return Dataset(data, axes, kind="video", name="rigid pattern")


def noise_video(n_frames=16, shape=(64, 64), dose=40.0, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    data = rng.poisson(dose, size=(n_frames,) + tuple(shape)).astype(np.float32)
    axes = (Axis("t", n_frames, 0.5, 0, "s", True), Axis("y", shape[0], 0.04, 0, "nm"),
            Axis("x", shape[1], 0.04, 0, "nm"))
    return Dataset(data, axes, kind="video", name="pure noise")
