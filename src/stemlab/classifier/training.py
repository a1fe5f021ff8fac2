"""Train the classifier from scratch on simulated windows (reproducible: fixed seeds).

``train(output_dir, n_per_class=..., epochs=..., members=..., seed=...)`` simulates the
training set (:mod:`stemlab.classifier.synthetic`), trains each network of
:func:`stemlab.classifier.model.build_ensemble` with
AdamW + a one-cycle learning rate and random D4 symmetry operations of the descriptor (the
projected patterns of all classes are mirror-symmetric, so a turned or mirrored descriptor
keeps its class), and writes ``classifier.pt`` (float16 state dict) and ``classes.json``
(class names, model config, descriptor constants, training record) into ``output_dir``.
``stemlab train-classifier`` is its command line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..backend.progress import check, report, steps
from ..errors import ParameterError
from ..simulate.projections import CLASS_PROJECTIONS
from . import descriptor as D

WEIGHTS_FILE = "classifier.pt"
CLASSES_FILE = "classes.json"


def _augment(x, rng):
    """Random rot90 / transpose of every descriptor in the batch: (N, 64, 64) -> (N, 1, 64, 64) channels-last."""
    import torch

    k = int(rng.integers(4))
    x = torch.rot90(x, k, dims=(1, 2))
    if rng.random() < 0.5:
        x = x.transpose(1, 2)
    return x[:, None].contiguous(memory_format=torch.channels_last)


def train(output_dir, *, n_per_class: int = 6000, epochs: int = 16, members: int = 3, batch_size: int = 128,
          lr: float = 3e-3, seed: int = 0, threads: int | None = 2, config: dict | None = None,
          n_val_per_class: int = 100, init=None, ranges=None, progress=None, cancel=None) -> dict:
    """Simulate, train and save a classifier of ``members`` networks (a deep ensemble when > 1,
    all trained on the same windows from their own initialisation and batch order); returns the
    training record (also in classes.json).

    ``init`` (a weights folder) starts every network from those weights instead of a random
    initialisation (fine-tuning; same classes and architecture required). ``ranges``
    (:class:`stemlab.classifier.synthetic.Ranges`) sets the simulated windows' nuisance ranges
    (default ``TRAIN_RANGES``; ``MULTISLICE_RANGES`` adds the calibrated channelling contrast)."""
    import torch

    from .model import build_ensemble
    from .synthetic import TRAIN_RANGES, simulate_descriptors
    from .twins import soft_targets, table_record, twin_table

    if n_per_class < 2 or epochs < 1 or members < 1:
        raise ParameterError("train: n_per_class must be >= 2, epochs >= 1 and members >= 1.")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    sub = steps(progress, {"simulate": 1.0, **{f"member {m + 1}": 2.0 for m in range(members)}})
    t0 = time.perf_counter()
    ranges = TRAIN_RANGES if ranges is None else ranges
    X, y, params = simulate_descriptors(n_per_class, seed, ranges, progress=sub["simulate"], cancel=cancel)
    Xv, yv, params_v = simulate_descriptors(n_val_per_class, seed + 1000, ranges, cancel=cancel)
    t_sim = time.perf_counter() - t0

    names = [p.name for p in CLASS_PROJECTIONS]
    ensemble = build_ensemble(len(names), config, members)
    start = _initial_state(init, names, ensemble) if init is not None else None
    # twin-consistent targets: a window that is also a spacing twin in range is labelled as both
    data = (torch.from_numpy(X), torch.from_numpy(soft_targets(y, params)), torch.from_numpy(Xv),
            torch.from_numpy(soft_targets(yv, params_v)))
    t1 = time.perf_counter()
    histories = [_fit(net, data, epochs, batch_size, lr, np.random.default_rng([seed, m]), sub[f"member {m + 1}"],
                      cancel) for m, net in enumerate(ensemble.members)]
    ensemble.eval()
    with torch.no_grad():
        p_val = torch.stack([torch.softmax(net(data[2]), 1) for net in ensemble.members]).mean(0)
    record = {
        "classes": names,
        "config": ensemble.config,
        "members": members,
        "descriptor": {"sampling_angstrom": D.SAMPLING, "fft_size": D.FFT_SIZE, "low_cut": D.LOW_CUT,
                       "threshold": D.THRESHOLD, "taper": D.TAPER},
        "training": {"n_per_class": n_per_class, "epochs": epochs, "batch_size": batch_size,
                     "lr": lr, "seed": seed, "threads": threads, "simulate_seconds": t_sim,
                     "train_seconds": time.perf_counter() - t1,
                     "val_accuracy": _accuracy(p_val, data[3]),
                     "history": histories, "torch": torch.__version__},
        "lattice": {p.name: {"a_range": list(p.a_range), "c_over_a_range": list(p.c_over_a_range),
                             "rotation_symmetry": p.rotation_symmetry} for p in CLASS_PROJECTIONS},
        "twins": table_record(twin_table()),
    }
    if start is not None:
        record["training"]["initialised_from"] = start
    save(ensemble, record, out)
    return record


def _initial_state(init, names, ensemble) -> dict:
    """Load the weights in folder ``init`` into ``ensemble``; returns their training record's summary."""
    from ..errors import ParameterError as _PE

    model, rec = load(init)
    if list(rec["classes"]) != names or rec.get("members", 1) != len(ensemble.members):
        raise _PE(f"init: the weights in {init} have other classes or another number of networks "
                  f"({rec.get('members', 1)}); train from scratch or pass matching --members.")
    ensemble.load_state_dict(model.state_dict())
    return {"folder": str(init), "training": {k: v for k, v in rec.get("training", {}).items() if k != "history"}}


def _fit(model, data, epochs: int, batch_size: int, lr: float, rng, progress, cancel) -> list[dict]:
    """Train one network with AdamW and a one-cycle learning rate; its per-epoch record."""
    import torch

    Xt, yt, Xvt, yvt = data
    model.to(memory_format=torch.channels_last)  # ~1.5x faster convolutions on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = int(np.ceil(len(yt) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    history, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(yt)))
        total_loss = 0.0
        for b in range(steps_per_epoch):
            check(cancel)
            idx = order[b * batch_size:(b + 1) * batch_size]
            loss = torch.nn.functional.cross_entropy(model(_augment(Xt[idx], rng)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            report(progress, epoch * steps_per_epoch + b + 1, epochs * steps_per_epoch, f"epoch {epoch + 1}")
        model.eval()
        with torch.no_grad():
            val_acc = _accuracy(model(Xvt), yvt)
        history.append({"epoch": epoch + 1, "loss": total_loss / len(yt), "val_accuracy": val_acc,
                        "seconds": time.perf_counter() - t0})
    return history


def _accuracy(scores, targets) -> float:
    """Share of windows whose top class has a nonzero (twin-consistent) target."""
    import torch

    top = scores.argmax(1)
    return float((torch.gather(targets, 1, top[:, None])[:, 0] > 0).float().mean())


def save(model, record: dict, output_dir) -> None:
    """Write ``classifier.pt`` (float16 weights) and ``classes.json`` atomically."""
    import torch

    from ..io.writers import atomic_write

    out = Path(output_dir)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    with atomic_write(out / WEIGHTS_FILE) as tmp:
        torch.save(state, tmp)
    with atomic_write(out / CLASSES_FILE) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1))


def default_weights_dir() -> Path:
    """The folder of the weights shipped inside the package."""
    return Path(__file__).parent / "weights"


def load(weights_dir=None, device="cpu"):
    """(model in eval mode on ``device``, record) from ``weights_dir`` (default: the shipped weights)."""
    import torch

    from ..errors import FileFormatError
    from .model import build_ensemble

    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    wfile, cfile = folder / WEIGHTS_FILE, folder / CLASSES_FILE
    if not wfile.exists() or not cfile.exists():
        raise FileFormatError(
            f"No classifier weights in {folder} (need {WEIGHTS_FILE} and {CLASSES_FILE}): run "
            "`stemlab train-classifier -o FOLDER` and pass that folder as weights.")
    record = json.loads(cfile.read_text())
    desc = record.get("descriptor", {})
    if desc and (abs(desc.get("sampling_angstrom", D.SAMPLING) - D.SAMPLING) > 1e-9
                 or desc.get("fft_size", D.FFT_SIZE) != D.FFT_SIZE
                 or abs(desc.get("taper", 1.0) - D.TAPER) > 1e-9):  # weights from before tapers were Hann
        raise FileFormatError(f"The weights in {folder} were trained for another descriptor ({desc}); retrain them.")
    model = build_ensemble(len(record["classes"]), record["config"], record.get("members", 1))
    state = torch.load(wfile, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    model.to(device)
    model.prepare_inference()
    return model, record
