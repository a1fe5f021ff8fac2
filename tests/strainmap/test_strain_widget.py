"""The Strain mapping widget opened through napari's plugin menu entry, driven by real mouse clicks."""

import numpy as np
import pytest

pytest.importorskip("torch")

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def scan():
    from stemlab.simulate.strain import strained_scan

    return strained_scan((10, 10), 128, dose=1e5, seed=7, disk_radius=4.0, g_px=16.0)


@pytest.fixture
def opened(make_napari_viewer, scan):
    from stemlab.plugin.layers import image_layer_data

    ds, _ = scan
    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(ds)
    viewer.add_image(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-stemlab", "Strain mapping")
    return viewer, widget


def test_click_run_adds_calibrated_strain_layers(opened, scan, qtbot):
    from qtpy.QtCore import Qt

    viewer, widget = opened
    ds, truth = scan
    assert widget.layer.value == ds.name
    widget.device.value = "cpu"
    qtbot.mouseClick(widget.draw_reference.native, Qt.LeftButton)
    ref = viewer.layers["strain reference"]
    ref.add_rectangles(np.array([[-0.4, -0.4], [1.4, 9.4]]))  # data coordinates = scan indices: rows 0-1
    qtbot.mouseClick(widget.run_button.native, Qt.LeftButton)
    assert widget.tasks.wait(300000)
    assert widget.result is not None
    assert widget.result.reference.sum() == 20 and widget.result.reference[:2].all()
    exx = viewer.layers["strain exx (%)"]
    np.testing.assert_allclose(exx.scale, ds.scale[:2])
    assert tuple(str(u) for u in exx.units) == ("nanometer", "nanometer")
    assert exx.colormap.name == "PiYG" and exx.contrast_limits[0] == -exx.contrast_limits[1]
    inside = truth["inside"]
    np.testing.assert_allclose(np.asarray(exx.data)[inside], 100 * truth["exx"][inside], atol=0.2)
    assert "rotation theta (deg)" in viewer.layers and "not fitted" in viewer.layers
    assert "positions fitted" in widget.status.value


def test_show_disks_then_pick_two_as_basis(opened, scan, qtbot):
    from qtpy.QtCore import Qt

    viewer, widget = opened
    ds, truth = scan
    widget.device.value = "cpu"
    qtbot.mouseClick(widget.show_disks.native, Qt.LeftButton)
    points = viewer.layers["Bragg disks"]
    assert len(points.data) >= 15
    # pick the two disks nearest to the true g1 and g2 from the direct beam (layer data: detector pixels)
    np.testing.assert_allclose(points.scale, ds.scale[2:])
    rc = np.asarray(points.data)
    beam = np.asarray(points.metadata["direct_beam"])
    g = truth["basis"]  # columns (x, y)
    picks = [int(np.argmin(np.hypot(*(rc - beam - g[::-1, i]).T))) for i in range(2)]
    points.selected_data = set(picks)
    widget.use_selected.value = True
    qtbot.mouseClick(widget.run_button.native, Qt.LeftButton)
    assert widget.tasks.wait(300000)
    np.testing.assert_allclose(widget.result.basis, g, atol=0.5)


def test_vacuum_probe_without_rectangle_names_the_button(opened, qtbot, monkeypatch):
    from qtpy.QtCore import Qt

    viewer, widget = opened
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", lambda text: shown.append(text))
    widget.probe.value = "vacuum region"
    qtbot.mouseClick(widget.run_button.native, Qt.LeftButton)
    assert shown and "Draw vacuum rectangle" in shown[0]
    assert widget.result is None


def test_bragg_vector_map_button_then_pick_two_peaks_as_basis(opened, scan, qtbot):
    from qtpy.QtCore import Qt

    viewer, widget = opened
    ds, truth = scan
    widget.device.value = "cpu"
    qtbot.mouseClick(widget.show_bvm.native, Qt.LeftButton)
    assert widget.tasks.wait(300000)
    image, points = viewer.layers["Bragg-vector map"], viewer.layers["Bragg-vector map peaks"]
    np.testing.assert_allclose(image.scale, ds.scale[2:])
    np.testing.assert_allclose(points.scale, ds.scale[2:])
    assert image.data.shape == ds.shape[2:] and image.gamma < 1
    labels = list(points.features["label"])
    assert labels.count("g1") == 1 and labels.count("g2") == 1
    rc = np.asarray(points.data) - np.asarray(points.metadata["direct_beam"])  # (row, col) from the zero vector
    auto = [rc[labels.index(name)][::-1] for name in ("g1", "g2")]
    np.testing.assert_allclose(np.column_stack(auto), widget.bvm.basis, atol=1.0)
    # pick a basis the automatic (reduced) choice never gives: the true g1 and g1 + g2 of the simulation
    g = truth["basis"]  # columns (x, y), detector pixels
    g = np.column_stack([g[:, 0], g[:, 0] + g[:, 1]])
    picks = [int(np.argmin(np.hypot(*(rc - g[::-1, i]).T))) for i in range(2)]
    np.testing.assert_allclose(rc[picks][:, ::-1].T, g, atol=1.0)  # the map has a peak at each
    points.selected_data = set(picks)
    viewer.layers.selection.active = points
    widget.use_selected.value = True
    qtbot.mouseClick(widget.run_button.native, Qt.LeftButton)
    assert widget.tasks.wait(300000)
    np.testing.assert_allclose(widget.result.basis, g, atol=1.0)
