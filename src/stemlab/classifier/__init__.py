"""Bayesian-CNN crystal-structure classification of HAADF images, window by window.

``classify(dataset, window=12.0, passes=30)`` (:func:`stemlab.classifier.inference.classify`)
returns class, probability, uncertainty (mutual information, bits), unknown mask, local in-plane
rotation and lattice constant on the window grid. Weights ship in ``weights/``;
:func:`stemlab.classifier.training.train` reproduces them. torch is imported lazily: ``classify``
is the inference function itself, imported on first use.
"""

from __future__ import annotations

__all__ = ["classify"]


def __getattr__(name: str):
    if name == "classify":
        from .inference import classify

        return classify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
