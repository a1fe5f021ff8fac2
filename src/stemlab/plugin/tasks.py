"""Run one core function in a napari worker: progress bar, Cancel, errors as notifications.

Every widget uses :class:`TaskPanel`: core functions take ``progress(done, total, message)``
and a ``CancelToken``; results reach the GUI thread through ``on_done`` only when the run
finished, so a cancelled or failed run never leaves a half-made layer. While a run goes,
the buttons that start runs are disabled (one run at a time); if one of the run's input
layers leaves the viewer, the run is cancelled and says so. :func:`guarded` makes any slot
safe: Qt's extra arguments are dropped and every exception becomes a notification.
"""

from __future__ import annotations

import functools
from typing import Callable

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from ..backend.progress import CancelToken
from ..errors import Cancelled, StemlabError

BUG_FIX = "this is a bug in stemlab: please report it with the steps that led here"


def explain(what: str, error: BaseException) -> str:
    """The notification text for ``error`` raised while doing ``what``: cause, then the fix."""
    if isinstance(error, StemlabError):
        return f"{what}: {error}"
    if isinstance(error, MemoryError):
        return (f"{what}: out of memory. Crop the data, raise the stride or downsample, or close other "
                f"layers, then run again.")
    return f"{what} failed ({type(error).__name__}: {error}); {BUG_FIX}."


def notify_error(what: str, error: BaseException) -> None:
    from napari.utils.notifications import show_error

    show_error(explain(what, error))


def guarded(what: str, method: Callable) -> Callable:
    """A slot calling ``method()`` whatever arguments Qt passes (``clicked(bool)``...), turning any
    exception into an error notification that names the cause and the fix."""

    @functools.wraps(method)
    def slot(*_):
        try:
            return method()
        except Exception as error:  # a slot must never let an exception reach Qt
            notify_error(what, error)
            return None

    return slot


def connect(button: QPushButton, what: str, method: Callable) -> QPushButton:
    """Connect ``button``'s click to ``method()`` through :func:`guarded`."""
    button.clicked.connect(guarded(what, method))
    return button


class _ProgressRelay(QObject):
    """Carries progress from the worker thread to the GUI thread (queued signal)."""

    changed = Signal(int, int, str)


class TaskPanel(QWidget):
    """A progress bar with a Cancel button that runs one task at a time in a thread worker.

    Parameters
    ----------
    viewer : napari.Viewer, optional
        Watched for removed layers: a run whose input layer goes is cancelled.
    locks : list of QPushButton, optional
        Buttons disabled while a run goes (the widget's Run / Preview buttons).
    """

    def __init__(self, viewer=None, locks=(), parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.locks = list(locks)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("ready")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        connect(self.cancel_button, "Cancel", self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self._relay = _ProgressRelay()
        self._relay.changed.connect(self._show_progress)
        self._token: CancelToken | None = None
        self._inputs: list = []
        self._lost: str | None = None  # name of an input layer removed during the run
        self._description = ""
        self.worker = None
        self._running = set()  # workers whose thread has not finished yet (they may outlive `busy`)
        if viewer is not None:
            viewer.layers.events.removed.connect(self._layer_removed)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run(self, func: Callable, on_done: Callable, description: str, *, inputs=(), **kwargs):
        """Start ``func(**kwargs, progress=..., cancel=...)``; call ``on_done(result)`` on success.

        ``inputs`` are the layers the run reads: removing one cancels the run.
        """
        from napari.qt.threading import create_worker

        if self.busy:
            self.cancel()
        token = CancelToken()
        self._token = token
        self._inputs = list(inputs)
        self._lost = None
        self._description = description
        relay = self._relay

        def report(done, total, message=""):
            relay.changed.emit(int(done), int(total), str(message))

        # _ignore_errors: the error reaches _fail as a clear notification, not a traceback; no napari
        # activity bar (it would count iterations of a plain function: '0it'), the panel's bar shows progress
        worker = create_worker(func, **kwargs, progress=report, cancel=token, _ignore_errors=True)
        worker.returned.connect(lambda result: self._finish(worker, on_done, result))
        worker.errored.connect(lambda error: self._fail(worker, error))
        self.worker = worker
        self._running.add(worker)
        worker.finished.connect(lambda: self._running.discard(worker))
        self.cancel_button.setEnabled(True)
        for button in self.locks:
            button.setEnabled(False)
        self.bar.setFormat(f"{description}: %p%")
        self.bar.setRange(0, 0)
        worker.start()
        return worker

    def cancel(self):
        """Ask the running task to stop; it raises Cancelled at its next check (< 1 s)."""
        if self._token is not None:
            self._token.cancel()

    def wait(self, timeout_ms: int = 60000):
        """Block (processing Qt events) until the current task has ended and its worker's thread has
        finished (so slots on ``finished`` have run too); for tests and scripts."""
        from qtpy.QtCore import QCoreApplication, QElapsedTimer

        timer = QElapsedTimer()
        timer.start()
        while (self.busy or self._running) and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()
        QCoreApplication.processEvents()  # the widgets' own slots on the worker's last signal
        return not self.busy

    def _layer_removed(self, event):
        layer = getattr(event, "value", None)
        if self.busy and any(layer is item for item in self._inputs):
            self._lost = layer.name
            self.cancel()

    def _show_progress(self, done, total, message):
        if total > 0:
            self.bar.setRange(0, total)
            # a run shows 100 % only once its results are in (see _finish)
            self.bar.setValue(min(done, total - 1) if total > 1 else 0)
        if message:
            self.bar.setFormat(f"{message}: %p%")

    def _finish(self, worker, on_done, result):
        from napari.utils.notifications import show_warning

        if worker is not self.worker:
            return
        lost = self._lost or next((lyr.name for lyr in self._inputs
                                   if self.viewer is not None and lyr not in self.viewer.layers), None)
        if lost is not None:
            self._end("cancelled")
            show_warning(f"{self._description}: the input layer '{lost}' was removed during the run, so its "
                         f"results were discarded. Open the data again and press Run.")
            return
        try:
            on_done(result)
        except Exception as error:  # showing the results failed: say so, never show 100 %
            self._end("failed")
            notify_error(f"{self._description}: showing the results", error)
            return
        self._end("done")

    def _fail(self, worker, error):
        from napari.utils.notifications import show_info, show_warning

        if worker is not self.worker:
            return
        if isinstance(error, Cancelled):
            self._end("cancelled")
            if self._lost is not None:
                show_warning(f"{self._description}: the input layer '{self._lost}' was removed, so the run was "
                             f"cancelled; nothing was added. Open the data again and press Run.")
            else:
                show_info(f"{self._description}: cancelled, nothing was changed.")
        else:
            self._end("failed")
            notify_error(self._description, error)

    def _end(self, state: str):
        """Back to idle; the bar reads 100 % only for a run whose results were shown."""
        self.worker = None
        self._token = None
        self._inputs = []
        self.cancel_button.setEnabled(False)
        for button in self.locks:
            button.setEnabled(True)
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if state == "done" else 0)
        self.bar.setFormat(f"{self._description}: {state}" if self._description else state)

    def close_panel(self):
        """Stop following the viewer (call when the widget closes)."""
        if self.viewer is not None:
            self.viewer.layers.events.removed.disconnect(self._layer_removed)
