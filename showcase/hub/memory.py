"""``MemoryBroker``: rooms and their logs in this process (one gunicorn worker). Pure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from showcase.hub.log import RoomLog
from showcase.hub.room import QUEUE_LIMIT, Room, Subscription

LOG_COUNT = 1000  # messages a room keeps for resume
LOG_AGE_S = 3600.0  # and none older than this


class MemoryBroker:
    """One lock for every room: publish (log append + fan-out) and subscribe (log snapshot +
    join) each run under it, so a subscriber sees every message exactly once, replayed or
    live. Nothing in it waits: under gevent the lock is never contended across a switch."""

    def __init__(
        self,
        *,
        log_count: int = LOG_COUNT,
        log_age_s: float = LOG_AGE_S,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log_count = log_count
        self.log_age_s = log_age_s
        self.queue_limit = queue_limit
        self.clock = clock
        self._lock = threading.Lock()
        self._rooms: dict[str, tuple[RoomLog, Room]] = {}

    def _room(self, name: str) -> tuple[RoomLog, Room]:
        found = self._rooms.get(name)
        if found is None:
            log = RoomLog(name, self.log_count, self.log_age_s, self.clock)
            found = self._rooms[name] = (log, Room(name, self._lock))
        return found

    def publish(self, room: str, user: str, text: str) -> str:
        with self._lock:
            log, local = self._room(room)
            event = log.append(user, text)
            local.broadcast(event)
        return event.id

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        with self._lock:
            log, local = self._room(room)
            return local.join(log.since(last_event_id), self.queue_limit)

    def oldest_id(self, room: str) -> str | None:
        with self._lock:
            return self._room(room)[0].oldest_id()
