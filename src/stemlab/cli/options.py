"""Options and helpers shared by every ``stemlab`` command: calibration options, progress printer."""

from __future__ import annotations

import argparse
import sys


def add_calibration_options(parser: argparse.ArgumentParser):
    """Options every command accepts for inputs that lack calibration."""
    group = parser.add_argument_group("calibration (overrides the file's)")
    group.add_argument("--scan-step", metavar="Q", help="probe step or image pixel size, e.g. 2nm")
    group.add_argument("--calibration", metavar="Q",
                       help="reciprocal size of one detector pixel, e.g. 0.0127/angstrom")
    group.add_argument("--camera-length", metavar="Q", help="camera length, e.g. 0.2m (with --detector-pixel)")
    group.add_argument("--detector-pixel", metavar="Q", help="physical detector pixel size, e.g. 55um")
    group.add_argument("--voltage", metavar="KV", help="accelerating voltage, e.g. 200 or 200kV (also converts "
                                                       "a detector calibrated in mrad to 1/angstrom)")
    group.add_argument("--scan-rotation", metavar="DEG", type=_degrees,
                       help="scan rotation: the angle from the detector frame to the scan frame, in degrees "
                            "(default: the file's, else 0)")
    group.add_argument("--scan-flip", action="store_const", const=True, default=None,
                       help="the detector image is mirrored relative to the scan")


def _degrees(text: str) -> float:
    """--scan-rotation: an angle in degrees (or with a unit: '0.2rad')."""
    from ..calibration import parse_scan_rotation
    from ..errors import CalibrationError

    try:
        return parse_scan_rotation(text, "--scan-rotation")
    except CalibrationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def calibration_kwargs(args) -> dict:
    """The calibration options given on the command line, as keyword arguments of ``load``."""
    warn_bare_numbers(args)
    names = ("scan_step", "calibration", "camera_length", "detector_pixel", "voltage", "scan_rotation", "scan_flip")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


class ProgressPrinter:
    """Progress to stderr for the terminal (core functions never print)."""

    def __call__(self, done, total, message=""):
        sys.stderr.write(f"\r{message} {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# -- checks in the words of the command line (before any work is done) ----------------------
UNIT_EXAMPLES = {"scan_step": "2nm", "calibration": "0.0127/angstrom", "camera_length": "0.2m",
                 "detector_pixel": "55um"}
ASSUMED_UNITS = {"scan_step": "nm", "calibration": "1/angstrom", "camera_length": "m", "detector_pixel": "um"}
# (the units stemlab.calibration takes a bare number in)


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def warn_bare_numbers(args) -> None:
    """A calibration option without a unit is taken in its fixed unit, with a warning naming it."""
    for name, unit in ASSUMED_UNITS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        try:
            float(str(value).strip())
        except ValueError:
            continue
        sys.stderr.write(f"stemlab: warning: {option_name(name)} {value} has no unit: taken as {value} {unit} "
                         f"(write the unit, e.g. {option_name(name)} {UNIT_EXAMPLES[name]}, to silence this).\n")


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def describe(ds) -> str:
    """What a file holds, in words: 'one diffraction pattern', 'an image', 'a 4D-STEM scan', ..."""
    words = {"4dstem": "a 4D-STEM scan", "diffraction": "one diffraction pattern", "image": "an image",
             "video": "a video", "stack": "a stack of images"}
    return f"{words.get(ds.kind, article(ds.kind))} of shape {tuple(ds.shape)}"


def need_scan(ds, path, command: str) -> None:
    """Refuse a file that is not a scan of 2D patterns (one pattern, an image, ...)."""
    from ..errors import ParameterError

    if ds.nav_axes and len(ds.sig_axes) == 2:
        return
    if ds.kind == "diffraction" or (not ds.nav_axes and ds.ndim == 2):
        held = "one diffraction pattern" if ds.kind == "diffraction" else describe(ds)
        raise ParameterError(f"{path}: this file holds {held}, not a scan; `stemlab {command}` needs a scan "
                             "(4D-STEM: scan positions x detector pixels).")
    raise ParameterError(f"{path}: this file holds {describe(ds)}, not a scan of diffraction patterns; "
                         f"`stemlab {command}` needs a 4D-STEM scan.")


def check_output(path, suffixes, *, folder: bool = False) -> None:
    """Refuse an output name no writer of the command knows, before any work (``-o x.xyz``)."""
    from pathlib import Path

    from ..errors import FileFormatError

    suffix = Path(path).suffix.lower()
    if suffix in suffixes or (folder and suffix == ""):
        return
    choices = ", ".join(suffixes) + (" or a folder name without an extension (one .tif per image)" if folder else "")
    raise FileFormatError(f"-o {path}: no writer for '{suffix or 'no extension'}'; use {choices}.")
