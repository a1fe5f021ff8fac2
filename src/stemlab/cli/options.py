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
    names = ("scan_step", "calibration", "camera_length", "detector_pixel", "voltage", "scan_rotation", "scan_flip")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


class ProgressPrinter:
    """Progress to stderr for the terminal (core functions never print)."""

    def __call__(self, done, total, message=""):
        sys.stderr.write(f"\r{message} {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
