"""Ending a child process we started: by its PID, politely first."""

from __future__ import annotations

import subprocess

KILL_WAIT_S = 5.0


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """SIGTERM ``process`` (if it still runs), wait up to ``timeout_s``; SIGKILL if it stays.
    Returns its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(KILL_WAIT_S)
    return process.returncode
