"""The Phase-field fit widget drives the real fit in a worker and adds calibrated layers."""

import numpy as np
import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.gui


def click(qtbot, button):
    """A person's click: Qt's clicked(bool) signal, not a direct call."""
    from qtpy.QtCore import Qt

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture
def widget_with_video(make_napari_viewer, small_video):
    from stemlab.plugin.layers import image_layer_data

    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(small_video)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Phase-field fit")
    widget.set(steps=30)
    return viewer, widget


def test_run_adds_calibrated_layers_and_parameter_table(widget_with_video, small_video, qtbot):
    viewer, widget = widget_with_video
    assert len(widget.form.video.choices) == 1 and widget.parameters()["frames"] == (0, small_video.shape[0])
    updates = []
    widget._relay.update.connect(lambda info: updates.append(info["step"]))
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(120000)
    names = [layer.name for layer in viewer.layers]
    denoised = viewer.layers[[n for n in names if "denoised" in n][0]]
    order = viewer.layers[[n for n in names if "order parameter" in n][0]]
    interface = viewer.layers[[n for n in names if "interface" in n][0]]
    assert interface._type_string == "labels"
    np.testing.assert_allclose(denoised.scale, small_video.scale)
    np.testing.assert_allclose(order.scale[1:], [2 * s for s in small_video.scale[1:]])
    assert tuple(str(u) for u in denoised.units)[1:] == ("nanometer", "nanometer")
    assert widget.table.rowCount() >= 6
    assert widget.table.item(0, 0).text().startswith("M*kappa")
    assert widget.quality_label.text()
    assert updates and updates[-1] == 30
    assert widget.resume_button.isEnabled()


def test_pause_then_resume_finishes_the_budget(widget_with_video, qtbot):
    viewer, widget = widget_with_video
    widget.set(steps=60)
    widget._relay.update.connect(lambda info: widget.pause() if info["step"] == 20 else None)
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(120000)
    assert widget.result is None and widget.state is not None and 20 <= widget.state.step < 60
    assert widget.resume_button.isEnabled()
    widget._relay.update.disconnect()
    widget._relay.update.connect(widget._show_live)
    click(qtbot, widget.resume_button)
    assert widget.tasks.wait(120000)
    assert widget.result is not None and widget.result.quality["steps"] == 60


def test_no_video_layer_shows_an_error(make_napari_viewer, monkeypatch, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((16, 16)))
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Phase-field fit")
    messages = []
    monkeypatch.setattr("napari.utils.notifications.show_error", messages.append)
    click(qtbot, widget.run_button)
    assert widget.tasks.wait(30000)
    assert messages and "video" in messages[0]
