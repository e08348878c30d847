"""``Room``: the subscribers one process holds for a room, and ``Subscription``: one of them.

Pure: no I/O of its own. A publish appends to each subscriber's bounded queue and wakes it; it
never waits. A subscriber whose queue is full is cut (dropped from the room, told why when it
next runs) rather than slowing the publisher or growing memory; it resumes from the log.
A subscriber with a ``Writer`` that is parked (waiting, nothing queued or unsent) is not
woken: the publish hands the message to its writer (hub/direct.py), which never waits either.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from showcase.hub.event import HubEvent, presence_event

QUEUE_LIMIT = 256  # messages waiting for one subscriber before it counts as too slow
# A join or leave wakes every subscriber of the room to report the count: at most once in
# PRESENCE_WAKE_S, and in a large room at most PRESENCE_WAKES_PER_S wake-ups a second (one
# wake-up and one write each). Waking on every one made each join cost a wake-up and a write
# per subscriber: a reconnect storm of the whole room cost the room's size squared.
PRESENCE_WAKE_S = 1.0
PRESENCE_WAKES_PER_S = 1000.0


class Writer(Protocol):
    def send_now(self, event: HubEvent) -> bytes:
        """Write ``event`` without waiting; the bytes not taken. OSError: connection broken."""
        ...

    def send_rest(self, data: bytes) -> None:
        """Write ``data`` from the subscriber's own greenlet, waiting as long as a write may."""
        ...


class Subscription:
    """One subscriber's view of a room: ``replay`` first, then live events from ``take``.

    The wake-up is a ``threading.Event`` looked up when the subscription is made, so that
    under gevent's monkey-patching it is gevent's cooperative one.
    """

    __slots__ = (
        "room",
        "replay",
        "queue",
        "limit",
        "cut_reason",
        "cut_error",
        "after_seq",
        "presence_seen",
        "writer",
        "parked",
        "unsent",
        "broken",
        "written_at",
        "_wake",
    )

    def __init__(self, room: Room, replay: list[HubEvent], limit: int) -> None:
        self.room = room
        self.replay = replay
        # Made on the first message that has to wait, dropped when drained: an empty deque is
        # 760 bytes, and a subscriber written to directly rarely needs one.
        self.queue: deque[HubEvent] | None = None
        self.limit = limit
        self.cut_reason: str | None = None
        self.cut_error = False  # cut because the broker failed, not because it was slow
        # Messages up to this seq were in the replay: a backend that joins before it reads
        # its log (Redis) drops them from the live queue, so none arrives twice.
        self.after_seq = 0
        self.presence_seen = -1  # the room's presence version last reported to this one
        # Set by the stream once its headers are out: deliveries while it is ``parked`` (its
        # greenlet waits in ``take`` with nothing queued or unsent) go to the writer directly.
        self.writer: Writer | None = None
        self.parked = False
        self.unsent = b""  # what the writer could not send now: the stream sends it first
        self.broken: OSError | None = None  # the writer's connection failed: take raises it
        self.written_at = 0.0  # the room's clock (monotonic) at the writer's last write
        self._wake = threading.Event()

    def deliver(self, event: HubEvent, now: float = 0.0) -> bool:
        """Write or queue ``event``; False (and the subscriber is cut) when the queue is full
        or the connection is broken. ``now``: the room's clock, when written."""
        if self.parked:  # so neither cut nor broken: the hot path of a fan-out
            if event.seq <= self.after_seq and event.id:
                return True  # in the replay already
            try:
                rest = self.writer.send_now(event)  # type: ignore[union-attr]
            except OSError as error:
                self.broken = error
                self.parked = False
                self._wake.set()
                return False
            if rest:  # the socket is full: the stream sends the rest, with its deadline
                self.unsent = rest
                self.parked = False
                self._wake.set()
            self.written_at = now
            return True
        if self.cut_reason is not None or self.broken is not None:
            return False
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        elif len(queue) >= self.limit:
            self.cut(f"too slow: {self.limit} messages queued; reconnect with Last-Event-ID")
            return False
        queue.append(event)
        self._wake.set()
        return True

    def cut(self, reason: str, error: bool = False) -> None:
        """Stop delivering: the stream ends at its next turn with ``reason`` (an error event
        when ``error``: the broker failed; else a notice: the subscriber was too slow)."""
        self.cut_reason = reason
        self.cut_error = error
        self.parked = False
        self.queue = None
        self._wake.set()

    def notify(self) -> None:
        """Wake the subscriber with nothing queued (presence changed)."""
        self._wake.set()

    def take(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> list[HubEvent]:
        """The events ready now, waiting up to ``timeout_s`` for some; [] on timeout or cut.
        It also returns when ``unsent`` holds bytes for the stream to send first, and raises
        the writer's error when the connection broke.

        A presence change since the last call comes first, as one event with the count now.
        """
        try:
            events = self._take(timeout_s, clock)
        finally:
            self.parked = False
        if self.broken is not None:
            raise self.broken
        return events

    def _take(self, timeout_s: float, clock: Callable[[], float]) -> list[HubEvent]:
        deadline = clock() + timeout_s
        while True:
            self._wake.clear()  # before looking: a delivery after this sets it again
            if self.cut_reason is not None or self.unsent or self.broken is not None:
                return []
            events: list[HubEvent] = []
            version = self.room.presence_version
            if version != self.presence_seen:
                self.presence_seen = version
                events.append(presence_event(self.room.name, self.room.count, time.time() * 1000))
            queue, after = self.queue, self.after_seq
            if queue is not None:
                self.queue = None
                for event in queue:
                    if event.seq > after or not event.id:
                        events.append(event)
            if events:
                return events
            # The courier of a held-back presence change wakes the room when it is due.
            due_in = self.room.presence_due_in(self)
            if due_in is not None and due_in <= 0:
                self.room.wake_presence()
                continue
            remaining = deadline - clock()
            if remaining <= 0:
                return []
            self.parked = self.writer is not None
            if due_in is not None and due_in < remaining:
                woken = self._wake.wait(due_in)
                self.parked = False
                if not woken:
                    self.room.wake_presence()
                continue
            woken = self._wake.wait(remaining)
            self.parked = False
            if not woken:
                return []

    def close(self) -> None:
        """Leave the room (idempotent): the others get the new count."""
        self.room.leave(self)


class Room:
    """The local subscribers of one room. Callers hold ``lock`` around ``join`` and
    ``broadcast`` when several threads share a room (the memory broker does).

    Presence: every join and leave changes ``presence_version``, and a subscriber reports the
    count when it sees a new version. The first change after a quiet interval (PRESENCE_WAKE_S,
    longer in a room of more than PRESENCE_WAKES_PER_S subscribers) wakes every subscriber at
    once; later ones within it are held back, and one subscriber (the
    courier: the newest joiner, or any when it left) waits until the interval is over and
    then wakes them all (``wake_presence``), so a burst of joins costs one wake-up per
    subscriber per interval, and the last count still arrives. A broadcast while a change is
    held back reports it at once, with the message. Reporting the count writes it directly
    to parked subscribers, as a message is, and wakes only the others.
    """

    def __init__(
        self,
        name: str,
        lock: threading.Lock | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_empty: Callable[[Room], None] | None = None,
    ) -> None:
        self.name = name
        self.lock = lock if lock is not None else threading.Lock()
        self.clock = clock
        # Called holding ``lock`` when the last local subscriber leaves or is cut: the broker
        # frees the room then, or once its log has aged out.
        self.on_empty = on_empty
        self.subscribers: set[Subscription] = set()
        self.presence_version = 0
        self.presence_woken_at = -PRESENCE_WAKE_S  # the last time every subscriber was woken
        self.presence_due: float | None = None  # a held-back change is due to wake the room
        self.courier: Subscription | None = None  # who wakes the room when it is due
        self.others = 0  # its subscribers in other processes (the Redis broker counts them)

    @property
    def count(self) -> int:
        """The room's subscribers: this process's and, with a shared broker, the others'."""
        return len(self.subscribers) + self.others

    def set_others(self, others: int) -> None:
        """The room's subscribers held by other processes now; a change is reported as a
        join or leave here is. Call it holding ``lock``."""
        if others != self.others:
            self.others = others
            self._presence_changed()

    def join(self, replay: list[HubEvent], limit: int = QUEUE_LIMIT) -> Subscription:
        subscription = Subscription(self, replay, limit)
        self.subscribers.add(subscription)
        # The joiner needs no wake-up: its first take reports the count.
        self._presence_changed(courier=subscription)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription in self.subscribers:
                self.subscribers.discard(subscription)
                self._presence_changed()
                if not self.subscribers and self.on_empty is not None:
                    self.on_empty(self)

    def broadcast(self, event: HubEvent) -> int:
        """Write or queue ``event`` for every subscriber; cut the ones too slow or gone.
        Returns how many got it."""
        now = self.clock()
        slow = [s for s in self.subscribers if not s.deliver(event, now)]
        if self.presence_due is not None:
            self._wake_all(now)  # a held-back count goes along with the message
        if slow:
            self.subscribers.difference_update(slow)
            self._presence_changed()
            if not self.subscribers and self.on_empty is not None:
                self.on_empty(self)
        return len(self.subscribers)

    def presence_due_in(self, subscription: Subscription) -> float | None:
        """Seconds until ``subscription``, the courier of a held-back presence change, must
        wake the room; None when it is not the courier or nothing is held back."""
        due = self.presence_due
        if due is None or self.courier is not subscription:
            return None
        return due - self.clock()

    def wake_presence(self) -> None:
        """Wake every subscriber, to report the count (idempotent: once per held change)."""
        with self.lock:
            if self.presence_due is not None:
                self._wake_all(self.clock())

    def _presence_changed(self, courier: Subscription | None = None) -> None:
        # A version, not an event per subscriber: a subscriber woken by several joins reports
        # the count once, and a change held back is reported by whoever wakes next.
        self.presence_version += 1
        now = self.clock()
        interval = max(PRESENCE_WAKE_S, len(self.subscribers) / PRESENCE_WAKES_PER_S)
        if now - self.presence_woken_at >= interval:
            self._wake_all(now)
            return
        self.presence_due = self.presence_woken_at + interval
        if courier is not None:
            self.courier = courier
        elif self.courier not in self.subscribers:
            self.courier = next(iter(self.subscribers), None)
            if self.courier is not None:
                self.courier.notify()  # to wait for the due time instead of its heartbeat

    def _wake_all(self, now: float) -> None:
        """Report the count to every subscriber: written directly to the parked ones (as a
        message is), a wake-up for the others (they report it at their next ``take``)."""
        self.presence_woken_at = now
        self.presence_due = None
        self.courier = None
        version = self.presence_version
        presence: HubEvent | None = None
        for subscription in self.subscribers:
            if subscription.parked and subscription.presence_seen != version:
                if presence is None:
                    presence = presence_event(self.name, self.count, time.time() * 1000)
                if subscription.deliver(presence, now):
                    subscription.presence_seen = version
                    continue
            subscription.notify()
