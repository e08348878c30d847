"""The hub end to end on the session's gunicorn + gevent server (memory broker, one worker)."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.integration.hub_reader import RoomReader, data, messages, post

pytestmark = pytest.mark.integration


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def test_two_subscribers_see_a_publish(base_url: str) -> None:
    room = new_room()
    first = RoomReader(base_url, room)
    try:
        first.until_count(1)
        second = RoomReader(base_url, room)
        try:
            first.until_count(2)
            second.until_count(2)
            with requests.Session() as session:
                sent = post(session, base_url, room, "<img src=x onerror=alert(1)>")
            for reader in (first, second):
                (event,) = [e for e in reader.until_id(sent) if e.event == "message"]
                assert data(event)["text"] == "<img src=x onerror=alert(1)>"
                assert data(event)["room"] == room and data(event)["user"] == "tester"
                assert set(data(event)) == {"id", "room", "user", "text", "ts"}
        finally:
            second.close()
        first.until_count(1)  # the other one left: noticed at its next heartbeat
    finally:
        first.close()


def test_reconnect_with_last_event_id_gets_exactly_the_missed_messages(base_url: str) -> None:
    room = new_room()
    with requests.Session() as session:
        reader = RoomReader(base_url, room)
        reader.until_count(1)
        seen = post(session, base_url, room, "m0")
        reader.until_id(seen)
        reader.close()
        missed = [post(session, base_url, room, f"m{n}") for n in range(1, 6)]
        back = RoomReader(base_url, room, last_event_id=seen)
        try:
            replayed = back.until_id(missed[-1])
            assert messages(replayed) == [(i, f"m{n}") for n, i in enumerate(missed, 1)]
            assert "reset" not in [e.event for e in replayed]
            live = post(session, base_url, room, "live")
            assert messages(back.until_id(live)) == [(live, "live")]  # no gap, no repeat
        finally:
            back.close()
    assert [int(i) for i in [seen, *missed, live]] == sorted(int(i) for i in [seen, *missed, live])


def test_unknown_id_gets_a_reset_naming_the_oldest(base_url: str) -> None:
    room = new_room()
    with requests.Session() as session:
        first = post(session, base_url, room, "a")
        second = post(session, base_url, room, "b")
    reader = RoomReader(base_url, room, last_event_id="999999")
    try:
        events = reader.until_id(second)
    finally:
        reader.close()
    assert events[0].event == "reset"
    assert data(events[0])["oldest"] == first
    assert messages(events) == [(first, "a"), (second, "b")]


def test_ndjson_stream_of_the_same_room(base_url: str) -> None:
    room = new_room()
    response = requests.get(
        f"{base_url}/chat/events.ndjson", params={"room": room}, stream=True, timeout=(5, 10)
    )
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        lines = response.iter_lines()
        assert json.loads(next(lines)) == {"event": "presence", "room": room, "count": 1}
        with requests.Session() as session:
            sent = post(session, base_url, room, "hello")
        line = next(line for line in lines if line)
        assert json.loads(line)["id"] == sent and json.loads(line)["text"] == "hello"
    finally:
        response.close()


def test_bad_publishes_on_the_real_server(base_url: str) -> None:
    url = f"{base_url}/chat/send"
    wrong_type = requests.post(url, data="room=r", timeout=10)
    assert wrong_type.status_code == 415
    malformed = requests.post(
        url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert malformed.status_code == 400
    assert malformed.json()["field"] == "body"
    huge = requests.post(url, json={"room": "r", "user": "u", "text": "x" * 10_000}, timeout=10)
    assert huge.status_code == 413


def test_a_subscriber_keeps_receiving_after_a_hostile_publish_was_refused(base_url: str) -> None:
    room = new_room()
    reader = RoomReader(base_url, room)
    try:
        reader.until_count(1)
        with requests.Session() as session:
            before = post(session, base_url, room, "before")
            hostile = session.post(
                f"{base_url}/chat/send",
                data=b'{"room": "%s", "user": "tester", "text": "x\\ud800"}' % room.encode(),
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            assert hostile.status_code == 400
            assert hostile.json()["field"] == "text"
            after = post(session, base_url, room, "after")
            assert messages(reader.until_id(after)) == [(before, "before"), (after, "after")]
        replay = RoomReader(base_url, room, last_event_id="0")  # the log holds no poison either
        try:
            assert messages(replay.until_id(after)) == [(before, "before"), (after, "after")]
        finally:
            replay.close()
    finally:
        reader.close()
