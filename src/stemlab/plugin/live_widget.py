"""Live widget (Plugins > STEM lab > Live): connect to a detector, arm it, and watch the maps grow.

The scan runs in a worker (:class:`~.tasks.TaskPanel`: progress bar with frames received, dropped and
analysed; Cancel). A timer in the GUI thread copies the session's maps into '... (live)' layers about 6
times a second. When the scan ends, the live layers give way to the calibrated result layers; after a
Cancel they are removed, so nothing half-made stays. The virtual detectors are those drawn in the
4D-STEM explorer (its detector Shapes layers), else a bright-field disk and an annular dark field.
"""

from __future__ import annotations

from typing import Annotated

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QLabel

from .form import AnalysisWidget
from .layers import add_results, image_layer_data, labels_layer_data
from .tasks import notify_error

TITLE = "Live"
REFRESH_MS = 150  # layer updates: ~6.7 per second
LIVE_SUFFIX = " (live)"


def live_parameters(
    detector: Annotated[str, {"label": "detector", "tooltip": "merlin://HOST[:DATA_PORT][?api_port=N]; data port "
                                                               "6342 and control port 6341 by default"}]
    = "merlin://127.0.0.1:6342?api_port=6341",
    rows: Annotated[int, {"min": 1, "max": 8192, "label": "scan rows"}] = 64,
    columns: Annotated[int, {"min": 1, "max": 8192, "label": "scan columns"}] = 64,
    phases: Annotated[str, {"label": "phases", "tooltip": "comma-separated CIF paths or shipped names (Al, Cu, "
                                                           "alpha-Fe, ...) for orientation/phase maps; empty: none"}]
    = "",
    calibration: Annotated[str, {"label": "detector pixel (1/length)", "tooltip": "e.g. 0.0127/angstrom"}] = "",
    scan_step: Annotated[str, {"label": "scan step", "tooltip": "e.g. 2nm"}] = "",
    voltage: Annotated[str, {"label": "voltage", "tooltip": "e.g. 200kV"}] = "",
    record: Annotated[str, {"label": "record to (.zarr/.mib)", "tooltip": "every frame is written there; "
                                                                         "empty: not recorded"}] = "",
) -> dict:
    calibration_options = {name: value for name, value in (("calibration", calibration), ("scan_step", scan_step),
                                                          ("voltage", voltage)) if value.strip()}
    return {"source": detector.strip(), "scan": (rows, columns),
            "phases": [p.strip() for p in phases.split(",") if p.strip()],
            "record": record.strip() or None, "calibration": calibration_options}


def explorer_detectors(viewer) -> dict:
    """The detectors drawn in the 4D-STEM explorer (its detector Shapes layers), by layer name."""
    from .detector_shapes import DETECTOR_KEY, detector_from_shapes

    out = {}
    for layer in viewer.layers:
        kind = layer.metadata.get(DETECTOR_KEY) if isinstance(layer.metadata, dict) else None
        detector = detector_from_shapes(kind, list(layer.data)) if kind else None
        if detector is not None:
            out[layer.name] = detector
    return out


class LiveWidget(AnalysisWidget):
    """Receive a live scan and show its maps while it grows (see the module docstring)."""

    title = TITLE

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, live_parameters, {})
        self.run_button.setText("Connect and scan")
        self.counts = QLabel("")
        self.session = None
        self.updates = 0  # live refreshes of the layers during the last scan
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._refresh)
        self.finish_layout(self.counts)

    def start(self, kwargs):
        from ..live.session import LiveSession
        from ..live.sources import parse_source

        source = parse_source(kwargs.pop("source"))  # a mistyped address is refused before anything starts
        detectors = explorer_detectors(self.viewer) or None
        self.session, self.updates = None, 0

        def scan(progress, cancel):
            self.session = LiveSession(source, kwargs["scan"], detectors=detectors, phases=kwargs["phases"],
                                       record=kwargs["record"], calibration=kwargs["calibration"],
                                       progress=progress, cancel=cancel)
            return self.session.run()

        worker = self.tasks.run(scan, self._done, TITLE)
        worker.finished.connect(self._stopped)
        self.timer.start()
        return worker

    # -- while the scan runs -----------------------------------------------------------------
    def _refresh(self):
        session = self.session
        if session is None or session.dataset is None:
            return
        try:
            maps = session.snapshot()
        except Exception as error:  # a display hiccup must not stop the scan
            notify_error(f"{TITLE}: showing the maps", error)
            self.timer.stop()
            return
        scan_axes, sig_axes = session.dataset.nav_axes, session.dataset.sig_axes
        for name, data in maps.items():
            axes = sig_axes if name == "mean pattern" else scan_axes
            layer_name = name + LIVE_SUFFIX
            if layer_name in self.viewer.layers:
                self.viewer.layers[layer_name].data = data
            else:
                add = self.viewer.add_labels if name == "phase" else self.viewer.add_image
                add(data, name=layer_name, scale=[a.scale for a in axes], translate=[a.offset for a in axes])
        self.updates += 1
        self.counts.setText(session.status.line())

    def _stopped(self):
        self.timer.stop()
        self._remove_live_layers()  # after a result they were replaced; after Cancel or an error nothing stays

    def _remove_live_layers(self):
        for name in [lyr.name for lyr in self.viewer.layers if lyr.name.endswith(LIVE_SUFFIX)]:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)

    # -- at the end ----------------------------------------------------------------------------
    def _done(self, result):
        from napari.utils.notifications import show_warning

        self.timer.stop()
        self._remove_live_layers()
        self.result = result
        layers = []
        for name, ds in result.datasets().items():
            if name in ("phase", "pending"):
                layers.append(labels_layer_data(ds, name=name))
            elif ds.axes[-1].name == "rgb":  # IPF colours: the rgb axis is no layer axis
                data, kwargs, kind = image_layer_data(ds, name=name, rgb=True)
                for key in ("scale", "translate", "units", "axis_labels"):
                    kwargs[key] = tuple(kwargs[key])[:-1]
                kwargs.pop("contrast_limits", None)
                layers.append((data, kwargs, kind))
            else:
                layers.append(image_layer_data(ds, name=name))
        first = next((i for i, (_, kw, _) in enumerate(layers) if kw["name"] == "phase"), 0)
        add_results(self.viewer, layers, TITLE, shown=first)
        self.counts.setText(result.summary())
        if result.error:
            show_warning(f"{TITLE}: {result.error}")

    def closeEvent(self, event):
        self.timer.stop()
        super().closeEvent(event)
