"""Phase-field fit widget: fit Allen-Cahn / Cahn-Hilliard kinetics to a video layer.

The form (:func:`phasefield_parameters`, magicgui) -> :func:`stemlab.phasefield.fit_phasefield`
in a worker with a live loss curve and the current order parameter; Pause keeps the fit's
state and Resume continues it; the result adds the denoised video, the order parameter and
the interfaces (Labels) with the input's calibration, a table of the fitted parameters with
units and plots of the phase fraction and interface velocity over time.
"""

from typing import Annotated

import numpy as np
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from ..errors import Cancelled, ParameterError
from .form import AnalysisWidget
from .layers import META_KEY, add_results, image_layer_data, labels_layer_data, layer_to_dataset
from .tasks import connect

TITLE = "Phase-field fit"
MODELS = {"Allen-Cahn (non-conserved)": "allen-cahn", "Cahn-Hilliard (conserved)": "cahn-hilliard"}


def is_video_layer(layer) -> bool:
    """A napari image layer with three dimensions (time, y, x)."""
    from napari.layers import Image

    if not isinstance(layer, Image) or layer.rgb:
        return False
    info = layer.metadata.get(META_KEY, {}) if isinstance(layer.metadata, dict) else {}
    return layer.data.ndim == 3 and info.get("kind", "video") in ("video", "stack", "image")


def phasefield_parameters(
    video,
    model: Annotated[str, {"choices": [(label, key) for label, key in MODELS.items()]}] = "allen-cahn",
    frame_start: Annotated[int, {"min": 0, "max": 100000, "label": "first frame"}] = 0,
    # a whole number in a float box: only Qt's own spin boxes show 'end' at their minimum
    frame_stop: Annotated[float, {"min": 0, "max": 100000, "step": 1, "label": "stop frame",
                                  "tooltip": "One past the last frame fitted (end: to the end)"}] = 0,
    crop: Annotated[str, {"label": "crop (px)", "tooltip": "y0,y1,x0,x1 in pixels (empty: whole frame)"}] = "",
    downsample: Annotated[int, {"min": 1, "max": 16, "tooltip": "Spatial coarse-graining of the order "
                                                                "parameter"}] = 2,
    steps: Annotated[int, {"min": 1, "max": 1000000, "tooltip": "Training budget: optimiser steps (Resume "
                                                                "continues up to this number)"}] = 1500,
    align: Annotated[bool, {"label": "drift correction before the fit"}] = True,
) -> dict:
    """The form's values as keyword arguments of :func:`stemlab.phasefield.fit_phasefield` (plus ``layer``)."""
    from ..phasefield.crop import parse_crop

    if video is None:
        raise ParameterError("open a video (time, y, x) as an image layer first (File > Open Sample > STEM lab "
                             "> HAADF video).")
    n = video.data.shape[0]
    stop = int(frame_stop) or n
    if not 0 <= frame_start < stop <= n:
        raise ParameterError(f"frames {frame_start} to {stop}: the video has frames 0 to {n}; give a first frame "
                             f"below the stop frame.")
    return {"layer": video, "model": model, "downsample": downsample, "frames": (frame_start, stop),
            "crop": parse_crop(crop.strip()), "align": align, "steps": steps}


class _LiveRelay(QObject):
    """Carries live fit updates from the worker thread to the GUI thread."""

    update = Signal(object)


class PhaseFieldWidget(AnalysisWidget):
    """Dock widget: physics-informed phase-field fit of a video layer."""

    title = TITLE
    specials = {"frame_stop": "end"}

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, phasefield_parameters, {"video": is_video_layer})
        self.state = None  # resumable fit state (after Pause or a finished run)
        self._last_info = None
        self.pause_button = connect(QPushButton("Pause"), "Pause", self.pause)
        self.pause_button.setEnabled(False)
        self.resume_button = connect(QPushButton("Resume"), "Resume", self.resume)
        self.resume_button.setEnabled(False)
        self.tasks.locks.append(self.resume_button)
        self.form.frame_stop.native.setDecimals(0)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        for b in (self.run_button, self.pause_button, self.resume_button):
            row.addWidget(b)
        self.quality_label = QLabel("")
        self.quality_label.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["parameter", "value", "± std. error", "units"])
        self.table.verticalHeader().setVisible(False)

        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4.5, 4.2), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(300)
        self._axes = self.figure.subplots(2, 2)
        self._draw_empty()
        self.finish_layout(self.canvas, self.quality_label, self.table, buttons=buttons, stretch=self.canvas)

        self._relay = _LiveRelay()
        self._relay.update.connect(self._show_live)

    # -- actions ----------------------------------------------------------------------------
    def start(self, kwargs, state=None):
        """Start a fresh fit (or continue ``state``)."""
        layer = kwargs.pop("layer")
        if state is None:
            self.state = None
            self._last_info = None
        dataset = layer_to_dataset(layer)
        relay = self._relay

        def live(info):
            relay.update.emit({**info, "history": {k: list(v) for k, v in info["history"].items()}})

        def work(progress=None, cancel=None, **options):
            from ..phasefield import fit_phasefield

            try:
                return fit_phasefield(dataset, progress=progress, cancel=cancel, callback=live,
                                      callback_every=10, **options)
            except Cancelled as error:
                self.state = getattr(error, "state", None) or self.state
                raise

        worker = self.tasks.run(work, self._done, TITLE, inputs=[layer], state=state, **kwargs)
        self.pause_button.setEnabled(True)
        worker.finished.connect(self._worker_finished)
        return worker

    def pause(self):
        """Stop the running fit, keeping its state for Resume."""
        self.tasks.cancel()

    def resume(self):
        """Continue the paused (or finished) fit up to the Steps budget."""
        if self.tasks.busy:
            return None
        if self.state is None:
            raise ParameterError("nothing to resume: run a fit first.")
        if self.form.steps.value <= self.state.step:
            self.form.steps.value = self.state.step + max(100, self.state.step // 2)
        return self.start(self.parameters(), state=self.state)

    def _worker_finished(self):
        self.pause_button.setEnabled(False)
        self.resume_button.setEnabled(self.state is not None and not self.tasks.busy)

    # -- display ----------------------------------------------------------------------------
    def _draw_empty(self):
        titles = ["loss", "order parameter (live)", "phase fraction", "interface velocity"]
        for ax, title in zip(self._axes.ravel(), titles):
            ax.clear()
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=7)
        self.canvas.draw_idle()

    def _show_live(self, info):
        self._last_info = info
        if info.get("state") is not None:
            self.state = info["state"]
        history = info["history"]
        ax_loss, ax_u = self._axes[0]
        ax_loss.clear()
        if history["step"]:
            loss = np.asarray(history["loss"])
            ax_loss.plot(history["step"], loss - loss.min() + 1e-6)
            ax_loss.set_yscale("log")
        ax_loss.set_title(f"loss (step {info['step']}/{info['steps']})", fontsize=9)
        ax_loss.set_xlabel("step", fontsize=8)
        ax_u.clear()
        ax_u.imshow(info["u_frame"], cmap="viridis", vmin=-0.1, vmax=1.1)
        ax_u.set_title(f"order parameter, frame {info['frame']}", fontsize=9)
        ax_u.set_xticks([])
        ax_u.set_yticks([])
        self.canvas.draw_idle()

    def _done(self, result):
        self.result = result
        self.state = result.state
        datasets = result.datasets()
        layers = [
            image_layer_data(datasets["denoised"], name=datasets["denoised"].name, colormap="gray"),
            image_layer_data(datasets["order_parameter"], name=datasets["order_parameter"].name,
                             colormap="viridis", contrast_limits=(0.0, 1.0)),
            labels_layer_data(datasets["interface"], name=datasets["interface"].name, opacity=0.6),
        ]
        add_results(self.viewer, layers, TITLE)
        self._show_result(result)

    def _show_result(self, result):
        poor = result.poor_fit
        self.quality_label.setText(result.quality["message"])
        self.quality_label.setStyleSheet("color: #e0a000;" if poor else "color: #40c040;")
        rows = result.parameter_table()
        self.table.setRowCount(len(rows))
        uncertain = set(result.quality.get("uncertain_parameters", []))
        for i, (name, value, err, unit, note) in enumerate(rows):
            label = name + (" (uncertain)" if name in uncertain else "")
            cells = [label, f"{value:.4g}", f"{err:.2g}" if np.isfinite(err) else "-", unit]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(note)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        ax_f, ax_v = self._axes[1]
        t_unit = result.parameters["time_unit"]
        l_unit = result.parameters["length_unit"]
        ax_f.clear()
        ax_f.plot(result.times, result.phase_fraction, "o-", ms=2)
        ax_f.set_title("phase-1 fraction", fontsize=9)
        ax_f.set_xlabel(f"t ({t_unit})", fontsize=8)
        ax_f.set_ylim(-0.02, 1.02)
        ax_v.clear()
        mid = 0.5 * (result.times[1:] + result.times[:-1])
        ax_v.plot(mid, result.interface_velocity, "o-", ms=2)
        ax_v.axhline(0, color="0.5", lw=0.5)
        ax_v.set_title(f"interface velocity ({l_unit}/{t_unit})", fontsize=9)
        ax_v.set_xlabel(f"t ({t_unit})", fontsize=8)
        for ax in (ax_f, ax_v):
            ax.tick_params(labelsize=7)
        self.canvas.draw_idle()
