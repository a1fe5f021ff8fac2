"""Run one core function in a napari worker: progress bar, Cancel, errors as notifications.

Every widget uses :class:`TaskPanel`: core functions take ``progress(done, total, message)``
and a ``CancelToken``; results reach the GUI thread through ``on_done`` only when the run
finished, so a cancelled or failed run never leaves a half-made layer.
"""

from __future__ import annotations

from typing import Callable

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..backend.progress import CancelToken
from ..errors import Cancelled, StemlabError


class _ProgressRelay(QObject):
    """Carries progress from the worker thread to the GUI thread (queued signal)."""

    changed = Signal(int, int, str)


class TaskPanel(QWidget):
    """A progress bar with a Cancel button that runs one task at a time in a thread worker."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self._relay = _ProgressRelay()
        self._relay.changed.connect(self._show_progress)
        self._token: CancelToken | None = None
        self.worker = None
        self._running = set()  # workers whose thread has not finished yet (they may outlive `busy`)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run(self, func: Callable, on_done: Callable, description: str, **kwargs):
        """Start ``func(**kwargs, progress=..., cancel=...)``; call ``on_done(result)`` on success."""
        from napari.qt.threading import create_worker

        if self.busy:
            self.cancel()
        token = CancelToken()
        self._token = token
        relay = self._relay

        def report(done, total, message=""):
            relay.changed.emit(int(done), int(total), str(message))

        # _ignore_errors: the error reaches _fail as a clear notification, not a traceback
        worker = create_worker(func, **kwargs, progress=report, cancel=token,
                               _progress={"desc": description}, _ignore_errors=True)
        worker.returned.connect(lambda result: self._finish(worker, on_done, result))
        worker.errored.connect(lambda error: self._fail(worker, error))
        self.worker = worker
        self._running.add(worker)
        worker.finished.connect(lambda: self._running.discard(worker))
        self.cancel_button.setEnabled(True)
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

    def _show_progress(self, done, total, message):
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        if message:
            self.bar.setFormat(f"{message}: %p%")

    def _finish(self, worker, on_done, result):
        if worker is not self.worker:
            return
        self._reset()
        on_done(result)

    def _fail(self, worker, error):
        from napari.utils.notifications import show_error, show_info

        if worker is not self.worker:
            return
        self._reset()
        if isinstance(error, Cancelled):
            show_info("Cancelled: nothing was changed.")
        elif isinstance(error, StemlabError):
            show_error(str(error))
        else:
            show_error(f"{type(error).__name__}: {error}")

    def _reset(self):
        self.worker = None
        self._token = None
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
