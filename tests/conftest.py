"""Shared fixtures: where the real instrument files live, small synthetic datasets."""

from pathlib import Path

import numpy as np
import pytest

from stemlab import Axis, Dataset

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """Folder of real instrument files; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA.resolve()}")
    return SHARED_DATA


def disk_scan(nav=(6, 7), sig=(32, 32), radius=5.0, seed=0) -> Dataset:
    """A small calibrated 4D-STEM scan: a bright disk whose intensity and position vary."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: sig[0], : sig[1]]
    data = np.empty(nav + sig, np.float32)
    for idx in np.ndindex(*nav):
        cy = sig[0] / 2 + 0.3 * idx[0]
        cx = sig[1] / 2 - 0.2 * idx[1]
        disk = ((rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2).astype(np.float32)
        data[idx] = (10 + idx[0] + 2 * idx[1]) * disk + rng.random(sig, dtype=np.float32)
    axes = (
        Axis("scan_y", nav[0], 2.0, 0.0, "nm", True),
        Axis("scan_x", nav[1], 2.0, 0.0, "nm", True),
        Axis("ky", sig[0], 0.01, -0.01 * (sig[0] // 2), "1/angstrom"),
        Axis("kx", sig[1], 0.01, -0.01 * (sig[1] // 2), "1/angstrom"),
    )
    return Dataset(data, axes, kind="4dstem", name="disk scan")


@pytest.fixture
def small_scan() -> Dataset:
    return disk_scan()


@pytest.fixture
def make_disk_scan():
    """The disk_scan factory, for tests that need another size."""
    return disk_scan


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each phase's report on the item: napari's make_napari_viewer reads rep_call."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
