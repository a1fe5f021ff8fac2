"""Every button of every widget, clicked as a person clicks it (see conftest.py's ``gui``).

Each widget is docked from the manifest (so it receives napari's viewer proxy), its buttons are
clicked with the mouse, the workers are waited for, and the test checks the layers, the
notifications and the progress bar -- and fails on any exception that escaped a slot.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def button(widget, text):
    """The push button of ``widget`` whose label is ``text``."""
    from qtpy.QtWidgets import QPushButton

    found = [b for b in widget.findChildren(QPushButton) if b.text() == text]
    assert found, f"no button {text!r}: {[b.text() for b in widget.findChildren(QPushButton)]}"
    return found[0]


def bar_done(widget) -> bool:
    """The widget's progress bar shows a finished run (100 %)."""
    bar = widget.tasks.bar
    return bar.maximum() > 0 and bar.value() == bar.maximum()


def same(a, b) -> bool:
    """``a`` and ``b`` are the same napari object (either may be napari's public proxy of it)."""
    return getattr(a, "__wrapped__", a) is getattr(b, "__wrapped__", b)


def explorers(viewer):
    from stemlab.plugin.explorer import ExplorerWidget

    return viewer.window._qt_window.findChildren(ExplorerWidget)


def small_scan_layer(gui, size=10):
    """The corner of the 4D-STEM sample, opened as a user opens a small file."""
    from stemlab.plugin.layers import image_layer_data
    from stemlab.samples import sample_4dstem

    corner = sample_4dstem().subset(scan_y=slice(0, size), scan_x=slice(0, size))
    data, kwargs, _ = image_layer_data(corner, name="sample corner")
    return gui.viewer.add_image(data, **kwargs)


def set_phases(widget, names):
    widget.set_phases(names)


# -- the 4D-STEM explorer -------------------------------------------------------------------------
def test_explorer_every_button_on_the_sample(gui):
    layer = gui.open_sample("4dstem")
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    assert same(explorer.source, layer)
    assert layer.gamma < 1 or layer.colormap.name != "gray", "patterns need log/gamma contrast for Bragg spots"
    assert gui.viewer.canvas.overlays.scale_bar.visible
    for kind, name in (("disk", "BF 2"), ("annulus", "ADF"), ("rectangle", "DF")):
        gui.click(button(explorer, f"+ {kind}"))
        assert name in gui.layer_names()
        assert f"{name} image" in explorer.scan_view.model.layers
    gui.click(button(explorer, "Compute all"))
    for name in ("BF image", "ADF image", "iDPC phase"):
        assert name in explorer.scan_view.model.layers
    assert bar_done(explorer)
    gui.click(button(explorer, "Compute all"), wait=False)
    gui.click(button(explorer.tasks, "Cancel"))
    assert any("cancelled" in m for m in gui.messages("info")) and not bar_done(explorer)
    gui.click(button(explorer, "Find centre"))
    assert any("Direct beam at row" in m for m in gui.messages())
    explorer.calibration_form.scan_step.value = "3 nm"
    gui.click(button(explorer, "Apply calibration"))
    assert tuple(layer.scale[:2]) == pytest.approx((3.0, 3.0))
    assert not gui.messages("error")


def test_explorer_on_a_real_blockfile(gui):
    layer = gui.open_file("4dstem/astar_sped_3x2.blo")
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    assert same(explorer.source, layer)
    gui.click(button(explorer, "Compute all"))
    assert "BF image" in explorer.scan_view.model.layers
    assert explorer.scan_view.model.layers["BF image"].data.shape == (3, 2)
    assert not gui.messages("error")


# -- orientation mapping --------------------------------------------------------------------------
@pytest.mark.slow
def test_orientation_preview_and_run_share_one_explorer(gui, tmp_path, monkeypatch):
    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path))
    layer = small_scan_layer(gui)
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    widget = gui.open_widget("Orientation mapping")
    set_phases(widget, ["Al", "alpha-Fe"])
    widget.set(resolution=2.0)
    gui.click(button(widget, "Preview current pattern"))
    assert "template spots" in gui.layer_names()
    assert "1." in widget.candidates_text.toPlainText()
    gui.click(button(widget, "Run"))
    assert bar_done(widget)
    assert explorers(gui.viewer) == [explorer], "a second explorer was opened"
    assert [n for n in gui.layer_names() if n.startswith("BF")] == ["BF"]
    scan_layers = explorer.scan_view.model.layers
    phase = scan_layers[f"{layer.name} phase"]
    assert list(phase.features["phase"]) == ["none", "Al", "alpha-Fe"]
    results = [lyr.name for lyr in scan_layers if lyr.name.startswith(layer.name)]
    visible = [name for name in results if scan_layers[name].visible]
    assert len(results) == 7 and visible == [f"{layer.name} IPF z"], f"result layers shown at once: {visible}"
    assert [name for name, _ in widget.legend.entries] == ["Al", "alpha-Fe"]
    assert not widget.ipf_key.isHidden() and not widget.ipf_key.pixmap().isNull()
    assert not gui.messages("error")


@pytest.mark.slow
def test_orientation_on_a_real_blockfile(gui, tmp_path, monkeypatch):
    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path))
    layer = gui.open_file("4dstem/astar_sped_3x2.blo")
    widget = gui.open_widget("Orientation mapping")
    from stemlab.crystal.phase import shipped_cifs

    cif = shipped_cifs()["Cu"]
    monkeypatch.setattr("qtpy.QtWidgets.QFileDialog.getOpenFileName", lambda *a, **k: (str(cif), "CIF (*.cif)"))
    gui.click(button(widget, "Add CIF..."))
    assert widget.phase_list.item(widget.phase_list.count() - 1).text() == cif.stem
    set_phases(widget, ["Al"])
    widget.set(resolution=3.0)
    gui.click(button(widget, "Preview current pattern"))
    gui.click(button(widget, "Run"))
    ok = widget.result is not None and widget.result.nav_shape == layer.data.shape[:2]
    assert ok or gui.messages("error"), "a run must end in maps or a clear error"
    assert len(explorers(gui.viewer)) <= 1


# -- segmentation, then classification on the same image -----------------------------------------
@pytest.mark.slow
def test_segmentation_then_classification_on_the_haadf_sample(gui):
    image = gui.open_sample("haadf")
    seg = gui.open_widget("Symmetry segmentation")
    seg.set(stride=8, segments=3)
    gui.click(button(seg, "Run"))
    assert bar_done(seg)
    labels = [lyr for lyr in gui.viewer.layers if lyr._type_string == "labels"]
    assert len(labels) == 1 and labels[0].data.max() == 3
    # the fingerprint plot uses the label colours
    from matplotlib.colors import to_rgba

    lines = seg.figure.axes[0].get_lines()
    assert len(lines) >= 3
    for k, line in enumerate(lines[:3], start=1):
        np.testing.assert_allclose(to_rgba(line.get_color()), labels[0].get_color(k), atol=0.02)
    # ... and the legend names each segment in its colour
    assert [name.split(" (")[0] for name, _ in seg.legend.entries] == ["segment 1", "segment 2", "segment 3"]
    # the classifier offers the opened image, not a derived map
    cls = gui.open_widget("Crystal classification")
    assert same(cls.form.image.value, image)
    cls.set(passes=3)
    gui.click(button(cls, "Run"))
    assert bar_done(cls)
    assert f"{image.name} class" in gui.layer_names()
    assert cls.legend.entries and all(name in cls.result.class_names for name, _ in cls.legend.entries)
    assert not gui.messages("error")


@pytest.mark.slow
def test_segmentation_and_classification_on_a_real_image(gui):
    image = gui.open_file("images/hspy_adf_srtio3.hdf5")
    seg = gui.open_widget("Symmetry segmentation")
    seg.set(stride=8)
    gui.click(button(seg, "Run"))
    assert any(lyr._type_string == "labels" for lyr in gui.viewer.layers) or gui.messages("error")
    cls = gui.open_widget("Crystal classification")
    assert same(cls.form.image.value, image)
    cls.set(passes=3)
    gui.click(button(cls, "Run"))
    assert f"{image.name} class" in gui.layer_names() or gui.messages("error")


# -- phase-field fit ------------------------------------------------------------------------------
@pytest.mark.slow
def test_phasefield_run_pause_resume_on_the_video_sample(gui):
    video = gui.open_sample("video")
    widget = gui.open_widget("Phase-field fit")
    widget.set(steps=20, downsample=4)
    gui.click(button(widget, "Run"))
    assert bar_done(widget)
    assert any("denoised" in n for n in gui.layer_names())
    assert widget.quality_label.text()
    widget.set(steps=400)
    gui.click(button(widget, "Resume"), wait=False)
    gui.qtbot.waitUntil(lambda: widget.state is not None and widget.state.step > 25, timeout=120000)
    gui.click(button(widget, "Pause"))
    assert widget.state.step < 400 and not bar_done(widget)
    assert button(widget, "Resume").isEnabled()
    assert video.name in gui.layer_names()
    assert not gui.messages("error")


def test_phasefield_on_a_real_stack(gui):
    gui.open_file("video/velox_tem_stack.emd")
    widget = gui.open_widget("Phase-field fit")
    widget.set(steps=10)
    gui.click(button(widget, "Run"))
    if widget.result is None:
        assert gui.messages("error") and not bar_done(widget)


# -- the input goes away during a run -------------------------------------------------------------
def _start_explorer(gui):
    gui.open_sample("4dstem")
    explorer = gui.open_widget("4D-STEM explorer")
    gui.wait()
    return explorer, button(explorer, "Compute all")


def _start_orientation(gui):
    small_scan_layer(gui, 16)
    widget = gui.open_widget("Orientation mapping")
    set_phases(widget, ["Al", "alpha-Fe"])
    widget.set(resolution=2.0)
    return widget, button(widget, "Run")


def _start_segmentation(gui):
    gui.open_sample("haadf")
    widget = gui.open_widget("Symmetry segmentation")
    widget.set(stride=8)
    return widget, button(widget, "Run")


def _start_classification(gui):
    gui.open_sample("haadf")
    widget = gui.open_widget("Crystal classification")
    widget.set(passes=20)
    return widget, button(widget, "Run")


def _start_phasefield(gui):
    gui.open_sample("video")
    widget = gui.open_widget("Phase-field fit")
    widget.set(steps=300)
    return widget, button(widget, "Run")


@pytest.mark.slow
@pytest.mark.parametrize("start", [_start_explorer, _start_orientation, _start_segmentation,
                                   _start_classification, _start_phasefield],
                         ids=["explorer", "orientation", "segmentation", "classification", "phasefield"])
def test_removing_the_input_mid_run_cancels_cleanly(gui, start, tmp_path, monkeypatch):
    monkeypatch.setenv("STEMLAB_CACHE", str(tmp_path))
    widget, run = start(gui)
    gui.click(run, wait=False)
    assert gui.busy()
    assert not run.isEnabled(), "Run must be disabled while a run goes (one run at a time)"
    gui.viewer.layers.clear()  # before any event is processed: the run cannot have delivered its results
    gui.wait()
    assert run.isEnabled()
    assert not bar_done(widget), "a cancelled run must not show 100 %"
    assert gui.layer_names() == [], f"half-made layers: {gui.layer_names()}"
    assert any("removed" in m for m in gui.messages()), gui.notes
