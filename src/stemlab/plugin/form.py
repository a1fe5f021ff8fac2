"""Parameter forms from one declaration, with magicgui (napari's convention).

Each widget declares its parameters once, as a function whose signature gives the types,
defaults, ranges, units (in the labels) and choices (``typing.Annotated`` options) and whose
body turns the values into the core function's keyword arguments. :func:`parameter_form`
builds the form from it (a magicgui ``FunctionGui`` without a call button), with layer
pickers that follow the viewer and choose a sensible default: the newest layer the user
opened, never a result layer stemlab made (results are listed after the inputs).
:class:`AnalysisWidget` puts the form, a Run button and a :class:`~.tasks.TaskPanel`
together and makes the widget scriptable: ``widget(image=layer, window=12)`` sets the
values and presses Run.
"""

from __future__ import annotations

from typing import Callable

from qtpy.QtWidgets import QPushButton, QVBoxLayout, QWidget

from .layers import is_result
from .tasks import TaskPanel, connect, notify_error

DEVICES = ("auto", "cpu", "cuda")
DEVICE_TOOLTIP = "Where the computation runs: 'auto' uses a CUDA GPU when there is one"


def viewer_of(napari_viewer):
    """The viewer behind napari's public proxy (widgets docked from the manifest receive a proxy
    whose identity differs from the viewer's; stemlab keys its explorers and layers by the real
    objects)."""
    return getattr(napari_viewer, "__wrapped__", napari_viewer)


def show_scale_bar(viewer):
    """Turn the viewer's scale bar on (it reads the layers' physical units)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    (overlays.scale_bar if overlays is not None else viewer.scale_bar).visible = True


def image_layer(min_ndim: int = 2, max_ndim: int = 99) -> Callable:
    """``accepts`` for grey-level image layers with ``min_ndim`` to ``max_ndim`` dimensions."""
    from napari.layers import Image

    def accepts(layer) -> bool:
        return isinstance(layer, Image) and not layer.rgb and min_ndim <= layer.data.ndim <= max_ndim

    return accepts


def layer_choices(viewer, accepts: Callable) -> Callable:
    """magicgui ``choices`` callback: the fitting layers, inputs newest first, then results."""

    def choices(_widget=None):
        fitting = [layer for layer in reversed(list(viewer.layers)) if accepts(layer)]
        ordered = [lyr for lyr in fitting if not is_result(lyr)] + [lyr for lyr in fitting if is_result(lyr)]
        return [(layer.name, layer) for layer in ordered]

    return choices


def parameter_form(declaration: Callable, viewer, layers: dict[str, Callable], specials: dict[str, str] = None):
    """The magicgui form of ``declaration``; ``layers`` maps each layer parameter to its ``accepts``;
    ``specials`` maps a number parameter to the text shown at its minimum (e.g. 'auto')."""
    from magicgui.widgets import FunctionGui

    options = {name: {"widget_type": "ComboBox", "choices": layer_choices(viewer, accepts)}
               for name, accepts in layers.items()}
    form = FunctionGui(declaration, call_button=False, param_options=options)
    for name, text in (specials or {}).items():
        form[name].native.setSpecialValueText(text)
    return form


def follow_layers(form, viewer) -> Callable:
    """Refresh the form's layer pickers when layers are added, removed or moved; returns the
    function that stops it (call it when the widget closes)."""
    events = viewer.layers.events
    emitters = (events.inserted, events.removed, events.moved)

    def refresh(*_):
        form.reset_choices()

    for emitter in emitters:
        emitter.connect(refresh)

    def stop():
        for emitter in emitters:
            emitter.disconnect(refresh)

    return stop


class AnalysisWidget(QWidget):
    """Form + Run + progress for one core analysis; subclasses give ``title``, ``declaration``,
    ``layers`` (layer parameters -> accepts) and :meth:`start` (kwargs -> a started worker)."""

    title = "analysis"
    specials: dict[str, str] = {}

    def __init__(self, napari_viewer, declaration: Callable, layers: dict[str, Callable]):
        super().__init__()
        self.viewer = viewer_of(napari_viewer)
        show_scale_bar(self.viewer)  # results read in physical units at a glance
        self.result = None
        self.form = parameter_form(declaration, self.viewer, layers, self.specials)
        self._unfollow = follow_layers(self.form, self.viewer)
        self.run_button = connect(QPushButton("Run"), self.title, self.run)
        self.tasks = TaskPanel(self.viewer, locks=[self.run_button])
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.form.native)

    def finish_layout(self, *extra: QWidget, buttons: QWidget | None = None, stretch: QWidget | None = None):
        """Run button (or a row of ``buttons``), progress bar, then ``extra`` widgets."""
        self.layout_.addWidget(buttons if buttons is not None else self.run_button)
        self.layout_.addWidget(self.tasks)
        for widget in extra:
            self.layout_.addWidget(widget, 1 if widget is stretch else 0)
        if stretch is None:
            self.layout_.addStretch(1)

    def __call__(self, **values):
        """Set the named parameters (as in the form) and press Run; returns the worker (or None)."""
        self.set(**values)
        return self.run()

    def set(self, **values):
        """Set the named parameters of the form."""
        for name, value in values.items():
            self.form[name].value = value

    def parameters(self) -> dict:
        """The core function's keyword arguments from the form (the declaration's return value)."""
        return self.form()

    def run(self):
        """Start the analysis on the chosen layer; errors before the start become notifications."""
        if self.tasks.busy:
            return None
        try:
            return self.start(self.parameters())
        except Exception as error:  # the user's mistake (or ours) as a notification, never a traceback
            notify_error(self.title, error)
            return None

    def start(self, kwargs: dict):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def closeEvent(self, event):
        self._unfollow()
        self.tasks.close_panel()
        super().closeEvent(event)
