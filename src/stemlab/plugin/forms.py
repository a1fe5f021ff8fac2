"""Form controls the dock widgets share: number boxes and the compute-device choice."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox


def spin_box(low, high, value, *, decimals: int | None = None, step: float | None = None, suffix: str = "",
             special: str = "", tooltip: str = ""):
    """A QSpinBox (``decimals`` None) or QDoubleSpinBox over [low, high] showing ``value``; ``special``
    is the text shown at ``low`` (e.g. 'auto')."""
    box = QSpinBox() if decimals is None else QDoubleSpinBox()
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    if step is not None:
        box.setSingleStep(step)
    box.setSuffix(suffix)
    box.setSpecialValueText(special)
    box.setToolTip(tooltip)
    box.setValue(value)
    return box


def device_combo() -> QComboBox:
    """'auto' (CUDA when available), 'cpu' or 'cuda'."""
    combo = QComboBox()
    combo.addItems(["auto", "cpu", "cuda"])
    combo.setToolTip("Where the computation runs: 'auto' uses a CUDA GPU when there is one")
    return combo
