"""Every real instrument file in ../shared/data loads with the right shape, kind, axes and calibration.

The table below is the truth (shared/data/README.md, checked against the files); a file
added to the folder without a row here fails ``test_every_file_has_an_expectation``.
"""

from __future__ import annotations

import warnings

import pytest

import stemlab.io as sio

# shape, dtype, kind, axis names, navigate flags, per-axis (scale, units); None = not checked
K_BLO = 0.0320217  # 1/angstrom per px: 0.01606 cm screen pixel / (lambda(200 kV) * 0.2 m)
T, F = True, False
px = (1.0, "")
SIGNALS = {
    "4dstem/astar_sped_3x2.blo": [
        ((3, 2, 144, 144), "uint8", "4dstem", ("scan_y", "scan_x", "ky", "kx"), (T, T, F, F),
         [(12.8, "nm"), (12.8, "nm"), (K_BLO, "1/angstrom"), (K_BLO, "1/angstrom")])],
    "4dstem/merlin/001_4x2_6bit.mib": [
        ((2, 4, 256, 256), "uint8", "4dstem", ("scan_y", "scan_x", "ky", "kx"), (T, T, F, F), [px] * 4)],
    "4dstem/merlin/001_4x2_6bit.hdr": "4dstem/merlin/001_4x2_6bit.mib",
    # 9 frames without scan shape: a stack of patterns on one navigation axis 'scan'
    "4dstem/merlin/Single_9_Frame_CounterDepth_12_Rows_256.mib": [
        ((9, 256, 256), ">u2", "4dstem", ("scan", "ky", "kx"), (T, F, F), [px] * 3)],
    "4dstem/merlin/Single_9_Frame_CounterDepth_12_Rows_256.hdr": "4dstem/merlin/Single_9_Frame_CounterDepth_12_Rows_256.mib",
    "4dstem/merlin/Quad_1_Frame_CounterDepth_24_Rows_256.mib": [
        ((512, 512), ">u4", "diffraction", ("ky", "kx"), (F, F), [px] * 2)],
    "4dstem/merlin/Quad_1_Frame_CounterDepth_24_Rows_256.hdr": "4dstem/merlin/Quad_1_Frame_CounterDepth_24_Rows_256.mib",
    "4dstem/prismatic_si100_4d.emd": [
        ((2, 11, 11, 8, 8), "float32", "4dstem", ("depth", "scan_y", "scan_x", "ky", "kx"), (T, T, T, F, F),
         [(2.715, "angstrom"), (0.5, "nm"), (0.5, "nm"), (0.184162, "1/nm"), (0.184162, "1/nm")])],
    "4dstem/py4dstem_2x3x4x5.h5": [
        ((2, 3, 4, 5), "float32", "4dstem", ("scan_y", "scan_x", "ky", "kx"), (T, T, F, F),
         [(0.126797, "nm"), (0.126797, "nm"), (0.0442516, "1/angstrom"), (0.0442516, "1/angstrom")])],
    "images/velox_haadf_au_nanoparticle.emd": [
        ((2048, 2048), "uint16", "image", ("y", "x"), (F, F), [(0.0074984, "nm")] * 2)],
    "images/gatan_adf_se_mos2.dm3": [((1024, 1024), "uint32", "image", ("y", "x"), (F, F), [(0.0126953, "nm")] * 2)],
    # units missing in the file: 0.00933 is nm (0.093 angstrom/px, atomic-resolution ADF)
    "images/hspy_adf_srtio3.hdf5": [((400, 380), "float16", "image", ("y", "x"), (F, F), [(0.0093263, "nm")] * 2)],
    "images/haadf_high_entropy_alloy.npy": [((1024, 1024), "uint16", "image", ("y", "x"), (F, F), [px] * 2)],
    "images/gatan_stem_image.dm3": [((68, 68), "uint32", "image", ("y", "x"), (F, F), [(0.248538, "nm")] * 2)],
    "images/gatan_diffraction_pattern.dm3": [
        ((87, 87), "int32", "diffraction", ("ky", "kx"), (F, F), [(0.174433, "1/nm")] * 2)],
    "images/de_haadf_scan.mrc": [((16, 16), "uint16", "image", ("y", "x"), (F, F), [(5.67913, "nm")] * 2)],
    "images/velox_si_reduced.emd": [
        *[((4096,), "uint32", "spectrum", ("energy",), (F,), [(0.01, "keV")])] * 4,
        *[((16, 16), "float32", "image", ("y", "x"), (F, F), [(3.59925, "nm")] * 2)] * 4,
        ((16, 16), "uint16", "image", ("y", "x"), (F, F), [(3.59925, "nm")] * 2)],
    "video/velox_tem_stack.emd": [
        ((2, 3, 3), "int16", "video", ("t", "y", "x"), (T, F, F), [(0.8, "s"), (8.17288, "pm"), (8.17288, "pm")])],
}
VOLTAGE_KV = {"4dstem/astar_sped_3x2.blo": 200, "4dstem/prismatic_si100_4d.emd": 100,
              "images/velox_haadf_au_nanoparticle.emd": 300, "video/velox_tem_stack.emd": 300,
              "images/gatan_stem_image.dm3": 200}
NOT_DATA = {"README.md"}


def _expected(rel):
    value = SIGNALS[rel]
    return SIGNALS[value] if isinstance(value, str) else value


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the srtio3 'assumed nm' warning is tested separately
        return sio.load(path)


def test_every_file_has_an_expectation(shared_data):
    data_dir = shared_data
    files = {p.relative_to(shared_data).as_posix() for p in data_dir.rglob("*") if p.is_file() and p.name not in NOT_DATA}
    assert files - set(SIGNALS) == set(), "add the new files to the SIGNALS table"


@pytest.mark.parametrize("rel", sorted(SIGNALS))
def test_real_file(rel, shared_data):
    path = shared_data / rel
    if not path.exists():
        pytest.skip(f"{rel} not in {shared_data}")
    assert sio.can_read(path)
    datasets = _load(path)
    expected = _expected(rel)
    assert len(datasets) == len(expected)
    for ds, (shape, dtype, kind, names, navigate, calib) in zip(datasets, expected):
        assert ds.shape == shape
        assert ds.dtype == dtype
        assert ds.kind == kind
        assert ds.axis_labels == names
        assert tuple(a.navigate for a in ds.axes) == navigate
        assert [a.units for a in ds.axes] == [u for _, u in calib]
        assert [a.scale for a in ds.axes] == pytest.approx([s for s, _ in calib], rel=1e-4)
        assert ds.is_lazy
        assert ds.source == str(path)
        assert "original_metadata" in ds.metadata and "metadata" in ds.metadata or path.suffix == ".npy"
        if rel in VOLTAGE_KV:
            assert ds.metadata["voltage_kv"] == pytest.approx(VOLTAGE_KV[rel])


def test_blockfile_keeps_raw_header_and_centres_k(shared_data):
    ds = _load(shared_data / "4dstem/astar_sped_3x2.blo")[0]
    record = ds.metadata["blockfile_calibration"]
    assert record["screen_pixel_cm"] == pytest.approx(0.016061677, rel=1e-6)
    assert record["camera_length_m"] == pytest.approx(0.2)
    assert ds.axes[2].offset == pytest.approx(-72 * K_BLO, rel=1e-4)
    assert "nominal camera length" in record["note"]


def test_missing_units_warns_and_is_noted(shared_data):
    with pytest.warns(UserWarning, match="assumed nm"):
        ds = sio.load(shared_data / "images/hspy_adf_srtio3.hdf5")[0]
    assert any("assumed nm" in n for n in ds.metadata["notes"])


def test_eager_load_and_load_one(shared_data):
    ds = sio.load(shared_data / "4dstem/merlin/001_4x2_6bit.mib", lazy=False)[0]
    assert type(ds.data).__module__ == "numpy" and ds.data.shape == (2, 4, 256, 256)
    main = sio.load_one(shared_data / "images/velox_si_reduced.emd")
    assert main.kind == "image" and main.shape == (16, 16) and main.name == "HAADF"
    assert sio.load_one(shared_data / "4dstem/prismatic_si100_4d.emd").kind == "4dstem"


def test_calibration_options_reach_files(shared_data):
    ds = sio.load(shared_data / "4dstem/merlin/001_4x2_6bit.mib", scan_step="2nm", calibration="0.0127 1/A")[0]
    assert ds.axes[0].scale == 2.0 and ds.axes[0].units == "nm"
    assert ds.axes[3].units == "1/angstrom" and ds.axes[3].offset == pytest.approx(-0.0127 * 128)
    img = _load(shared_data / "images/de_haadf_scan.mrc")
    with pytest.raises(Exception, match="calibration"):
        sio.load(shared_data / "images/de_haadf_scan.mrc", calibration="0.01/A")
    assert img[0].axes[0].scale == pytest.approx(5.67913, rel=1e-5)


def test_describe_lists_every_signal(shared_data):
    text = sio.describe(shared_data / "images/velox_si_reduced.emd")
    assert "9 signal(s)" in text and "keV" in text and "300 kV" in text
    text = sio.describe(shared_data / "4dstem/astar_sped_3x2.blo")
    assert "1/angstrom" in text and "scan_y" in text and "200 kV" in text and "lazy" in text
