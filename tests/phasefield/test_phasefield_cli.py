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


def test_saved_maps_keep_units_and_offsets(tmp_path, small_video):
    """A cropped fit: every map in the .npz records its axes (s, nm) with the crop's offsets."""
    src = tmp_path / "video.npy"
    np.save(src, np.asarray(small_video.data))
    out = tmp_path / "fit.npz"
    args = _parser().parse_args(["phasefield", str(src), "--steps", "5", "--frame-time", "0.5", "--crop", "4,36,8,40",
                                 "--scan-step", "0.04nm", "-o", str(out)])
    assert args.func(args) == 0
    with np.load(out) as f:
        calibration = json.loads(str(f["calibration"]))
        shapes = {k: f[k].shape for k in ("denoised", "order_parameter", "interface")}
    assert set(calibration) == set(shapes)
    for name, record in calibration.items():
        t, y, x = record["axes"]
        assert [a["size"] for a in record["axes"]] == list(shapes[name])
        assert (t["units"], t["scale"]) == ("s", pytest.approx(0.5))
        assert y["units"] == x["units"] == "nm"
        # the crop starts at row 4, column 8 of 0.04 nm pixels (coarse maps: first cell centre at or after it)
        assert y["offset"] == pytest.approx(4 * 0.04, abs=y["scale"]) and y["offset"] >= 4 * 0.04 - 1e-9
        assert x["offset"] == pytest.approx(8 * 0.04, abs=x["scale"]) and x["offset"] >= 8 * 0.04 - 1e-9
    assert calibration["denoised"]["axes"][1]["offset"] == pytest.approx(0.16)


def test_cli_rejects_bad_crop(tmp_path, small_video):
    from stemlab.errors import ParameterError

    src = tmp_path / "video.npy"
    np.save(src, np.asarray(small_video.data))
    args = _parser().parse_args(["phasefield", str(src), "--crop", "1,2", "-o", str(tmp_path / "o.npz")])
    with pytest.raises(ParameterError, match="Y0,Y1,X0,X1"):
        args.func(args)
