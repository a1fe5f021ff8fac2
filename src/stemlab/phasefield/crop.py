"""The crop box of a phase-field fit, as users type it (CLI ``--crop``, the widget's Crop box)."""

from __future__ import annotations


def parse_crop(text):
    """'y0,y1,x0,x1' (pixels) -> a 4-tuple, '' -> None; shared by the CLI and the widget."""
    from ..errors import ParameterError

    if not text:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ParameterError(f"Crop {text!r}: write Y0,Y1,X0,X1 in pixels, e.g. 0,128,0,128.")
    return values
