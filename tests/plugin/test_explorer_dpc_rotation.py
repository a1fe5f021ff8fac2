"""The explorer's scan geometry, clicked: the calibration box shows the file's scan rotation and flip
and applies new ones; "DPC rotation: auto" finds the rotation of a detector turned by a known angle
(patterns simulated as in tests/diffraction/test_dpc_rotation.py: a thin phase object, numpy FFT,
the detector image rotated and mirrored) and shows and records it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from stemlab import Axis, Dataset

_SIM = Path(__file__).resolve().parents[1] / "diffraction" / "test_dpc_rotation.py"


def _simulation():
    spec = importlib.util.spec_from_file_location("dpc_rotation_simulation", _SIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _button(widget, text):
    from qtpy.QtWidgets import QPushButton

    found = [b for b in widget.findChildren(QPushButton) if b.text() == text]
    assert found, f"no button {text!r}"
    return found[0]


def _add(gui, ds):
    from stemlab.plugin.layers import image_layer_data

    data, kwargs, _ = image_layer_data(ds)
    return gui.viewer.add_image(data, **kwargs)


def _scan(pats, dx, npx, **geometry):
    n = pats.shape[0]
    dk = 1.0 / (npx * dx)
    axes = (Axis("scan_y", n, dx, 0, "angstrom", True), Axis("scan_x", n, dx, 0, "angstrom", True),
            Axis("ky", npx, dk, -npx // 2 * dk, "1/angstrom"), Axis("kx", npx, dk, -npx // 2 * dk, "1/angstrom"))
    return Dataset(pats, axes, kind="4dstem", name="rotated detector", **geometry)


def test_auto_dpc_rotation_found_shown_and_recorded(gui):
    from stemlab.plugin.explorer import DPC_ROTATIONS

    sim = _simulation()
    theta, flip, n, npx, dx = 25.0, True, 32, 24, 0.5
    phi = sim._phase_object(n, seed=4)
    _add(gui, _scan(sim._patterns_on_rotated_detector(phi, theta, flip, npx), dx, npx))
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    assert explorer.calibration_form.scan_rotation.value == 0.0  # the file records none
    explorer.dpc_form.dpc_rotation.value = DPC_ROTATIONS[1]
    gui.click(_button(explorer, "Compute all"))
    idpc = explorer.scan_view.model.layers["iDPC phase"]
    found = idpc.metadata["dpc_rotation_deg"]
    assert abs((found - theta + 180) % 360 - 180) < 1.0, found
    assert idpc.metadata["dpc_flip"] is True
    assert explorer.dpc_label.text() == f"DPC rotation {found:.1f} deg, flipped"
    assert np.corrcoef(np.asarray(idpc.data).ravel(), phi.ravel())[0, 1] > 0.95


def test_calibration_box_shows_and_applies_the_file_scan_rotation(gui):
    from stemlab.plugin.layers import layer_to_dataset

    pats = np.random.default_rng(0).random((6, 6, 16, 16)).astype(np.float32)
    layer = _add(gui, _scan(pats, 1.0, 16, scan_rotation_deg=17.5, scan_flip=True))
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    form = explorer.calibration_form
    assert form.scan_rotation.value == 17.5 and form.scan_flip.value is True
    form.scan_rotation.value, form.scan_flip.value = -30.0, False
    gui.click(_button(explorer, "Apply calibration"))
    assert layer_to_dataset(layer).scan_geometry == {"scan_rotation_deg": -30.0, "scan_flip": False}
    gui.click(_button(explorer, "Compute all"))  # DPC rotation "scan rotation": the applied one
    assert explorer.scan_view.model.layers["iDPC phase"].metadata["dpc_rotation_deg"] == -30.0
    assert explorer.dpc_label.text() == "DPC rotation -30.0 deg, not flipped"
