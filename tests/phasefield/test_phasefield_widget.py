"""The Phase-field fit widget drives the real fit in a worker and adds calibrated layers."""

import numpy as np
import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.gui


@pytest.fixture
def widget_with_video(make_napari_viewer, small_video):
    from stemlab.plugin.layers import image_layer_data
    from stemlab.plugin.phasefield_widget import PhaseFieldWidget

    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(small_video)
    viewer.add_image(data, **kwargs)
    widget = PhaseFieldWidget(viewer)
    widget.set(steps=30)
    return viewer, widget


def test_run_adds_calibrated_layers_and_parameter_table(widget_with_video, small_video):
    viewer, widget = widget_with_video
    assert len(widget.form.video.choices) == 1 and widget.parameters()["frames"] == (0, small_video.shape[0])
    updates = []
    widget._relay.update.connect(lambda info: updates.append(info["step"]))
    widget.run()
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


def test_pause_then_resume_finishes_the_budget(widget_with_video):
    viewer, widget = widget_with_video
    widget.set(steps=60)
    widget._relay.update.connect(lambda info: widget.pause() if info["step"] == 20 else None)
    widget.run()
    assert widget.tasks.wait(120000)
    assert widget.result is None and widget.state is not None and 20 <= widget.state.step < 60
    assert widget.resume_button.isEnabled()
    widget._relay.update.disconnect()
    widget._relay.update.connect(widget._show_live)
    widget.resume()
    assert widget.tasks.wait(120000)
    assert widget.result is not None and widget.result.quality["steps"] == 60


def test_no_video_layer_shows_an_error(make_napari_viewer, monkeypatch):
    from stemlab.plugin import phasefield_widget as module

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((16, 16)))
    widget = module.PhaseFieldWidget(viewer)
    messages = []
    monkeypatch.setattr("napari.utils.notifications.show_error", messages.append)
    assert widget.run() is None
    assert messages and "video" in messages[0]
