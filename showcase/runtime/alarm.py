"""``Alarm``: one greenlet's wait of at most ``s`` seconds that another greenlet can end early
(``ring``), on a libev timer reused from wait to wait. What an answer's runner and readers wait
on per token: ``Event.wait(timeout)`` builds a ``Timeout`` and a link each time, and an
``Event`` per wake-up (answers' CPU per token: ``python -m benchmarks.answers``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from greenlet import getcurrent

# A timer is rebuilt only when the wait's length changes by more than this.
TIMER_REUSE_S = 0.001


class Alarm:
    """Waited on by one greenlet at a time; rung from any greenlet of the same hub."""

    __slots__ = ("_hub", "_timer", "_seconds", "_waiting", "_rung", "_turn")

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._timer: Any = None
        self._seconds = -1.0
        self._waiting: Any = None  # the greenlet in ``wait``, until woken
        self._rung = False
        self._turn = 0  # changes as a wait ends: a ring's late switch finds it changed

    def wait(self, seconds: float) -> bool:
        """True when rung (since the last ``wait`` or ``clear``), False when ``seconds`` ran
        out first."""
        if not self._rung:
            timer = self._timer
            if timer is None or abs(seconds - self._seconds) > TIMER_REUSE_S:
                if timer is not None:
                    timer.close()
                timer = self._timer = self._hub.loop.timer(seconds, seconds)
                self._seconds = seconds
            self._waiting = getcurrent()
            timer.again(self._expire)  # from now, the loop's clock updated first
            try:
                self._hub.switch()
            finally:
                # Also when something else was thrown in (a stream cut on SIGTERM).
                self._waiting = None
                self._turn += 1
                timer.stop()
        rung, self._rung = self._rung, False
        return rung

    def ring(self) -> None:
        """End the wait (at the hub's next turn), or the next one at once."""
        self._rung = True
        waiting = self._waiting
        if waiting is not None:
            self._waiting = None  # the timer, firing meanwhile, must not switch it in again
            self._hub.loop.run_callback(self._resume, waiting, self._turn)

    def clear(self) -> None:
        """Forget a ring nobody waited for."""
        self._rung = False

    def _resume(self, waiting: Any, turn: int) -> None:
        if turn == self._turn:  # still in the wait it was rung for
            waiting.switch()

    def _expire(self) -> None:
        waiting = self._waiting
        if waiting is not None:
            self._waiting = None
            waiting.switch()


class EventAlarm:
    """The same on a ``threading.Event``: outside a gevent worker."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, seconds: float) -> bool:
        rung = self._event.wait(seconds)
        self._event.clear()
        return rung

    def ring(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()


def new_alarm() -> Alarm | EventAlarm:
    """An ``Alarm`` in a gevent worker (the socket module patched), else an ``EventAlarm``."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return EventAlarm()
    return Alarm(get_hub()) if monkey.is_module_patched("socket") else EventAlarm()


def stop_pause(
    stop: threading.Event, alarm: Alarm | EventAlarm | None = None
) -> Callable[[float], bool]:
    """A generation's pause: ``pause(s)`` waits up to ``s``, True (at once) when ``stop`` is
    set. On an ``Alarm`` (``new_alarm()`` when None: in a gevent worker) rung by ``stop``;
    else (or a ``stop`` that cannot ``rawlink``: not gevent's) ``stop.wait``."""
    if alarm is None:
        alarm = new_alarm()
    rawlink = getattr(stop, "rawlink", None)  # a gevent Event's (threading patched)
    if not isinstance(alarm, Alarm) or rawlink is None:
        return stop.wait
    rawlink(lambda _event: alarm.ring())

    def pause(seconds: float) -> bool:
        return alarm.wait(seconds) or stop.is_set()

    return pause
