"""``python -m stemlab.cli``: the ``stemlab`` command."""

import sys

from .main import main

sys.exit(main())
