"""SIGTERM chaining keeps gunicorn's SA_RESTART (``siginterrupt(SIGTERM, False)``).

``signal.signal`` installs a handler without SA_RESTART, so a blocking system call that the
signal interrupts would fail with EINTR instead of resuming. Read in a fresh interpreter (the
test process's own handlers stay untouched), with sigaction(2) through ctypes.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, signal
from showcase.runtime import lifecycle

SA_RESTART = 0x10000000
libc = ctypes.CDLL(None, use_errno=True)

def restarts():
    old = ctypes.create_string_buffer(256)  # struct sigaction: handler, 128-byte mask, flags
    assert libc.sigaction(signal.SIGTERM, None, old) == 0
    return bool(int.from_bytes(old.raw[136:140], "little") & SA_RESTART)

signal.signal(signal.SIGTERM, lambda *args: None)
signal.siginterrupt(signal.SIGTERM, False)  # what gunicorn's worker does
assert restarts()
lifecycle.chain_sigterm()
print(restarts())
"""


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="reads struct sigaction with glibc's x86_64 layout",
)
def test_chained_sigterm_handler_keeps_sa_restart() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "True"
