"""A person at the viewer: widgets opened from the manifest, buttons clicked, every escaped error caught.

``gui`` gives a viewer and helpers that do what a user does -- open a sample or a file,
dock a widget through ``viewer.window.add_plugin_dock_widget`` (so the widget receives
napari's public proxy of the viewer, as in the application), click buttons with
``qtbot.mouseClick`` and wait for every worker -- while it records napari's notifications
and every exception that escapes a Qt slot, a napari callback or a thread. A test fails at
teardown if any escaped, whether or not it looked at them.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

PLUGIN = "napari-stemlab"
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class Gui:
    """The viewer plus a user's actions on it; ``notes`` and ``escaped`` record what came back."""

    def __init__(self, viewer, qtbot):
        self.viewer = viewer
        self.qtbot = qtbot
        self.notes: list[tuple[str, str]] = []  # (severity, message) of each notification
        self.escaped: list[BaseException] = []  # exceptions nobody caught

    # -- opening things ------------------------------------------------------------------
    def open_sample(self, key: str):
        """File > Open Sample > STEM lab > ``key``; returns the new layer."""
        layers = self.viewer.open_sample(PLUGIN, key)
        return layers[-1]

    def open_file(self, relative: str):
        """File > Open of a real instrument file under ../shared/data (skips when absent)."""
        path = SHARED_DATA / relative
        if not path.exists():
            pytest.skip(f"real test file not found: {path.resolve()}")
        return self.viewer.open(str(path), plugin=PLUGIN)[-1]

    def open_widget(self, display_name: str):
        """Plugins > STEM lab > ``display_name``: the docked widget, built as napari builds it."""
        _, widget = self.viewer.window.add_plugin_dock_widget(PLUGIN, display_name)
        return widget

    # -- acting --------------------------------------------------------------------------
    def click(self, button, *, wait: bool = True, timeout_ms: int = 240000):
        """A left click on ``button`` (it must be enabled), then wait for every worker to end."""
        from qtpy.QtCore import Qt

        assert button.isEnabled(), f"button {button.text()!r} is disabled"
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        if wait:
            self.wait(timeout_ms)

    def panels(self):
        from stemlab.plugin.tasks import TaskPanel

        return self.viewer.window._qt_window.findChildren(TaskPanel)

    def busy(self) -> bool:
        return any(p.busy or p._running for p in self.panels())

    def wait(self, timeout_ms: int = 240000):
        """Process events until no worker of any docked widget is running."""
        self.qtbot.waitUntil(lambda: not self.busy(), timeout=timeout_ms)
        self.qtbot.wait(50)  # slots queued by the workers' last signals

    # -- what came back ------------------------------------------------------------------
    def messages(self, severity: str | None = None) -> list[str]:
        return [m for s, m in self.notes if severity is None or s == severity]

    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.viewer.layers]


@pytest.fixture
def gui(make_napari_viewer, qtbot, monkeypatch):
    """A napari viewer driven like a user would, failing the test on any exception that escapes."""
    from napari.utils.notifications import ErrorNotification, notification_manager

    viewer = make_napari_viewer()
    person = Gui(viewer, qtbot)

    def noted(notification):
        if isinstance(notification, ErrorNotification):  # an exception napari caught for us
            person.escaped.append(notification.exception)
        person.notes.append((str(notification.severity), str(notification.message)))

    def excepthook(exc_type, value, tb):
        person.escaped.append(value)

    def thread_hook(args):
        person.escaped.append(args.exc_value)

    notification_manager.notification_ready.connect(noted)
    # pytest-qt also fails a test on exceptions raised in Qt slots during the call; these hooks
    # catch the rest (threads, napari's own hook) and report them all with their messages.
    monkeypatch.setattr(sys, "excepthook", excepthook)
    monkeypatch.setattr(threading, "excepthook", thread_hook)
    monkeypatch.setattr(notification_manager, "catch_error", True)
    yield person
    if person.busy():
        for panel in person.panels():
            panel.cancel()
        person.wait(60000)
    notification_manager.notification_ready.disconnect(noted)
    from stemlab.plugin.explorer import ExplorerWidget

    for explorer in viewer.window._qt_window.findChildren(ExplorerWidget):
        explorer.close()  # release its embedded canvas: napari counts a live QtViewer as a leak
    if person.escaped:
        raise AssertionError("exceptions escaped: " + "; ".join(f"{type(e).__name__}: {e}" for e in person.escaped))
