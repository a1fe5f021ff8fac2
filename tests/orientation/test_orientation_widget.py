"""The orientation widget drives the real core on a small simulated scan."""

import pytest

from stemlab.plugin.layers import image_layer_data
from stemlab.simulate.fourd import two_phase_scan


@pytest.mark.gui
@pytest.mark.slow
def test_widget_preview_run_and_click(make_napari_viewer, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path))
    import re

    from qtpy.QtCore import Qt

    from stemlab.plugin.orientation_widget import SPOTS_LAYER

    viewer = make_napari_viewer()
    ds = two_phase_scan(scan_shape=(6, 5), n_grains=3, seed=4)
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Orientation mapping")
    widget.set_phases(["Al", "alpha-Fe"])
    widget.set(resolution=2.0)
    qtbot.mouseClick(widget.preview_button, Qt.MouseButton.LeftButton)
    scores = [float(v) for v in re.findall(r"score ([0-9.]+)", widget.candidates_text.toPlainText())]
    assert scores and scores[0] > 0.1  # full-detector refined score: ~0.2-0.3 for a good match
    assert SPOTS_LAYER in viewer.layers and len(viewer.layers[SPOTS_LAYER].data) > 2
    widget.set(relrod=0.0)  # shown as 'auto': the run measures the width (the scan's is 0.012 1/A)
    assert widget.form.relrod.native.text() == "auto" and widget.parameters()["s_width"] == "auto"
    qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
    assert widget.tasks.wait(120000)
    res = widget.result
    assert res is not None and res.nav_shape == (6, 5)
    assert 0.008 <= res.library.params["s_width"] <= 0.018
    assert "(measured)" in widget.candidates_text.toPlainText()
    # scan-space maps go to the explorer's scan view, beside the virtual images, not onto the pattern
    from stemlab.plugin.explorer import explorer_for

    explorer = explorer_for(viewer, viewer.layers[ds.name])
    scan_layers = explorer.scan_view.model.layers
    name = f"{ds.name} phase"
    assert name in scan_layers and name not in viewer.layers
    labels = scan_layers[name]
    assert tuple(labels.scale) == (2.0, 2.0) and list(labels.features["phase"]) == ["none", "Al", "alpha-Fe"]
    assert [str(u) for u in labels.units] == ["nanometer", "nanometer"]
    ipf = scan_layers[f"{ds.name} IPF z"]
    assert ipf.rgb and ipf.data.shape == (6, 5, 3)
    for key in ("correlation", "orientation reliability", "phase reliability"):
        assert f"{ds.name} {key}" in scan_layers
    widget.preview((3, 2))
    assert "position (3, 2)" in widget.candidates_text.toPlainText()
    explorer.tasks.wait(30000)
    explorer.close()
