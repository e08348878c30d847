"""``RoomLog``: one room's recent messages, bounded by count and by age, for resume.

Pure: no I/O. Ids are the decimal integers 1, 2, 3, … of one room (the memory broker's);
they restart with the process, and an id the log never issued is answered with a reset.
A room freed and made again goes on past its earlier ids (``last_seq``).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable

from showcase.hub.event import HubEvent, message_event, reset_event

ID_TEXT = re.compile(r"[0-9]{1,19}")


class RoomLog:
    """The last ``max_count`` messages of a room, none older than ``max_age_s``."""

    def __init__(
        self,
        room: str,
        max_count: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
        last_seq: int = 0,
    ) -> None:
        self.room = room
        self.max_age_s = max_age_s
        self.clock = clock
        self.entries: deque[HubEvent] = deque(maxlen=max_count)
        # The last id issued: the next one is last_seq + 1. A room made again after it was
        # freed starts past every id its earlier life issued: none is taken for one of this.
        self.last_seq = last_seq

    def append(self, user: str, text: str) -> HubEvent:
        now_ms = self.clock() * 1000.0
        self.last_seq += 1
        event = message_event(self.last_seq, str(self.last_seq), self.room, user, text, now_ms)
        self.entries.append(event)  # the deque's maxlen drops the oldest: the count bound
        self.trim(now_ms)
        return event

    def trim(self, now_ms: float) -> None:
        """Drop messages older than ``max_age_s`` (the age bound)."""
        oldest_ms = now_ms - self.max_age_s * 1000.0
        entries = self.entries
        while entries and entries[0].ts < oldest_ms:
            entries.popleft()

    def expires_at(self) -> float | None:
        """When (the clock's seconds) the newest message ages out; None when empty."""
        return self.entries[-1].ts / 1000.0 + self.max_age_s if self.entries else None

    def oldest_id(self) -> str | None:
        """The first id still held, None when the log is empty."""
        self.trim(self.clock() * 1000.0)
        return self.entries[0].id if self.entries else None

    def since(self, last_event_id: str | None) -> list[HubEvent]:
        """What a subscriber that last saw ``last_event_id`` gets before the live messages.

        None or "": nothing (a new subscriber starts live). An id this log issued and still
        covers: every message after it, in order. Otherwise (unknown, from another process
        life, or older than the oldest held): a reset event naming the oldest id held, then
        everything held.
        """
        if not last_event_id:
            return []
        oldest = self.oldest_id()  # trims first
        entries = self.entries
        if ID_TEXT.fullmatch(last_event_id):
            seen = int(last_event_id)
            if entries and entries[0].seq - 1 <= seen <= self.last_seq:
                return list(entries)[seen - entries[0].seq + 1 :]
            if not entries and seen == self.last_seq:
                return []
        reset = reset_event(self.room, oldest, last_event_id, self.clock() * 1000.0)
        return [reset, *entries]
