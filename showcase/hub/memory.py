"""``MemoryBroker``: rooms and their logs in this process (one gunicorn worker). Pure."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

from showcase.hub.broker import RoomsFull
from showcase.hub.event import HubEvent
from showcase.hub.log import RoomLog
from showcase.hub.room import QUEUE_LIMIT, Room, Subscription

LOG_COUNT = 1000  # messages a room keeps for resume
LOG_AGE_S = 3600.0  # and none older than this
# Rooms one worker holds at most: any client may name a room, so without a cap a stream of
# made-up names would grow the worker without bound.
MAX_ROOMS = 10_000


def rooms_full(max_rooms: int) -> RoomsFull:
    return RoomsFull(f"this worker holds its limit of {max_rooms} rooms; try again later")


class MemoryBroker:
    """One lock for every room: publish (log append + fan-out) and subscribe (log snapshot +
    join) each run under it, so a subscriber sees every message exactly once, replayed or
    live. Nothing in it waits: under gevent the lock is never contended across a switch.

    A room is freed when nothing needs it any more: at its last subscriber's leave when its
    log is empty, else once the log has aged out. Rooms left holding a log wait in a heap by
    when their newest message ages out; any later call that makes a room or counts them
    drops those due (no timer per room)."""

    def __init__(
        self,
        *,
        log_count: int = LOG_COUNT,
        log_age_s: float = LOG_AGE_S,
        queue_limit: int = QUEUE_LIMIT,
        max_rooms: int = MAX_ROOMS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log_count = log_count
        self.log_age_s = log_age_s
        self.queue_limit = queue_limit
        self.max_rooms = max_rooms
        self.clock = clock
        self._lock = threading.Lock()
        self._rooms: dict[str, tuple[RoomLog, Room]] = {}
        # (when its log is due to have aged out, room): each room with a log and no
        # subscriber at most once (``_waiting``); checked again, not trusted, when due.
        self._aging: list[tuple[float, str]] = []
        self._waiting: set[str] = set()
        self._last_seq = 0  # the highest id of any room freed: a new room's ids go on past it

    def _room(self, name: str) -> tuple[RoomLog, Room]:
        found = self._rooms.get(name)
        if found is None:
            self._drop_aged()
            if len(self._rooms) >= self.max_rooms:
                raise rooms_full(self.max_rooms)
            log = RoomLog(name, self.log_count, self.log_age_s, self.clock, self._last_seq)
            room = Room(name, self._lock, on_empty=self._emptied)
            found = self._rooms[name] = (log, room)
        return found

    def publish(self, room: str, user: str, text: str) -> str:
        with self._lock:
            log, local = self._room(room)
            event = log.append(user, text)
            local.broadcast(event)
            if not local.subscribers:
                self._wait_aging(room, log)
        return event.id

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        with self._lock:
            log, local = self._room(room)
            replay: list[HubEvent] = log.since(last_event_id)
            return local.join(replay, self.queue_limit)

    def oldest_id(self, room: str) -> str | None:
        with self._lock:
            found = self._rooms.get(room)
            return found[0].oldest_id() if found is not None else None

    def check_room(self, room: str) -> None:
        with self._lock:
            if room not in self._rooms:
                self._drop_aged()
                if len(self._rooms) >= self.max_rooms:
                    raise rooms_full(self.max_rooms)

    def count_rooms(self) -> int:
        with self._lock:
            self._drop_aged()
            return len(self._rooms)

    # -- freeing rooms (each holding the lock) -----------------------------------------

    def _emptied(self, local: Room) -> None:
        """``local``'s last subscriber left: free it now, or once its log has aged out."""
        found = self._rooms.get(local.name)
        if found is not None and found[1] is local:
            self._free_or_wait(local.name, found[0])

    def _free_or_wait(self, name: str, log: RoomLog) -> None:
        if log.oldest_id() is None:  # trims by age first
            del self._rooms[name]
            self._last_seq = max(self._last_seq, log.last_seq)
        else:
            self._wait_aging(name, log)

    def _wait_aging(self, name: str, log: RoomLog) -> None:
        due = log.expires_at()
        if due is not None and name not in self._waiting:
            self._waiting.add(name)
            heapq.heappush(self._aging, (due, name))

    def _drop_aged(self) -> None:
        """Free the rooms with no subscriber whose log has aged out; the others whose due
        time has come (a later message moved it) wait again. Bounded by the heap's size."""
        aging, now = self._aging, self.clock()
        for _ in range(len(aging)):
            if not aging or aging[0][0] >= now:
                return
            _, name = heapq.heappop(aging)
            self._waiting.discard(name)
            found = self._rooms.get(name)
            if found is not None and not found[1].subscribers:
                self._free_or_wait(name, found[0])
