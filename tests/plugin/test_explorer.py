"""Drive the real 4D-STEM explorer widget in a napari viewer (Qt under Xvfb)."""

import numpy as np
import pytest

from stemlab.diffraction.detectors import Annulus, Disk, mask
from stemlab.plugin.layers import image_layer_data

pytestmark = pytest.mark.gui


def exact_image(data, detector):
    """Reference virtual image: the detector mask summed against every pattern."""
    weights = mask(detector, data.shape[-2:])
    return np.tensordot(np.asarray(data, np.float64), weights, axes=([-2, -1], [0, 1]))


@pytest.fixture
def explorer(make_napari_viewer, small_scan):
    viewer = make_napari_viewer()
    data, kwargs, _ = image_layer_data(small_scan)
    viewer.add_image(data, **kwargs)
    widget = open_explorer(viewer)
    assert widget.tasks.wait(30000)
    yield viewer, widget
    close(widget)


def open_explorer(viewer):
    """The explorer as a person opens it: Plugins > STEM lab > 4D-STEM explorer."""
    return viewer.window.add_plugin_dock_widget("napari-stemlab", "4D-STEM explorer")[1]


def click(button):
    """A person's click (Qt's clicked(bool) signal), as qtbot.mouseClick sends it."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def close(widget):
    """Stop work and release the embedded scan canvas (napari checks for leaked QtViewers)."""
    widget.tasks.cancel()
    widget.tasks.wait(10000)
    widget.close()


def test_default_bf_detector_gives_exact_virtual_image(explorer, small_scan):
    viewer, widget = explorer
    assert [layer.name for layer in widget.detector_layers] == ["BF"]
    bf_layer = viewer.layers["BF"]
    # the detector layer sits on the pattern with its calibration
    np.testing.assert_allclose(bf_layer.scale, [0.01, 0.01])
    assert [str(u) for u in bf_layer.units] == ["1 / angstrom"] * 2
    image_layer = widget.scan_view.model.layers["BF image"]
    expected = exact_image(small_scan.data, widget.detector_of(bf_layer))
    np.testing.assert_allclose(image_layer.data, expected, rtol=1e-4)
    # scan-space layers keep the scan's calibration
    np.testing.assert_allclose(image_layer.scale, [2.0, 2.0])
    assert [str(u) for u in image_layer.units] == ["nanometer"] * 2
    assert tuple(image_layer.axis_labels) == ("scan_y", "scan_x")


def test_probe_linked_both_ways(explorer, small_scan):
    viewer, widget = explorer
    widget.scan_view._set_probe((4, 5))  # as a click on the scan view does
    layer = viewer.layers["disk scan"]
    shown = np.asarray(layer._slice.image.view)
    np.testing.assert_allclose(shown, small_scan.data[4, 5])
    assert widget.probe_label.text().startswith("probe: row 4, col 5")
    viewer.dims.set_point(0, 2 * 2.0)  # the main viewer's slider: row 2 (2 nm per step)
    assert widget.scan_view.probe == (2, 5)
    marker = widget.scan_view.model.layers["probe"].data
    np.testing.assert_allclose(marker, [[2, 5]])


def test_arrow_keys_step_the_probe(explorer):
    viewer, widget = explorer
    widget.scan_view._set_probe((0, 0))
    widget.scan_view._stepper((0, 1))(None)
    widget.scan_view._stepper((1, 0))(None)
    assert widget.probe_index() == (1, 1)
    widget.scan_view._stepper((-1, 0))(None)
    widget.scan_view._stepper((-1, 0))(None)  # clipped at the scan edge
    assert widget.probe_index() == (0, 1)


def test_dragging_previews_then_release_computes_exactly(explorer, small_scan):
    from napari.layers.base._base_constants import ActionType

    viewer, widget = explorer
    adf = widget.add_detector("annulus")
    assert widget.tasks.wait(30000)
    moved = [v + np.array([1.0, -1.0]) for v in adf.data]
    adf.events.data(value=moved, action=ActionType.CHANGING, data_indices=(0, 1), vertex_indices=((),))
    adf.data = moved  # napari sets the data, then announces the end of the drag
    assert widget.tasks.wait(30000)
    image = widget.scan_view.model.layers["ADF image"].data
    np.testing.assert_allclose(image, exact_image(small_scan.data, widget.detector_of(adf)), rtol=1e-4)
    assert isinstance(widget.detector_of(adf), Annulus)


def test_compute_all_makes_calibrated_layers(explorer, small_scan):
    viewer, widget = explorer
    click(widget.compute_button)
    assert widget.tasks.wait(60000)
    scan_layers = widget.scan_view.model.layers
    for name in ("BF image", "CoM x", "CoM y", "CoM magnitude", "iDPC phase"):
        assert name in scan_layers, name
        np.testing.assert_allclose(scan_layers[name].scale, [2.0, 2.0])
    mean = viewer.layers["mean pattern"]
    np.testing.assert_allclose(mean.data, small_scan.data.mean(axis=(0, 1)), rtol=1e-4)
    np.testing.assert_allclose(mean.scale, [0.01, 0.01])
    np.testing.assert_allclose(viewer.layers["max pattern"].data, small_scan.data.max(axis=(0, 1)))


def test_cancel_stops_early_and_leaves_no_layers(make_napari_viewer, make_disk_scan):
    import threading
    import time

    import dask.array as da

    viewer = make_napari_viewer()
    ds = make_disk_scan(nav=(40, 40), sig=(32, 32))
    computed = []
    may_go = threading.Event()

    def slow_rows(block):  # a slow detector: each scan row waits for the test's go
        may_go.wait(5)
        computed.append(1)
        time.sleep(0.02)
        return block

    lazy = da.from_array(ds.data, chunks=(1, 40, 32, 32)).map_blocks(slow_rows, dtype=ds.data.dtype)
    data, kwargs, _ = image_layer_data(ds.with_data(lazy))
    viewer.add_image(data, **kwargs)
    widget = open_explorer(viewer)
    may_go.set()
    assert widget.tasks.wait(60000)
    before_main = [layer.name for layer in viewer.layers]
    before_scan = [layer.name for layer in widget.scan_view.model.layers]
    computed.clear()
    may_go.clear()
    click(widget.compute_button)
    click(widget.tasks.cancel_button)
    may_go.set()
    assert widget.tasks.wait(30000)
    assert len(computed) < 40 // 2  # stopped within a few chunks of the 40
    assert [layer.name for layer in viewer.layers] == before_main
    assert [layer.name for layer in widget.scan_view.model.layers] == before_scan
    close(widget)


def test_calibration_flows_to_derived_layers(explorer):
    viewer, widget = explorer
    click(widget.compute_button)
    assert widget.tasks.wait(60000)
    widget.calibration_form.scan_step.value = ("0.5 nm")
    widget.calibration_form.reciprocal_pixel.value = ("0.02 1/nm")
    click(widget.apply_button)
    np.testing.assert_allclose(viewer.layers["mean pattern"].scale, [0.02, 0.02])
    assert [str(u) for u in viewer.layers["mean pattern"].units] == ["1 / nanometer"] * 2
    source = viewer.layers["disk scan"]
    np.testing.assert_allclose(source.scale, [0.5, 0.5, 0.02, 0.02])
    np.testing.assert_allclose(viewer.layers["BF"].scale, [0.02, 0.02])
    np.testing.assert_allclose(widget.scan_view.model.layers["BF image"].scale, [0.5, 0.5])


def test_bad_calibration_is_a_notification_not_a_crash(explorer, qtbot, monkeypatch):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QPushButton

    viewer, widget = explorer
    errors = []
    monkeypatch.setattr("napari.utils.notifications.show_error", errors.append)
    widget.calibration_form.reciprocal_pixel.value = ("2 nm")  # a length is not a reciprocal calibration
    apply = [b for b in widget.findChildren(QPushButton) if b.text() == "Apply calibration"][0]
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    assert errors and "Apply calibration" in errors[0]
    np.testing.assert_allclose(viewer.layers["disk scan"].scale, [2.0, 2.0, 0.01, 0.01])


def test_detector_geometry_round_trips_through_shapes():
    from stemlab.plugin.detector_shapes import detector_from_shapes, shapes_data

    for kind, det in (("disk", Disk(10.5, 12.0, 4.0)), ("annulus", Annulus(16, 15, 5, 11))):
        data, _ = shapes_data(det)
        back = detector_from_shapes(kind, data)
        np.testing.assert_allclose([getattr(back, f) for f in det.__dataclass_fields__],
                                   [getattr(det, f) for f in det.__dataclass_fields__])


def test_uncalibrated_merlin_file_calibrated_in_the_explorer(shared_data, make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.open(str(shared_data / "4dstem" / "merlin" / "001_4x2_6bit.mib"), plugin="napari-stemlab")[0]
    assert [str(u) for u in layer.units] == ["pixel"] * 4
    widget = open_explorer(viewer)
    assert widget.tasks.wait(60000)
    widget.calibration_form.scan_step.value = ("5 nm")
    widget.calibration_form.camera_length.value = ("0.1 m")
    widget.calibration_form.detector_pixel.value = ("55 um")
    widget.calibration_form.voltage.value = ("300 kV")
    click(widget.apply_button)
    # k per pixel = p / (lambda L) = 55e-6 / (0.019687e-10 * 0.1) m^-1 = 0.02794 1/angstrom
    np.testing.assert_allclose(layer.scale, [5, 5, 0.02794, 0.02794], rtol=1e-3)
    assert [str(u) for u in layer.units] == ["nanometer"] * 2 + ["1 / angstrom"] * 2
    assert widget.scan_view.model.layers["BF image"].data.shape == (2, 4)
    np.testing.assert_allclose(widget.scan_view.model.layers["BF image"].scale, [5, 5])
    close(widget)


def test_line_scan_is_explored_as_one_row(make_napari_viewer, small_scan):
    viewer = make_napari_viewer()
    line = small_scan.with_data(small_scan.data[0], axes=small_scan.axes[1:])
    data, kwargs, _ = image_layer_data(line)
    viewer.add_image(data, **kwargs)
    widget = open_explorer(viewer)
    assert widget.tasks.wait(30000)
    image = widget.scan_view.model.layers["BF image"].data
    assert image.shape == (1, 7)
    np.testing.assert_allclose(image[0], exact_image(line.data, widget.detector_of(viewer.layers["BF"])), rtol=1e-4)
    widget.scan_view._set_probe((0, 3))
    np.testing.assert_allclose(np.asarray(viewer.layers["disk scan"]._slice.image.view), line.data[3])
    close(widget)


def test_annulus_inner_circle_follows_the_outer(explorer):
    viewer, widget = explorer
    adf = widget.add_detector("annulus")
    assert widget.tasks.wait(30000)
    outer, inner = adf.data
    adf.data = [outer + np.array([2.0, 3.0]), inner]  # the user dragged only the outer circle
    assert widget.tasks.wait(30000)
    new_outer, new_inner = adf.data
    np.testing.assert_allclose(new_outer.mean(axis=0), new_inner.mean(axis=0))
    np.testing.assert_allclose(new_outer.mean(axis=0), outer.mean(axis=0) + [2.0, 3.0])
