"""File > Open Sample: simulated datasets with their ground truth in the layer metadata."""

from __future__ import annotations

from .layers import image_layer_data


def sample_4dstem() -> list[tuple]:
    """Simulated 4D-STEM scan of a two-phase polycrystal (truth: phase, orientation)."""
    from ..samples import sample_4dstem as make

    return [image_layer_data(make())]


def sample_haadf() -> list[tuple]:
    """Simulated HAADF image: two grains, a grain boundary and a second phase."""
    from ..samples import sample_haadf as make

    return [image_layer_data(make())]


def sample_video() -> list[tuple]:
    """Simulated HAADF video of a phase transformation (truth: clean frames, parameters)."""
    from ..samples import sample_video as make

    return [image_layer_data(make())]
