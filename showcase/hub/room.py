"""``Room``: the subscribers one process holds for a room, and ``Subscription``: one of them.

Pure: no I/O. A publish appends to each subscriber's bounded queue and wakes it; it never
waits. A subscriber whose queue is full is cut (dropped from the room, told why when it next
runs) rather than slowing the publisher or growing memory; it resumes from the log.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from showcase.hub.event import HubEvent, presence_event

QUEUE_LIMIT = 256  # messages waiting for one subscriber before it counts as too slow


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
        "_wake",
    )

    def __init__(self, room: Room, replay: list[HubEvent], limit: int) -> None:
        self.room = room
        self.replay = replay
        self.queue: deque[HubEvent] = deque()
        self.limit = limit
        self.cut_reason: str | None = None
        self.cut_error = False  # cut because the broker failed, not because it was slow
        # Messages up to this seq were in the replay: a backend that joins before it reads
        # its log (Redis) drops them from the live queue, so none arrives twice.
        self.after_seq = 0
        self.presence_seen = -1  # the room's presence version last reported to this one
        self._wake = threading.Event()

    def deliver(self, event: HubEvent) -> bool:
        """Queue ``event``; False (and the subscriber is cut) when the queue is full."""
        if self.cut_reason is not None:
            return False
        if len(self.queue) >= self.limit:
            self.cut(f"too slow: {self.limit} messages queued; reconnect with Last-Event-ID")
            return False
        self.queue.append(event)
        self._wake.set()
        return True

    def cut(self, reason: str, error: bool = False) -> None:
        """Stop delivering: the stream ends at its next turn with ``reason`` (an error event
        when ``error``: the broker failed; else a notice: the subscriber was too slow)."""
        self.cut_reason = reason
        self.cut_error = error
        self.queue.clear()
        self._wake.set()

    def notify(self) -> None:
        """Wake the subscriber with nothing queued (presence changed)."""
        self._wake.set()

    def take(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> list[HubEvent]:
        """The events ready now, waiting up to ``timeout_s`` for some; [] on timeout or cut.

        A presence change since the last call comes first, as one event with the count now.
        """
        deadline = clock() + timeout_s
        while True:
            self._wake.clear()  # before looking: a delivery after this sets it again
            if self.cut_reason is not None:
                return []
            events: list[HubEvent] = []
            version = self.room.presence_version
            if version != self.presence_seen:
                self.presence_seen = version
                events.append(presence_event(self.room.name, self.room.count, time.time() * 1000))
            queue, after = self.queue, self.after_seq
            while queue:
                event = queue.popleft()
                if event.seq > after or not event.id:
                    events.append(event)
            if events:
                return events
            remaining = deadline - clock()
            if remaining <= 0 or not self._wake.wait(remaining):
                return []

    def close(self) -> None:
        """Leave the room (idempotent): the others get the new count."""
        self.room.leave(self)


class Room:
    """The local subscribers of one room. Callers hold ``lock`` around ``join`` and
    ``broadcast`` when several threads share a room (the memory broker does)."""

    def __init__(self, name: str, lock: threading.Lock | None = None) -> None:
        self.name = name
        self.lock = lock if lock is not None else threading.Lock()
        self.subscribers: set[Subscription] = set()
        self.presence_version = 0

    @property
    def count(self) -> int:
        return len(self.subscribers)

    def join(self, replay: list[HubEvent], limit: int = QUEUE_LIMIT) -> Subscription:
        subscription = Subscription(self, replay, limit)
        self.subscribers.add(subscription)
        self._presence_changed()
        return subscription

    def leave(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription in self.subscribers:
                self.subscribers.discard(subscription)
                self._presence_changed()

    def broadcast(self, event: HubEvent) -> int:
        """Queue ``event`` for every subscriber; cut the ones too slow. Returns how many got it."""
        slow = [s for s in self.subscribers if not s.deliver(event)]
        if slow:
            self.subscribers.difference_update(slow)
            self._presence_changed()
        return len(self.subscribers)

    def _presence_changed(self) -> None:
        # A version, not an event per subscriber: a subscriber woken by several joins reports
        # the count once. Still one wake-up per subscriber per join (see docs/hub.md).
        self.presence_version += 1
        for subscription in self.subscribers:
            subscription.notify()
