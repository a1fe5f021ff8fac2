"""Bayesian-CNN crystal-structure classification of HAADF images, window by window.

``classify(dataset, window=12.0, passes=30)`` (see :mod:`stemlab.classifier.inference`) returns
class, probability, uncertainty (mutual information, bits), unknown mask, local in-plane
rotation and lattice constant on the window grid. Weights ship in ``weights/``;
:func:`stemlab.classifier.training.train` reproduces them. torch is imported lazily.
"""

from __future__ import annotations


def classify(*args, **kwargs):
    """See :func:`stemlab.classifier.inference.classify`."""
    from .inference import classify as _classify

    return _classify(*args, **kwargs)


__all__ = ["classify"]
