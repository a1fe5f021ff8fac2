"""A combo box of the viewer's layers that a widget can work on, kept up to date.

Every widget needs one: it lists the layers ``accepts(layer)`` allows, follows layers
being added, removed or renamed, and keeps the user's choice when the list changes.
"""

from __future__ import annotations

from typing import Callable

from qtpy.QtWidgets import QComboBox


def image_layer(min_ndim: int = 2, max_ndim: int = 99) -> Callable:
    """``accepts`` for grey-level image layers with ``min_ndim`` to ``max_ndim`` dimensions."""

    def accepts(layer) -> bool:
        return (getattr(layer, "_type_string", "") == "image" and not layer.rgb
                and min_ndim <= layer.data.ndim <= max_ndim)

    return accepts


class LayerPicker(QComboBox):
    """Combo box of the layers of ``viewer`` that ``accepts``; ``layer()`` is the chosen one."""

    def __init__(self, viewer, accepts: Callable, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.accepts = accepts
        for emitter in self._emitters():
            emitter.connect(self.refresh)
        self.refresh()

    def _emitters(self):
        events = self.viewer.layers.events
        return (events.inserted, events.removed, events.moved)

    def layer(self):
        """The chosen layer, or None when no layer fits."""
        name = self.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def refresh(self, *_):
        """Re-list the fitting layers, keeping the current choice when it still exists."""
        current = self.currentText()
        names = [layer.name for layer in self.viewer.layers if self.accepts(layer)]
        if names == [self.itemText(i) for i in range(self.count())]:
            return
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        if current in names:
            self.setCurrentText(current)
        elif names:
            self.setCurrentIndex(len(names) - 1)
        self.blockSignals(False)
        self.currentIndexChanged.emit(self.currentIndex())

    def disconnect_viewer(self):
        """Stop following the viewer (call when the widget closes)."""
        for emitter in self._emitters():
            emitter.disconnect(self.refresh)
