"""The one cache folder of stemlab (sample datasets, orientation template libraries).

``$STEMLAB_CACHE`` if set, else the platform's user cache folder from ``platformdirs``
(``~/.cache/stemlab`` on Linux, ``~/Library/Caches/stemlab`` on macOS,
``%LOCALAPPDATA%\\stemlab\\Cache`` on Windows). Everything in it can be deleted at any time:
it is regenerated on the next use.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "STEMLAB_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache folder, or a sub-folder of it (not created here).

    Parameters
    ----------
    *parts : str
        Sub-folder names, e.g. ``cache_dir("samples")``.

    Returns
    -------
    pathlib.Path
        ``$STEMLAB_CACHE/parts...`` or the platform user cache ``.../stemlab/parts...``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        base = Path(env).expanduser()
    else:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("stemlab", appauthor=False))
    return base.joinpath(*parts)
