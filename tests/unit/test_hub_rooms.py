"""The memory broker's rooms: freed once nobody holds them and their log has aged out, and
capped in number; an id issued before a room was freed never resumes silently in its next
life."""

from __future__ import annotations

import pytest

from showcase.hub.broker import RoomsFull
from showcase.hub.event import MESSAGE, RESET
from showcase.hub.memory import MemoryBroker

LOG_AGE_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_room_without_messages_is_dropped_when_its_last_subscriber_leaves() -> None:
    broker = MemoryBroker()
    first, second = broker.subscribe("r", None), broker.subscribe("r", None)
    assert broker.count_rooms() == 1
    first.close()
    assert broker.count_rooms() == 1  # one subscriber still holds it
    second.close()
    assert broker.count_rooms() == 0


def test_a_room_is_kept_while_its_log_is_live_and_dropped_once_it_aged_out() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=LOG_AGE_S, clock=clock)
    subscription = broker.subscribe("r", None)
    broker.publish("r", "u", "kept")
    subscription.close()
    assert broker.count_rooms() == 1
    clock.now += LOG_AGE_S / 2
    assert broker.count_rooms() == 1
    again = broker.subscribe("r", "0")
    assert [e.data["text"] for e in again.replay if e.event == MESSAGE] == ["kept"]
    again.close()
    clock.now += LOG_AGE_S
    assert broker.count_rooms() == 0


def test_a_published_room_nobody_joined_is_dropped_once_its_log_aged_out() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=LOG_AGE_S, clock=clock)
    broker.publish("a", "u", "first")
    clock.now += LOG_AGE_S - 1
    broker.publish("a", "u", "later")  # the room lives until its newest message ages out
    clock.now += 2
    assert broker.count_rooms() == 1
    clock.now += LOG_AGE_S
    assert broker.count_rooms() == 0


def test_aged_rooms_are_dropped_when_a_new_room_is_made() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=LOG_AGE_S, clock=clock, max_rooms=3)
    for name in ("a", "b", "c"):
        broker.publish(name, "u", "x")
    clock.now += LOG_AGE_S + 1
    broker.publish("d", "u", "x")  # over the cap unless the aged ones go first
    assert broker.count_rooms() == 1


def test_a_new_room_past_the_cap_is_refused_and_a_held_one_is_not() -> None:
    broker = MemoryBroker(max_rooms=2)
    held = [broker.subscribe("a", None), broker.subscribe("b", None)]
    with pytest.raises(RoomsFull):
        broker.subscribe("c", None)
    with pytest.raises(RoomsFull):
        broker.publish("c", "u", "x")
    with pytest.raises(RoomsFull):
        broker.check_room("c")
    broker.check_room("a")
    assert broker.publish("a", "u", "x") == "1"
    assert broker.count_rooms() == 2
    held[1].close()
    broker.check_room("c")
    broker.subscribe("c", None)
    assert broker.count_rooms() == 2


def test_oldest_id_of_an_unknown_room_makes_no_room() -> None:
    broker = MemoryBroker()
    assert broker.oldest_id("nobody-here") is None
    assert broker.count_rooms() == 0


def test_an_id_from_a_freed_room_gets_a_reset_in_its_next_life() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=LOG_AGE_S, clock=clock)
    for n in range(3):
        broker.publish("r", "u", f"old {n}")  # ids 1, 2, 3; a client saw "2" and left
    clock.now += LOG_AGE_S + 1
    assert broker.count_rooms() == 0
    new_ids = [broker.publish("r", "u", f"new {n}") for n in range(3)]
    assert [int(i) for i in new_ids] == sorted(int(i) for i in new_ids)
    assert int(new_ids[0]) > 3  # ids go on after the freed room's, never from 1 again
    replay = broker.subscribe("r", "2").replay
    assert replay[0].event == RESET
    assert [e.data["text"] for e in replay if e.event == MESSAGE] == [f"new {n}" for n in range(3)]
    # The last id of the freed room is where the next life starts: nothing was missed.
    assert [e.data["text"] for e in broker.subscribe("r", "3").replay] == [
        f"new {n}" for n in range(3)
    ]


def test_a_slow_subscriber_cut_by_a_publish_leaves_its_room_to_age_out() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=LOG_AGE_S, clock=clock, queue_limit=1)
    slow = broker.subscribe("r", None)
    broker.publish("r", "u", "queued")
    broker.publish("r", "u", "too many")
    assert slow.cut_reason is not None
    slow.close()
    clock.now += LOG_AGE_S + 1
    assert broker.count_rooms() == 0
