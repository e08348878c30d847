"""Graceful stop: the worker sets one flag on SIGTERM and every paused stream wakes and ends.

``threading.Event`` is created lazily so that, in a gevent worker, it is gevent's (patched).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

_stopping: threading.Event | None = None


def stop_event() -> threading.Event:
    global _stopping
    if _stopping is None:
        _stopping = threading.Event()
    return _stopping


def wait_unless_stopping(seconds: float) -> bool:
    """Wait up to ``seconds``; False as soon as the server is stopping (the stream should end)."""
    event = stop_event()
    if seconds <= 0:
        # Still a switch point, so a producer that never pauses lets other greenlets run;
        # time.sleep(0) is gevent.sleep(0) in the worker, ten times cheaper than wait(0).
        time.sleep(0)
        return not event.is_set()
    return not event.wait(seconds)


def chain_sigterm() -> None:
    """Make SIGTERM also set the stop flag, after gunicorn's own handler has run."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(signum, frame)
        stop_event().set()

    signal.signal(signal.SIGTERM, on_sigterm)


def install_in_worker() -> None:
    """For gunicorn's ``post_worker_init``: after monkey-patching and gunicorn's own handlers."""
    stop_event()
    chain_sigterm()
