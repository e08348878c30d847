"""``Broker``: the one interface the hub's views use; which backend is behind it is config.

Pure: no Flask, no I/O of its own.
"""

from __future__ import annotations

from typing import Protocol

from showcase.hub.room import Subscription


class BrokerUnavailable(RuntimeError):
    """The broker cannot be reached: a publish is refused (503) and stores nothing; a
    subscription ends with an error event, and its client reconnects and resumes."""


class RoomsFull(BrokerUnavailable):
    """This worker holds its limit of rooms: a room new to it is refused (503) until one is
    freed; the rooms it holds go on as before."""


class Broker(Protocol):
    def publish(self, room: str, user: str, text: str) -> str:
        """Store one message in the room's log and deliver it to the room's subscribers;
        return its id (unique and increasing within the room). Never waits on a subscriber."""
        ...

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        """Join the room. ``replay`` holds what follows ``last_event_id`` (a reset event first
        when the log cannot say); live events follow it with no gap and nothing repeated."""
        ...

    def oldest_id(self, room: str) -> str | None:
        """The first id the room's log still holds, None when it holds none."""
        ...

    def check_room(self, room: str) -> None:
        """Raise RoomsFull when ``room`` is new to this worker and it holds its limit already
        (``publish`` and ``subscribe`` raise it too, for the room they would make)."""
        ...

    def count_rooms(self) -> int:
        """The rooms this worker holds now (having dropped those it no longer needs)."""
        ...
