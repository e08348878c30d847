"""The ``showcase`` command as a user runs it: a subprocess with no stdin, its output and
exit status captured, bounded in time."""

from __future__ import annotations

import subprocess
import sys

TIMEOUT_S = 30.0


def run_showcase(
    *args: str, read_timeout_of: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m showcase ARGS``. ``read_timeout_of`` names a client module whose
    ``READ_TIMEOUT_S`` is cut to 0.5 s first (the real command, with a timeout a test can
    wait for)."""
    if read_timeout_of is None:
        argv = [sys.executable, "-m", "showcase", *args]
    else:
        code = (
            f"import sys, {read_timeout_of} as c; c.READ_TIMEOUT_S = 0.5; "
            "from showcase.tools.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        argv = [sys.executable, "-c", code, *args]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
    )
