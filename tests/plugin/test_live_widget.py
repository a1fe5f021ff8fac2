"""The Live widget as a user drives it: docked from the manifest, fed by LiberTEM-live's Merlin simulator
(a detector we did not write, speaking the real protocol), buttons clicked with the mouse."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))
from simulator import MerlinSimulator, simulator_available, write_mib  # noqa: E402

pytestmark = pytest.mark.slow  # the simulator takes ~10 s to start


@pytest.fixture(scope="module")
def slow_detector(tmp_path_factory):
    """A 16 x 16 scan of 32 x 32 frames sent one by one at 100 frames/s (2.6 s a scan)."""
    pytest.importorskip("libertem_live")
    if not simulator_available():
        pytest.skip("libertem-live-mib-sim not found beside the Python interpreter")
    frames = np.random.default_rng(2).poisson(6.0, (256, 32, 32)).astype(np.uint16)
    hdr = write_mib(tmp_path_factory.mktemp("live") / "scan.mib", frames, 16)
    sim = MerlinSimulator(hdr, (16, 16), dwelltime_us=10000, extra=("--cached", "none"))
    yield sim, hdr.with_suffix(".mib")
    sim.stop()


def test_scan_shows_result_layers_equal_to_the_offline_maps(gui, slow_detector, tmp_path):
    import stemlab
    from stemlab.live.session import default_detectors

    sim, mib = slow_detector
    widget = gui.open_widget("Live")
    widget.set(detector=sim.url, rows=16, columns=16, record=str(tmp_path / "scan.zarr"))
    gui.click(widget.run_button)
    names = gui.layer_names()
    assert {"BF", "ADF", "CoM y", "CoM x", "mean pattern"} <= set(names)
    assert not [n for n in names if n.endswith("(live)")]
    assert "received 256/256, dropped 0, analysed 256" in widget.counts.text()
    offline = stemlab.explore(stemlab.load(mib)[0], default_detectors((32, 32)))
    np.testing.assert_allclose(gui.viewer.layers["BF"].data, np.asarray(offline["BF"].data), rtol=1e-6)
    recorded = stemlab.load(tmp_path / "scan.zarr")[0]
    assert np.array_equal(np.asarray(recorded.data), np.asarray(stemlab.load(mib)[0].data))


def test_cancel_mid_scan_leaves_no_layer(gui, slow_detector):
    sim, _ = slow_detector
    widget = gui.open_widget("Live")
    widget.set(detector=sim.url, rows=16, columns=16)
    gui.click(widget.run_button, wait=False)
    gui.qtbot.waitUntil(lambda: widget.updates > 0 and any(n.endswith("(live)") for n in gui.layer_names()),
                        timeout=60000)  # the maps grow while the detector runs
    assert widget.session.status.received < 256
    gui.click(widget.tasks.cancel_button)
    assert gui.layer_names() == []
    assert any("cancelled" in m for m in gui.messages())


def test_mistyped_address_is_a_notification_naming_the_fix(gui):
    widget = gui.open_widget("Live")
    widget.set(detector="merlin//127.0.0.1")
    gui.click(widget.run_button)
    assert any("merlin://HOST[:DATA_PORT][?api_port=N]" in m for m in gui.messages()), gui.messages()
    assert gui.layer_names() == []
