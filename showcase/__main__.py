"""``python -m showcase`` is the ``showcase`` command."""

from __future__ import annotations

import sys

from showcase.tools.cli import main

sys.exit(main())
