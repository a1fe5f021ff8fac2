"""Drive the real classification widget in a napari viewer."""

import numpy as np
import pytest

from stemlab.plugin.layers import image_layer_data

pytestmark = pytest.mark.gui


def click(qtbot, button):
    """A person's click: Qt's clicked(bool) signal, not a direct call."""
    from qtpy.QtCore import Qt

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_widget_adds_calibrated_layers(make_napari_viewer, bicrystal_ds, qtbot):
    ds, _, _ = bicrystal_ds
    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Crystal classification")
    assert widget.form.image.value.name == "bicrystal"
    widget.set(passes=5)
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(120000)
    names = [layer.name for layer in viewer.layers]
    for suffix in ("class", "probability", "uncertainty (bits)", "unknown", "ambiguous", "rotation (deg)",
                   "lattice constant (Å)"):
        assert f"bicrystal {suffix}" in names
    labels = viewer.layers["bicrystal class"]
    assert list(labels.features["class"])[1] == "fcc [100]"
    np.testing.assert_allclose(labels.scale, [0.3, 0.3])
    np.testing.assert_allclose(labels.translate, [0.5 + 15.5 * 0.0375, -0.2 + 15.5 * 0.0375])
    assert [str(u) for u in labels.units] == ["nanometer"] * 2
    text = widget.summary.text()
    share = f"{widget.result.unknown.mean():.0%} unknown"
    assert text.startswith(f"{labels.data.shape[0]} x {labels.data.shape[1]} windows") and share in text
    assert "fcc [110]" in text and "bcc [100]" in text  # the bicrystal's two grains
    # result layers are not offered as inputs
    assert [layer.name for layer in widget.form.image.choices] == ["bicrystal"]


def test_widget_reports_missing_calibration(make_napari_viewer, monkeypatch, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.random.rand(100, 100).astype(np.float32), name="raw")
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Crystal classification")
    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(30000)
    assert errors and "calibration" in errors[0]
    assert len(viewer.layers) == 1


def test_phases_box_restricts_the_classes(make_napari_viewer, bicrystal_ds, qtbot):
    """Typing the two grains' lattices into the phases box reads both; a bad entry is a
    notification naming it, and no layer is added."""
    ds, _, _ = bicrystal_ds
    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Crystal classification")
    widget.set(passes=5, phases="fcc:3.8, bcc:3.07")
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(120000)
    text = widget.summary.text()
    assert "priors fcc a = 3.8 Å, bcc a = 3.07 Å" in text and "fcc [110]" in text and "bcc [100]" in text
    assert "bicrystal ambiguous" in [layer.name for layer in viewer.layers]


def test_phases_box_reports_a_bad_entry(make_napari_viewer, bicrystal_ds, monkeypatch, qtbot):
    ds, _, _ = bicrystal_ds
    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Crystal classification")
    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    widget.set(phases="bcc:2.87, tetragonal:3")
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(30000)
    assert errors and "'tetragonal:3'" in errors[0]
    assert len(viewer.layers) == 1
