"""A docked legend: the names of a Labels layer's classes beside the colours the layer draws them in.

Phase maps, segmentations and class maps are Labels layers; napari shows their colours but not
what they mean. :class:`Legend` lists one swatch + name per label value, read from the layer
itself (``layer.get_color``), so the legend always matches the map. :func:`label_colours`
gives the same colours to matplotlib plots.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QGridLayout, QLabel, QWidget


def label_colours(layer, values) -> list[tuple[float, float, float, float]]:
    """RGBA colours (0-1) that the Labels ``layer`` draws each of ``values`` with."""
    return [tuple(float(c) for c in np.asarray(layer.get_color(int(v)), float).ravel()[:4]) for v in values]


def _hex(rgba) -> str:
    r, g, b = (int(round(255 * min(max(c, 0.0), 1.0))) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


class Legend(QWidget):
    """Swatches and names of the labels of one Labels layer (its title says which layer)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("")
        self.entries: list[tuple[str, str]] = []  # (name, hex colour) shown
        self.hide()

    def show_labels(self, layer, names: dict[int, str], title: str = ""):
        """Show ``names`` (label value -> name) in ``layer``'s colours."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None and item.widget() is not self.title:
                item.widget().deleteLater()
        self.title.setText(f"<b>{title or layer.name}</b>")
        self.grid.addWidget(self.title, 0, 0, 1, 4)
        values = sorted(names)
        colours = label_colours(layer, values)
        self.entries = []
        columns = 2
        for i, (value, colour) in enumerate(zip(values, colours)):
            swatch = QLabel()
            swatch.setFixedSize(14, 14)
            swatch.setStyleSheet(f"background-color: {_hex(colour)}; border: 1px solid #888;")
            text = QLabel(names[value])
            row, col = 1 + i // columns, 2 * (i % columns)
            self.grid.addWidget(swatch, row, col)
            self.grid.addWidget(text, row, col + 1)
            self.entries.append((names[value], _hex(colour)))
        self.show()
