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


def assert_one_error_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed with exit status 1 and one line ``showcase: error: ...`` on stderr
    holding ``words``: no traceback. Returns the line."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("showcase: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]
