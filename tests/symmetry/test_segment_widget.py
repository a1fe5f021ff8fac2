"""The Symmetry segmentation widget driven like a user would."""

import numpy as np
import pytest

from stemlab.plugin.layers import image_layer_data
from stemlab.simulate.haadf import haadf_image
from stemlab.symmetry import match_accuracy


@pytest.mark.gui
@pytest.mark.slow
def test_widget_segments_image_layer(make_napari_viewer, qtbot):
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer()
    ds = haadf_image((192, 192), pixel_size=0.03, seed=1, dose=40)
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Symmetry segmentation")
    assert widget.form.image.value.name == ds.name
    assert widget.form.patch.label == "patch size (nanometer)"
    widget.set(device="cpu")
    qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
    assert widget.tasks.wait(300000)
    labels = [layer for layer in viewer.layers if layer.__class__.__name__ == "Labels"]
    assert len(labels) == 1
    layer = labels[0]
    assert tuple(layer.scale) == pytest.approx(ds.scale)
    assert [str(u) for u in layer.units] == [str(u) for u in viewer.layers[ds.name].units]
    assert match_accuracy(np.asarray(layer.data), ds.metadata["ground_truth"]["labels"]) > 0.9
    assert "fraction" in layer.features
    assert widget.result.n_segments == 3
    assert len(widget.figure.axes) >= 1
