"""`stemlab phasefield INPUT -o OUT.npz` through the command module."""

import argparse
import json

import numpy as np
import pytest

pytest.importorskip("torch")


def _parser():
    from stemlab.cli import phasefield as command

    parser = argparse.ArgumentParser(prog="stemlab")
    sub = parser.add_subparsers(dest="command", required=True)
    command.register(sub)
    return parser


def test_cli_writes_results(tmp_path, small_video, capsys):
    src = tmp_path / "video.npy"
    np.save(src, np.asarray(small_video.data))
    out = tmp_path / "fit.npz"
    args = _parser().parse_args(["phasefield", str(src), "--steps", "15", "--frame-time", "0.5",
                                 "--scan-step", "0.04nm", "-o", str(out)])
    assert args.func(args) == 0
    with np.load(out) as f:
        assert {"order_parameter", "denoised", "interface", "parameters", "history_loss"} <= set(f.files)
        params = json.loads(str(f["parameters"]))
    assert params["values"]["M*kappa"]["units"] == "nm^2/s"
    text = capsys.readouterr().out
    assert "M*kappa" in text and "fit" in text.lower()


def test_cli_rejects_bad_crop(tmp_path, small_video):
    from stemlab.errors import ParameterError

    src = tmp_path / "video.npy"
    np.save(src, np.asarray(small_video.data))
    args = _parser().parse_args(["phasefield", str(src), "--crop", "1,2", "-o", str(tmp_path / "o.npz")])
    with pytest.raises(ParameterError, match="Y0,Y1,X0,X1"):
        args.func(args)
