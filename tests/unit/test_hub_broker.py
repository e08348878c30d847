"""The memory broker: ids, the log's bounds, replay and reset, presence, slow consumers."""

from __future__ import annotations

import json

from showcase.hub.event import (
    HUB_NDJSON,
    HUB_SSE,
    MESSAGE,
    PRESENCE,
    RESET,
    HubEvent,
    message_event,
)
from showcase.hub.memory import MemoryBroker
from showcase.hub.room import Room
from showcase.pure.framing.sse import SSEParser


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def texts(events: list[HubEvent]) -> list[str]:
    return [e.data["text"] for e in events if e.event == MESSAGE]


def test_ids_unique_and_increasing_per_room() -> None:
    broker = MemoryBroker()
    ids = [broker.publish("a", "u", str(n)) for n in range(5)]
    assert ids == ["1", "2", "3", "4", "5"]
    assert broker.publish("b", "u", "x") == "1"
    assert broker.publish("a", "u", "x") == "6"


def test_new_subscriber_starts_live_and_sees_messages_in_order() -> None:
    broker = MemoryBroker()
    broker.publish("r", "u", "before")
    sub = broker.subscribe("r", None)
    assert sub.replay == []
    broker.publish("r", "ann", "one")
    broker.publish("r", "bob", "two")
    events = sub.take(0)
    assert [e.event for e in events] == [PRESENCE, MESSAGE, MESSAGE]
    assert events[0].data == {"room": "r", "count": 1}
    assert [(e.data["user"], e.data["text"], e.id) for e in events[1:]] == [
        ("ann", "one", "2"),
        ("bob", "two", "3"),
    ]
    assert sub.take(0) == []


def test_two_subscribers_share_one_encoded_event() -> None:
    broker = MemoryBroker()
    first, second = broker.subscribe("r", None), broker.subscribe("r", None)
    broker.publish("r", "u", "hi")
    a, b = texts(first.take(0)), texts(second.take(0))
    assert a == b == ["hi"]
    assert first.room.subscribers == {first, second}


def test_resume_after_id_replays_exactly_the_missed_ones() -> None:
    broker = MemoryBroker()
    for n in range(6):
        broker.publish("r", "u", f"m{n}")
    sub = broker.subscribe("r", "3")
    assert [e.id for e in sub.replay] == ["4", "5", "6"]
    broker.publish("r", "u", "live")
    assert texts(sub.take(0)) == ["live"]
    assert broker.subscribe("r", "7").replay == []
    assert [e.id for e in broker.subscribe("r", "0").replay] == [str(n) for n in range(1, 8)]


def test_reset_when_older_than_the_count_bound() -> None:
    broker = MemoryBroker(log_count=3)
    for n in range(10):
        broker.publish("r", "u", f"m{n}")
    sub = broker.subscribe("r", "2")
    assert sub.replay[0].event == RESET
    assert sub.replay[0].data == {"room": "r", "oldest": "8", "last_event_id": "2"}
    assert [e.id for e in sub.replay[1:]] == ["8", "9", "10"]
    assert [e.id for e in broker.subscribe("r", "7").replay] == ["8", "9", "10"]


def test_reset_when_unknown_or_from_the_future() -> None:
    broker = MemoryBroker()
    broker.publish("r", "u", "x")
    for last in ("5", "abc", "1-0", "-1"):
        replay = broker.subscribe("r", last).replay
        assert [e.event for e in replay] == [RESET, MESSAGE], last
        assert replay[0].data["oldest"] == "1"


def test_age_bound_drops_old_messages() -> None:
    clock = Clock()
    broker = MemoryBroker(log_age_s=60.0, clock=clock)
    broker.publish("r", "u", "old")
    clock.now += 61
    broker.publish("r", "u", "new")
    assert broker.oldest_id("r") == "2"
    replay = broker.subscribe("r", "0").replay
    assert [e.event for e in replay] == [RESET, MESSAGE]
    assert texts(replay) == ["new"]
    clock.now += 61
    assert broker.oldest_id("r") is None
    assert broker.subscribe("r", "2").replay == []  # saw the last one: nothing missed
    empty = broker.subscribe("r", "1").replay
    assert [e.event for e in empty] == [RESET] and empty[0].data["oldest"] is None


def test_presence_counts_join_and_leave() -> None:
    broker = MemoryBroker()
    first = broker.subscribe("r", None)
    assert [e.data["count"] for e in first.take(0)] == [1]
    second = broker.subscribe("r", None)
    assert [e.data["count"] for e in first.take(0)] == [2]
    second.close()
    second.close()  # idempotent
    assert [e.data["count"] for e in first.take(0)] == [1]


def test_slow_consumer_is_cut_and_others_keep_receiving() -> None:
    broker = MemoryBroker(queue_limit=4)
    slow, fast = broker.subscribe("r", None), broker.subscribe("r", None)
    for n in range(10):
        broker.publish("r", "u", str(n))
        fast_events = fast.take(0)
        assert str(n) in texts(fast_events)
    assert slow.cut_reason is not None and "too slow" in slow.cut_reason
    assert slow.take(0) == []
    assert slow.room.subscribers == {fast}
    # the slow one can come back and resume from the log
    assert texts(broker.subscribe("r", "2").replay) == [str(n) for n in range(2, 10)]


def test_take_times_out_with_nothing() -> None:
    sub = MemoryBroker().subscribe("r", None)
    sub.take(0)
    assert sub.take(0.01) == []


def test_encodings() -> None:
    broker = MemoryBroker()
    sub = broker.subscribe("r", None)
    sub.take(0)
    broker.publish("r", "u", "<b>line\nnext</b>")
    (event,) = sub.take(0)
    parsed = SSEParser().feed(HUB_SSE.encode(event))
    assert [(p.event, p.id) for p in parsed] == [("message", "1")]
    assert json.loads(parsed[0].data) == {
        "id": "1",
        "room": "r",
        "user": "u",
        "text": "<b>line\nnext</b>",
        "ts": event.ts,
    }
    assert HUB_SSE.encode(event) is HUB_SSE.encode(event)  # encoded once
    line = json.loads(HUB_NDJSON.encode(event))
    assert line == {"event": "message", **event.data}


def test_live_queue_drops_what_the_replay_held() -> None:
    """A backend that joins before reading its log (Redis) sets ``after_seq``: messages up to
    it reach the queue too, and ``take`` drops them, so none arrives twice."""
    room = Room("r")
    sub = room.join([])
    sub.after_seq = 2
    for seq in (1, 2, 3):
        room.broadcast(message_event(seq, str(seq), "r", "u", f"m{seq}", 0.0))
    assert [e.id for e in sub.take(0) if e.event == MESSAGE] == ["3"]


def test_cut_for_an_error_is_marked() -> None:
    sub = Room("r").join([])
    sub.cut("redis: gone", error=True)
    assert (sub.cut_reason, sub.cut_error, sub.take(0)) == ("redis: gone", True, [])
