"""Presence in a large room: a burst of joins wakes the room's subscribers at most once per
PRESENCE_WAKE_S, and the last count still reaches every one of them (when each join woke
everyone, a reconnect storm of the whole room cost its size squared in wake-ups)."""

from __future__ import annotations

import pytest

from showcase.hub import room as room_module
from showcase.hub.event import PRESENCE, message_event
from showcase.hub.room import PRESENCE_WAKE_S, PRESENCE_WAKES_PER_S, Room, Subscription


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counts(subscription: Subscription) -> list[int]:
    return [e.data["count"] for e in subscription.take(0) if e.event == PRESENCE]


def woken(subscription: Subscription) -> bool:
    return subscription._wake.is_set()


def test_a_burst_of_joins_wakes_a_waiting_subscriber_once_then_the_last_count() -> None:
    clock = Clock()
    room = Room("r", clock=clock)
    first = room.join([])
    assert counts(first) == [1] and not woken(first)
    clock.now += PRESENCE_WAKE_S  # a quiet room: the next join wakes everyone at once
    second = room.join([])
    assert woken(first) and counts(first) == [2] and counts(second) == [2]
    others = []
    for _ in range(50):  # within the interval: held back, nobody waiting is woken
        clock.now += PRESENCE_WAKE_S / 100
        others.append(room.join([]))
        assert not woken(first) and not woken(second)
    courier = others[-1]  # the newest joiner wakes the room when the interval is over
    assert counts(courier) == [52]
    clock.now = 1000.0 + 2 * PRESENCE_WAKE_S
    assert courier.take(0) == []  # due: it wakes the room (it has reported 52 already)
    assert woken(first) and woken(others[0])
    assert counts(first) == [52] and counts(others[0]) == [52]


def test_the_courier_wakes_the_room_when_the_change_is_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the real clock: the courier's wait ends at the due time (not at its timeout, the
    heartbeat), and it wakes the room then."""
    monkeypatch.setattr(room_module, "PRESENCE_WAKE_S", 0.05)
    room = Room("r")
    first = room.join([])
    counts(first)
    second = room.join([])  # held back: first is not woken, second is the courier
    assert counts(second) == [2] and not woken(first)
    second.take(0.3)  # waits; at the due time it wakes the room (and goes on waiting)
    assert woken(first) and counts(first) == [2]
    assert room.presence_due is None


def test_when_the_courier_leaves_another_subscriber_takes_over() -> None:
    clock = Clock()
    room = Room("r", clock=clock)
    first = room.join([])
    counts(first)
    second = room.join([])
    counts(second)
    second.close()  # held back too; first becomes the courier and is woken to wait for it
    assert room.courier is first and woken(first)
    assert counts(first) == [1]
    clock.now += PRESENCE_WAKE_S
    assert first.take(0) == [] and room.presence_due is None


def test_a_broadcast_carries_a_held_back_count() -> None:
    clock = Clock()
    room = Room("r", clock=clock)
    first = room.join([])
    counts(first)
    room.join([])  # held back
    assert not woken(first)
    room.broadcast(message_event(1, "1", "r", "u", "hi", 0.0))
    assert room.presence_due is None
    events = first.take(0)
    assert [(e.event, e.data.get("count")) for e in events] == [(PRESENCE, 2), ("message", None)]


def test_a_large_room_is_woken_less_often() -> None:
    """Past PRESENCE_WAKES_PER_S subscribers the interval grows with the room: a room of
    3,000 is woken for presence at most every 3 s."""
    clock = Clock()
    room = Room("r", clock=clock)
    subscribers = [room.join([]) for _ in range(int(3 * PRESENCE_WAKES_PER_S))]
    first = subscribers[0]
    counts(first)
    clock.now += PRESENCE_WAKE_S * 10
    room.join([])  # quiet for long enough: everyone is woken
    assert woken(first) and counts(first) == [len(subscribers) + 1]
    woken_at = clock.now
    clock.now += 2.0
    last = room.join([])  # within 3 s of the last wake-up: held back
    assert not woken(first) and room.courier is last
    assert room.presence_due == pytest.approx(woken_at + 3.002)  # 3,002 subscribers now
