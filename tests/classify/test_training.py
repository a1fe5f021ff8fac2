"""A tiny training run: files written, loadable, reproducible from the seed."""

import json

import numpy as np
import pytest

from stemlab.classify.training import load, train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    record = train(folder, n_per_class=4, epochs=1, batch_size=16, n_val_per_class=2, seed=5, threads=1)
    return folder, record


def test_tiny_training_run_writes_loadable_weights(tiny):
    import torch

    folder, record = tiny
    assert (folder / "classifier.pt").stat().st_size < 5e6
    saved = json.loads((folder / "classes.json").read_text())
    assert saved["classes"][0] == "fcc [100]" and len(saved["classes"]) == 10
    assert saved["training"]["history"][0]["epoch"] == 1
    model, rec = load(folder)
    x = torch.zeros(2, 64, 64)
    assert model.mc_probabilities(x, 3).shape == (3, 2, 10)


def test_training_is_reproducible(tiny, tmp_path):
    import torch

    folder, _ = tiny
    train(tmp_path, n_per_class=4, epochs=1, batch_size=16, n_val_per_class=2, seed=5, threads=1)
    a = torch.load(folder / "classifier.pt", weights_only=True)
    b = torch.load(tmp_path / "classifier.pt", weights_only=True)
    for key in a:
        np.testing.assert_array_equal(a[key].float().numpy(), b[key].float().numpy())


def test_shipped_weights_are_small_and_complete():
    from stemlab.classify.training import default_weights_dir

    folder = default_weights_dir()
    assert (folder / "classifier.pt").stat().st_size < 5e6
    record = json.loads((folder / "classes.json").read_text())
    expected = ["fcc [100]", "fcc [110]", "fcc [111]", "fcc [211]", "bcc [100]", "bcc [110]", "bcc [111]",
                "hcp [0001]", "hcp [10-10]", "hcp [11-20]"]
    assert record["classes"] == expected
