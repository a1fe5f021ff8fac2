"""Errors a user can cause: each names the file or parameter at fault and the fix."""


class StemlabError(Exception):
    """Base of every error stemlab raises on purpose; the GUI shows it as a notification."""


class FileFormatError(StemlabError):
    """A file is missing, empty, truncated or not in a format stemlab can read."""


class CalibrationError(StemlabError):
    """A calibration is missing, malformed or inconsistent."""


class ParameterError(StemlabError, ValueError):
    """A parameter value or array shape is not acceptable."""


class DeviceError(StemlabError):
    """The requested compute device is not available."""


class Cancelled(StemlabError):
    """The user cancelled a running computation; nothing was written."""
