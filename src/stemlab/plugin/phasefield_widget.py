"""Phase-field fit widget: fit Allen-Cahn / Cahn-Hilliard kinetics to a video layer.

Runs :func:`stemlab.phasefield.fit_phasefield` in a worker with a live loss curve and the
current order parameter; Pause keeps the fit's state and Resume continues it; the result
adds the denoised video, the order parameter and the interfaces (Labels) with the input's
calibration, a table of the fitted parameters with units and plots of the phase fraction
and interface velocity over time.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import Cancelled, ParameterError
from .forms import spin_box
from .layers import META_KEY, image_layer_data, labels_layer_data, layer_to_dataset
from .layer_picker import LayerPicker
from .tasks import TaskPanel

MODELS = {"Allen-Cahn (non-conserved)": "allen-cahn", "Cahn-Hilliard (conserved)": "cahn-hilliard"}


def is_video_layer(layer) -> bool:
    """A napari image layer with three dimensions (time, y, x)."""
    if getattr(layer, "_type_string", "") != "image" or getattr(layer, "rgb", False):
        return False
    info = layer.metadata.get(META_KEY, {}) if isinstance(layer.metadata, dict) else {}
    return layer.data.ndim == 3 and info.get("kind", "video") in ("video", "stack", "image")


class _LiveRelay(QObject):
    """Carries live fit updates from the worker thread to the GUI thread."""

    update = Signal(object)


class PhaseFieldWidget(QWidget):
    """Dock widget: physics-informed phase-field fit of a video layer."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.result = None
        self.state = None  # resumable fit state (after Pause or a finished run)
        self._state_settings = None
        self._last_info = None

        self.layer_combo = LayerPicker(self.viewer, is_video_layer)
        self.model_combo = QComboBox()
        self.model_combo.addItems(list(MODELS))
        self.frame_start = spin_box(0, 100000, 0)
        self.frame_stop = spin_box(0, 100000, 0)
        self.crop_edit = QLineEdit()
        self.crop_edit.setPlaceholderText("y0,y1,x0,x1 px (empty: whole frame)")
        self.downsample = spin_box(1, 16, 2, tooltip="Spatial coarse-graining of the order parameter")
        self.steps = spin_box(1, 1000000, 1500,
                              tooltip="Training budget: optimiser steps (Resume continues up to this number)")
        self.align = QCheckBox("Drift correction before the fit")
        self.align.setChecked(True)

        form = QFormLayout()
        form.addRow("Video layer", self.layer_combo)
        form.addRow("Model", self.model_combo)
        frames = QHBoxLayout()
        frames.addWidget(self.frame_start)
        frames.addWidget(QLabel("to"))
        frames.addWidget(self.frame_stop)
        form.addRow("Frames", frames)
        form.addRow("Crop", self.crop_edit)
        form.addRow("Downsample", self.downsample)
        form.addRow("Steps", self.steps)
        form.addRow(self.align)

        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setEnabled(False)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self.resume)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.pause_button, self.resume_button):
            buttons.addWidget(b)
        self.tasks = TaskPanel()
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

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.tasks)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.quality_label)
        layout.addWidget(self.table)

        self._relay = _LiveRelay()
        self._relay.update.connect(self._show_live)
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self._layer_changed()

    # -- layer choice -----------------------------------------------------------------------
    def _layer_changed(self, *_):
        layer = self.source_layer()
        if layer is not None:
            n = layer.data.shape[0]
            self.frame_start.setMaximum(n - 1)
            self.frame_stop.setMaximum(n)
            self.frame_stop.setValue(n)

    def source_layer(self):
        name = self.layer_combo.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    # -- settings -------------------------------------------------------------------------
    def settings(self) -> dict:
        from ..phasefield.crop import parse_crop

        crop = parse_crop(self.crop_edit.text().strip())
        return {"model": MODELS[self.model_combo.currentText()], "downsample": self.downsample.value(),
                "frames": (self.frame_start.value(), self.frame_stop.value()), "crop": crop,
                "align": self.align.isChecked()}

    # -- actions ----------------------------------------------------------------------------
    def run(self, state=None):
        """Start a fresh fit (or continue ``state``)."""
        from napari.utils.notifications import show_error

        layer = self.source_layer()
        if layer is None:
            show_error("Phase-field fit: open a video (time, y, x) as an image layer first.")
            return None
        try:
            settings = self.settings()
        except ParameterError as error:
            show_error(str(error))
            return None
        if state is None:
            self.state = None
            self._last_info = None
        dataset = layer_to_dataset(layer)
        self._state_settings = settings
        self._pausing = False
        relay = self._relay

        def live(info):
            relay.update.emit({**info, "history": {k: list(v) for k, v in info["history"].items()}})

        def work(progress=None, cancel=None, **kwargs):
            from ..phasefield import fit_phasefield

            try:
                return fit_phasefield(dataset, progress=progress, cancel=cancel, callback=live,
                                      callback_every=10, **kwargs)
            except Cancelled as error:
                self.state = getattr(error, "state", None) or self.state
                raise

        self.run_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.pause_button.setEnabled(True)
        worker = self.tasks.run(work, self._done, "Phase-field fit", steps=self.steps.value(), state=state,
                                **settings)
        worker.finished.connect(self._worker_finished)
        return worker

    def pause(self):
        """Stop the running fit, keeping its state for Resume."""
        self._pausing = True
        self.tasks.cancel()

    def resume(self):
        """Continue the paused (or finished) fit up to the Steps budget."""
        from napari.utils.notifications import show_error

        if self.state is None:
            show_error("Nothing to resume: run a fit first.")
            return None
        if self.steps.value() <= self.state.step:
            self.steps.setValue(self.state.step + max(100, self.state.step // 2))
        return self.run(state=self.state)

    def _worker_finished(self):
        self.run_button.setEnabled(True)
        self.pause_button.setEnabled(False)
        self.resume_button.setEnabled(self.state is not None)

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
        datasets = result.to_datasets()
        layers = [
            image_layer_data(datasets["denoised"], name=datasets["denoised"].name, colormap="gray"),
            image_layer_data(datasets["order_parameter"], name=datasets["order_parameter"].name,
                             colormap="viridis", contrast_limits=(0.0, 1.0), visible=False),
            labels_layer_data(datasets["interface"], name=datasets["interface"].name, opacity=0.6),
        ]
        for data, kwargs, kind in layers:
            name = kwargs["name"]
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            getattr(self.viewer, f"add_{kind}")(data, **kwargs)
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
