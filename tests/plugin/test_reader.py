"""The napari reader: sniffing, calibrated layers, clear notifications for bad files."""

import numpy as np
import pytest

from stemlab.plugin.reader import napari_get_reader

pytestmark = pytest.mark.gui


def test_get_reader_declines_what_it_cannot_read(tmp_path):
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    assert napari_get_reader(str(png)) is None
    assert napari_get_reader(str(tmp_path)) is None  # a plain folder is not a zarr store


def test_open_npy_gives_a_4d_layer(make_napari_viewer, tmp_path):
    path = tmp_path / "scan.npy"
    np.save(path, np.arange(2 * 3 * 8 * 8, dtype=np.uint16).reshape(2, 3, 8, 8))
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-stemlab")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.data.shape == (2, 3, 8, 8)
    assert tuple(layer.axis_labels) == ("scan_y", "scan_x", "ky", "kx")
    assert layer.metadata["stemlab"]["kind"] == "4dstem"


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\x89PNG\r\n\x1a\n" + b"\0" * 64])
def test_bad_file_gives_a_notification_and_no_layer(make_napari_viewer, tmp_path, monkeypatch, content):
    import napari.utils.notifications as notifications

    path = tmp_path / "broken.mib"
    path.write_bytes(content)
    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-stemlab")
    assert len(viewer.layers) == 0
    assert len(shown) == 1 and "broken.mib" in shown[0]


def test_real_velox_file_gives_one_layer_per_signal(shared_data, make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open(str(shared_data / "images" / "velox_haadf_au_nanoparticle.emd"), plugin="napari-stemlab")
    assert len(layers) == 1
    np.testing.assert_allclose(layers[0].scale, [0.0075, 0.0075], rtol=1e-3)
    assert [str(u) for u in layers[0].units] == ["nanometer", "nanometer"]


def test_sample_data_opens_with_ground_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-stemlab", "4dstem")
    layer = layers[0]
    assert layer.data.ndim == 4
    truth = layer.metadata["ground_truth"]
    assert truth["phase"].shape == layer.data.shape[:2]
    assert [str(u) for u in layer.units][:2] == ["nanometer"] * 2


def test_velox_file_with_eds_gives_its_images_and_says_what_it_skipped(shared_data, make_napari_viewer,
                                                                       monkeypatch):
    import napari.utils.notifications as notifications

    told = []
    monkeypatch.setattr(notifications, "show_info", told.append)
    viewer = make_napari_viewer()
    layers = viewer.open(str(shared_data / "images" / "velox_si_reduced.emd"), plugin="napari-stemlab")
    assert sorted(layer.name for layer in layers) == ["C", "Ca", "Cu", "HAADF", "O"]
    for layer in layers:
        assert [str(u) for u in layer.units] == ["nanometer", "nanometer"]
    assert len(told) == 1 and "4 single spectra" in told[0]


def test_spectrum_image_shows_energy_as_a_slider():
    from stemlab import Axis, Dataset
    from stemlab.plugin.layers import viewable

    cube = np.zeros((4, 5, 100), np.float32)
    ds = Dataset(cube, (Axis("y", 4, 2.0, units="nm", navigate=True), Axis("x", 5, 2.0, units="nm", navigate=True),
                        Axis("energy", 100, 0.01, units="keV")), kind="spectrum_image")
    shown = viewable(ds)
    assert shown.axis_labels == ("energy", "y", "x")
    assert shown.data.shape == (100, 4, 5)


def test_layer_keeps_the_scan_geometry(small_scan):
    """Dataset -> layer kwargs -> Dataset: the scan rotation and flip survive the trip through napari."""
    from dataclasses import replace
    from types import SimpleNamespace

    from stemlab.plugin.layers import layer_kwargs, layer_to_dataset

    ds = replace(small_scan, scan_rotation_deg=17.5, scan_flip=True)
    kwargs = layer_kwargs(ds)
    layer = SimpleNamespace(data=ds.data, metadata=kwargs["metadata"], scale=kwargs["scale"],
                            translate=kwargs["translate"], name=kwargs["name"])
    back = layer_to_dataset(layer)
    assert back.scan_geometry == {"scan_rotation_deg": 17.5, "scan_flip": True}
    assert "scan rotation 17.5 deg, flipped" in back.describe()
