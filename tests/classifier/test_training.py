"""A tiny training run: files written, loadable, reproducible from the seed."""

import json

import numpy as np
import pytest

from stemlab.classifier.training import load, train


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
    assert saved["training"]["history"][0][0]["epoch"] == 1
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


def test_ensemble_shares_the_passes_among_its_members(tmp_path):
    import torch

    from stemlab.classifier.model import passes_per_member

    assert passes_per_member(30, 3) == [10, 10, 10] and passes_per_member(7, 3) == [3, 2, 2]
    assert passes_per_member(2, 3) == [1, 1, 0]
    record = train(tmp_path, n_per_class=3, epochs=1, members=2, batch_size=16, n_val_per_class=2, seed=1, threads=1)
    assert record["members"] == 2 and len(record["training"]["history"]) == 2
    model, _ = load(tmp_path)
    assert len(model.members) == 2
    a, b = (list(net.parameters())[0] for net in model.members)
    assert not torch.equal(a, b)  # independent initialisations
    x = torch.rand(4, 64, 64)
    with torch.no_grad():
        probs = model.mc_probabilities(x, 5, generator=torch.Generator().manual_seed(0))
        first = model.members[0].mc_probabilities(x, 3, generator=torch.Generator().manual_seed(0))
    assert probs.shape == (5, 4, 10)
    torch.testing.assert_close(probs[:3], first)  # member 1 draws the first 3 passes, member 2 the other 2
    torch.testing.assert_close(probs.sum(-1), torch.ones(5, 4))


def test_shipped_weights_are_small_and_complete():
    from stemlab.classifier.training import default_weights_dir

    folder = default_weights_dir()
    assert (folder / "classifier.pt").stat().st_size < 5e6
    record = json.loads((folder / "classes.json").read_text())
    expected = ["fcc [100]", "fcc [110]", "fcc [111]", "fcc [211]", "bcc [100]", "bcc [110]", "bcc [111]",
                "hcp [0001]", "hcp [10-10]", "hcp [11-20]"]
    assert record["classes"] == expected


def test_weights_for_another_descriptor_window_are_refused(tiny, tmp_path):
    """Weights trained with a Hann-tapered descriptor must not be fed flat-window descriptors."""
    import shutil

    from stemlab.classifier import descriptor as D
    from stemlab.errors import FileFormatError

    folder, _ = tiny
    assert json.loads((folder / "classes.json").read_text())["descriptor"]["taper"] == D.TAPER
    for name in ("classifier.pt", "classes.json"):
        shutil.copy(folder / name, tmp_path / name)
    record = json.loads((tmp_path / "classes.json").read_text())
    del record["descriptor"]["taper"]  # weights saved before the taper was recorded were Hann (taper 1)
    (tmp_path / "classes.json").write_text(json.dumps(record))
    with pytest.raises(FileFormatError, match="another descriptor"):
        load(tmp_path)
