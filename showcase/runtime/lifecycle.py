"""The open streams of this worker process, how they pause, and how they end on SIGTERM.

A stream registers its greenlet while its body is being sent. On SIGTERM every registered
stream is told to stop (``StopRequested``): a paused one wakes, one writing finishes its
write, and each ends cleanly after what it already sent at its next pause or switch, an SSE
stream with a last "server restarting" comment and a ``retry:`` with jitter
(``restart_notice``) so its clients come back spread out and resume with Last-Event-ID.
``STOP_DRAIN_S`` later whatever is still open (a write to a reader that stopped reading, a
download) is cut.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from greenlet import getcurrent

from showcase.pure.bodies import Wait, wait_plain
from showcase.pure.framing.sse import SSE_MEDIA_TYPE, encode_event
from showcase.pure.settings import RESTART_JITTER_MS, RESTART_RETRY_MS, read_setting

# Streams told to stop get this long to end by themselves before they are cut: far more than
# a reader that reads needs to take the last write, well within gunicorn's graceful timeout.
STOP_DRAIN_S = 2.0

RESTARTING = "server restarting"
T = TypeVar("T")


class StreamCut(ConnectionAbortedError):
    """Thrown into a stream's greenlet to end it now (server stopping, or a send deadline).

    An ``OSError``, so that gunicorn treats it like a client that left: the connection is
    closed, with no traceback in the log.
    """


class StopRequested(StreamCut):
    """Thrown into every open stream on SIGTERM: end cleanly at the next pause.

    A paused stream (``Pacer``) wakes and ends with its last words; a write in progress
    (``worker.ClientSocket``) goes on. Anywhere else it is a ``StreamCut``: the stream ends
    there, as every stream did before streams could end by themselves.
    """


class SendTimeout(StreamCut):
    """A write to the client did not complete within the send deadline: a reader that stopped
    reading (or a link too slow for the stream) is cut rather than held for ever."""


class ConnectionOver(StreamCut):
    """Raised by a body that is done with its connection and has nothing to say in HTTP: a
    WebSocket that ended (it took the socket over), a waiting poll whose client left. The
    worker closes the connection quietly."""


class StreamRegistry:
    """The streams this worker is sending (a stream counts from its first byte to its close)."""

    def __init__(self) -> None:
        # stream (its body object) -> the greenlet sending it; in a test client several
        # streams share one greenlet, so the stream is the key.
        self.streams: dict[object, Any] = {}
        self.started = 0
        self.send_timeouts = 0
        self.connections = 0  # client connections the worker holds (streams, downloads, idle)
        self.direct_writes = 0  # hub messages a publish wrote straight to a socket (hub/direct.py)
        self.stopping = False

    @property
    def open(self) -> int:
        return len(self.streams)

    def enter(self, stream: object, greenlet: Any) -> None:
        self.streams[stream] = greenlet
        self.started += 1

    def leave(self, stream: object) -> None:
        self.streams.pop(stream, None)

    def cut_all(self, reason: str, exception: type[StreamCut] = StreamCut) -> None:
        """Throw ``exception`` into every open stream; they get it at their next switch.

        Thrown from the hub a moment later (as gevent's ``kill(block=False)`` does), and only
        if the stream is still open then: a stream that ended in between has handed its
        greenlet back to gunicorn's keep-alive read, where the exception would be logged as
        a socket error with a traceback."""
        hub = _gevent_hub()
        if hub is None:  # a test client's plain greenlets: nothing to throw into
            return
        seen: set[int] = set()
        for stream, greenlet in list(self.streams.items()):
            if id(greenlet) not in seen:
                seen.add(id(greenlet))
                hub.loop.run_callback(self._throw, stream, greenlet, exception(reason))

    def _throw(self, stream: object, greenlet: Any, error: StreamCut) -> None:
        still_open = self.streams.get(stream) is greenlet
        if not still_open or greenlet.dead:
            return
        try:
            greenlet.throw(error)
        except BaseException:  # what escaped the greenlet: the hub reports it, as kill() does
            _gevent_hub().handle_error(greenlet, *sys.exc_info())

    def health(self) -> dict[str, int]:
        return {
            "open_streams": self.open,
            "started_streams": self.started,
            "send_timeouts": self.send_timeouts,
            "open_connections": self.connections,
            "hub_direct_writes": self.direct_writes,
            "pid": os.getpid(),
        }


STREAMS = StreamRegistry()


PACE_SLOT_S = 0.002  # pauses end on these boundaries: the streams due in one wake together


class PauseSlots:
    """One worker's pause timers: one libev timer per PACE_SLOT_S slot in which some stream's
    pause ends, waking every stream due in it, in turn, in one turn of the event loop.

    A timer per stream, restarted after each write (what ``gevent.sleep`` does), let a stream
    that came due during other streams' writes restart late and stay behind them for good:
    a worker's streams clumped into bursts that grew as they ran, far denser than
    independent arrivals would give, and every message of a burst waited for the ones
    before it (the tail latency of ``showcase bench latency`` and of a relay hop in
    ``showcase bench relay``). With ``iter_body``'s schedule each stream keeps its own phase;
    the slots keep what clumping gave for free: many streams woken per loop turn.
    """

    __slots__ = ("_loop", "_waiting")

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._waiting: dict[int, list[Any]] = {}  # slot: [its timer, waiter, waiter, …]

    def add(self, seconds: float, wake: Callable[[], Any]) -> list[Any]:
        """Call ``wake`` at the end of the slot ``seconds`` from now falls in; the waiter,
        whose ``[0] = None`` cancels it."""
        now = time.monotonic()
        slot = math.ceil((now + seconds) / PACE_SLOT_S)
        waiting = self._waiting.get(slot)
        if waiting is None:
            after = slot * PACE_SLOT_S - now
            timer = self._loop.timer(after, after)
            waiting = self._waiting[slot] = [timer]
            # again(), not start(): it reads the clock first; start() counts from the loop's
            # cached time, stale by however long this turn of the loop has run.
            timer.again(self._fire, slot)
        waiter = [wake]
        waiting.append(waiter)
        return waiter

    def _fire(self, slot: int) -> None:
        waiting = self._waiting.pop(slot)
        timer = waiting[0]
        timer.stop()
        timer.close()
        for waiter in waiting[1:]:
            wake = waiter[0]
            if wake is not None:
                wake()  # runs that stream until it waits again, then comes back here


# A pause shorter than this has a timer of its own: a slot would be too large a part of it.
SLOTTED_FROM_S = 10 * PACE_SLOT_S
TIMER_REUSE_S = 0.0001  # such a pause reuses the stream's timer if it is this close to it


class Pacer:
    """How one stream pauses in a gevent worker: in the worker's ``PauseSlots``, or for a pause
    shorter than SLOTTED_FROM_S on a libev timer of its own, reused from pause to pause.

    A reused timer is restarted, not built: ``gevent.sleep`` creates a timer per call, and
    ``Event.wait(timeout)`` a ``Timeout`` and a link as well. A slot's timer serves every
    stream due in it. The slot path is as deep as the timer's own, so the stack a held stream
    keeps at a pause is the same either way (RSS per held stream:
    docs/results/held_streams.json, ``showcase bench held_streams``).
    """

    __slots__ = ("_hub", "_slots", "_timer", "_seconds")

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._slots = pause_slots(hub)
        self._timer: Any = None
        self._seconds = -1.0

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (long ones to the end of their slot); False when the stream must
        end (server stopping)."""
        if STREAMS.stopping:
            return False
        hub = self._hub
        waiter: list[Any] | None = None
        if seconds <= 0:
            # Still a switch point (what gevent.sleep(0) does), so a producer that never
            # pauses lets other greenlets run.
            waker = hub.loop.run_callback(getcurrent().switch)
        elif seconds >= SLOTTED_FROM_S:
            waker = None
            waiter = self._slots.add(seconds, getcurrent().switch)
        else:
            waker = self._timer
            if waker is None or abs(seconds - self._seconds) > TIMER_REUSE_S:
                if waker is not None:
                    waker.close()
                waker = self._timer = hub.loop.timer(seconds, seconds)
                self._seconds = seconds
            # again() restarts the timer for ``repeat`` seconds from now (it updates the
            # loop's clock first); start() on a timer that already fired once returns at
            # once in gevent's libev loop, and would count from a stale clock anyway.
            waker.again(getcurrent().switch)
        try:
            hub.switch()
        except StreamCut:
            return False
        finally:
            # Cut while waiting: the waker must not switch back in later.
            if waiter is not None:
                waiter[0] = None
            else:
                waker.stop()
        return not STREAMS.stopping


# One per hub (a worker has one); weak, so a hub destroyed (tests) takes its slots along.
_SLOTS: weakref.WeakKeyDictionary[Any, PauseSlots] = weakref.WeakKeyDictionary()


def pause_slots(hub: Any) -> PauseSlots:
    slots = _SLOTS.get(hub)
    if slots is None:
        slots = _SLOTS[hub] = PauseSlots(hub.loop)
    return slots


def make_wait() -> Wait:
    """The wait for one new stream: a ``Pacer`` in a gevent worker, else ``wait_plain``."""
    hub = _gevent_hub()
    return Pacer(hub).pause if hub is not None else wait_plain


class _Elapsed(Exception):
    """A ``wait_readable`` that ran its time (gevent's timeout raises it)."""


def wait_readable(sock: Any, seconds: float) -> bool:
    """Pause up to ``seconds`` on a gevent socket: True as soon as it is readable (the
    client sent bytes, or left: a pause of a stream that writes nothing learns it here),
    False when the time ran out or the server is stopping (as ``Pacer.pause`` says)."""
    from gevent.socket import wait

    if STREAMS.stopping:
        return False
    try:
        wait(sock._read_event, seconds, _Elapsed, sock.hub)
    except (_Elapsed, StreamCut):
        return False
    return not STREAMS.stopping


def _gevent_hub() -> Any:
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return None
    return get_hub() if monkey.is_module_patched("socket") else None


@dataclass(slots=True)
class RestartNotice:
    """An SSE stream's last words when the server stops: ``: server restarting`` and
    ``retry: <retry_ms + a uniform random 0 … jitter_ms>``, so the clients of a restarting
    server do not all reconnect in the same instant. ``retry_ms == 0``: the comment alone,
    no ``retry:`` (clients keep the one they had)."""

    retry_ms: int = RESTART_RETRY_MS
    jitter_ms: int = RESTART_JITTER_MS

    def __call__(self) -> bytes:
        if self.retry_ms == 0:
            return encode_event(comment=RESTARTING)
        retry = self.retry_ms + random.randint(0, self.jitter_ms)
        return encode_event(comment=RESTARTING, retry=retry)


RESTART = RestartNotice()  # set from the environment in each worker (worker.StreamWorker)


def restart_notice() -> bytes:
    """``RESTART``'s bytes: the ``ending`` of an SSE body (``bodies.iter_body``)."""
    return RESTART()


def unless_stopping(items: Iterable[T]) -> Iterator[T]:
    """``items`` until the server stops. A source that reads a socket of its own (a relay's
    upstream) gets the stop inside that read, which its HTTP client reports as a broken
    upstream; on a stopping server that is no news for the client: the stream ends with
    ``iter_body``'s ending instead."""
    for item in items:
        if STREAMS.stopping:
            raise StopRequested("server stopping")
        yield item


def ending_for(mimetype: str) -> Callable[[], bytes] | None:
    """``restart_notice`` for an SSE body (its clients take the ``retry:``), else None."""
    return restart_notice if mimetype.startswith(SSE_MEDIA_TYPE) else None


def restart_from_env(environ: Mapping[str, str] | None = None) -> RestartNotice:
    """``SHOWCASE_RESTART_RETRY_MS`` and ``SHOWCASE_RESTART_JITTER_MS`` as declared in
    showcase/pure/settings.py. Raises ``SettingError`` (a ValueError) naming the variable."""
    env = os.environ if environ is None else environ
    return RestartNotice(
        read_setting("SHOWCASE_RESTART_RETRY_MS", env),
        read_setting("SHOWCASE_RESTART_JITTER_MS", env),
    )


_drain_timer: Any = None  # the pending cut of stop_streams: a libev timer must stay referenced


def stop_streams(reason: str = "server stopping") -> None:
    """Mark the worker as stopping, tell every open stream to stop, and cut those still open
    ``STOP_DRAIN_S`` later (from a greenlet or the hub, not a signal handler)."""
    global _drain_timer
    STREAMS.stopping = True
    STREAMS.cut_all(reason, StopRequested)
    hub = _gevent_hub()
    if hub is None:
        return
    if _drain_timer is None:
        _drain_timer = hub.loop.timer(STOP_DRAIN_S)
        _drain_timer.start(STREAMS.cut_all, f"{reason}: still open after {STOP_DRAIN_S:g} s")


def chain_sigterm() -> None:
    """Make SIGTERM also end every stream, after gunicorn's own handler has run.

    ``signal.signal`` resets the handler's SA_RESTART flag; gunicorn sets it with
    ``siginterrupt(SIGTERM, False)`` so that a signal does not fail a blocking system call
    with EINTR. Set it again after replacing the handler.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(signum, frame)
        STREAMS.stopping = True
        # Greenlets cannot be switched into from a signal handler: cut them from the hub.
        _call_from_hub(stop_streams)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)


def _call_from_hub(function: Callable[[], None]) -> None:
    hub = _gevent_hub()
    if hub is None:
        function()
    else:
        hub.loop.run_callback(function)


def install_in_worker() -> None:
    """For gunicorn's ``post_worker_init``: after monkey-patching and gunicorn's own handlers."""
    chain_sigterm()
