import json

import numpy as np
import pytest

from stemlab import samples


def _assert_same(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path))
    return tmp_path / "samples"


@pytest.mark.parametrize("name", ["haadf", "video", "4dstem"])
def test_round_trip(cache, name):
    fresh = samples.SAMPLES[name].function()
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npz")
    cached = samples.SAMPLES[name].function()
    assert cached.axes == fresh.axes and cached.kind == fresh.kind and cached.name == fresh.name
    assert cached.data.dtype == fresh.data.dtype and np.array_equal(cached.data, fresh.data)
    _assert_same(fresh.metadata, cached.metadata)
    if name != "4dstem":  # deterministic regeneration (the 4D one is covered in test_fourd)
        uncached = samples.SAMPLES[name].function(cache=False)
        assert np.array_equal(uncached.data, fresh.data)


def test_sizes_and_registry(cache):
    assert set(samples.SAMPLES) == {"4dstem", "haadf", "video"}
    assert all(info.display_name for info in samples.SAMPLES.values())
    params = samples._PARAMS
    assert params["4dstem"]["scan_shape"] == [48, 48] and params["4dstem"]["pattern_shape"] == [128, 128]
    assert 48 * 48 * 128 * 128 * 2 < 100e6


def test_version_change_and_corruption_regenerate(cache, monkeypatch):
    samples.sample_haadf()
    (json_file,) = cache.glob("*.json")
    monkeypatch.setattr(samples, "SAMPLE_VERSION", samples.SAMPLE_VERSION + 1)
    samples.sample_haadf()
    assert len(list(cache.glob("*.json"))) == 2
    # a truncated npz is regenerated, not an error
    (npz,) = [p for p in cache.glob("*.npz") if p.stem != json_file.stem]
    npz.write_bytes(b"garbage")
    ds = samples.sample_haadf()
    assert ds.shape == (512, 512)
    assert json.loads(json_file.read_text())["kind"] == "image"
    assert not list(cache.glob("*.tmp"))


def test_subset_keeps_calibration():
    from stemlab.samples import sample_4dstem

    ds = sample_4dstem()
    part = ds.subset(scan_y=slice(4, 20, 2), kx=slice(10, None))
    assert part.shape == (8, 48, 128, 118)
    assert part.axes[0].offset == ds.axes[0].offset + 4 * ds.axes[0].scale
    assert part.axes[0].scale == 2 * ds.axes[0].scale
    assert part.axes[3].offset == ds.axes[3].offset + 10 * ds.axes[3].scale
    assert part.axes[3].units == ds.axes[3].units
