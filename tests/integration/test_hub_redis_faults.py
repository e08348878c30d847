"""The Redis broker against what it did not write and what fails under it: foreign stream
entries and presence values are skipped, a reader that fails is started again, a Redis
restarted mid-run loses nothing it acknowledged; and its keys expire, its rooms are freed
and capped. A real redis-server, as in test_hub_redis.py."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from benchmarks.infra.hub_redis import RedisServer, start_redis
from showcase.hub.broker import RoomsFull
from showcase.hub.event import MESSAGE
from showcase.hub.redis_broker import COUNT_PREFIX, KEY_PREFIX, PRESENCE_PREFIX, RedisBroker
from showcase.hub.room import Subscription
from showcase.tools.launcher import start_server
from tests.integration.hub_reader import RoomReader, data, post

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def redis_cli(store: RedisServer, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(store.port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout.strip()


def texts_until(subscription: Subscription, wanted: str) -> list[str]:
    """Message texts taken until ``wanted`` (bounded in time)."""
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    while wanted not in seen and time.monotonic() < deadline:
        assert subscription.cut_reason is None, subscription.cut_reason
        seen += [e.data["text"] for e in subscription.take(1.0) if e.event == MESSAGE]
    return seen


def test_foreign_entries_and_presence_values_are_skipped(
    tmp_path: Path, data_dir: Path, redis_server: RedisServer
) -> None:
    server = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_BROKER": redis_server.url,
        },
    )
    room, other_room = new_room(), new_room()
    try:
        other = RoomReader(server.url, other_room)
        reader = RoomReader(server.url, room)
        try:
            reader.until(lambda e: e.event == "presence")
            other.until(lambda e: e.event == "presence")
            with requests.Session() as session:
                first = post(session, server.url, room, "first")
                reader.until_id(first)
                key = KEY_PREFIX + room
                foreign = [
                    redis_cli(redis_server, "XADD", key, "*", "foo", "bar"),
                    redis_cli(redis_server, "XADD", key, "*", "n", "x", "user", "u", "text", "t"),
                    redis_cli(redis_server, "XADD", key, "*", "n", "9", "user", "u", "ts", "y"),
                ]
                presence = PRESENCE_PREFIX + room
                redis_cli(redis_server, "HSET", presence, "intruder-a", "many:1")
                redis_cli(redis_server, "HSET", presence, "intruder-b", "2:soon")
                redis_cli(redis_server, "HSET", presence, "intruder-c", "3:inf")
                other_presence = PRESENCE_PREFIX + other_room  # a key of another type
                redis_cli(redis_server, "DEL", other_presence)
                redis_cli(redis_server, "SET", other_presence, "not a hash")
                time.sleep(1.5)  # the presence sync (once a second) reads them
                second = post(session, server.url, room, "second")
                events = reader.until_id(second)
            assert [(e.id, data(e)["text"]) for e in events if e.event == "message"] == [
                (second, "second")
            ]
            assert "error" not in [e.event for e in events]
            with requests.Session() as session:
                third = post(session, server.url, other_room, "third")
            events = other.until_id(third)
            assert "error" not in [e.event for e in events]
        finally:
            reader.close()
            other.close()
        resumed = RoomReader(server.url, room, last_event_id=first)  # the replay skips them too
        try:
            events = resumed.until_id(second)
        finally:
            resumed.close()
        assert [e.id for e in events if e.event == "message"] == [second]
    finally:
        server.stop()
    log = server.log()
    for entry_id in foreign:
        assert f"room {room} entry {entry_id}" in log
    assert "intruder-a" in log and "intruder-b" in log and "intruder-c" in log
    assert f"room {other_room} presence: WRONGTYPE" in log
    assert "Traceback" not in log


def test_a_room_whose_key_is_not_a_stream_ends_alone(redis_server: RedisServer) -> None:
    """Something SETs a room's stream key: that room's streams end with an error (its
    publishes get 503), and every other room the process reads goes on."""
    broker = RedisBroker(redis_server.url)
    room, spoiled = new_room(), new_room()
    try:
        subscription = broker.subscribe(room, None)
        victim = broker.subscribe(spoiled, None)
        redis_cli(redis_server, "SET", KEY_PREFIX + spoiled, "not a stream")
        deadline = time.monotonic() + DEADLINE_S
        while victim.cut_reason is None and time.monotonic() < deadline:
            victim.take(0.5)
        assert victim.cut_error
        assert victim.cut_reason == f"room {spoiled}: its Redis key is not a stream"
        victim.close()
        broker.publish(room, "u", "still here")
        assert texts_until(subscription, "still here") == ["still here"]
        subscription.close()
    finally:
        broker.close()


def test_a_reader_that_fails_is_started_again(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever ends the reader, its subscribers are told (they resume from the log) and a
    new reader follows the rooms after a pause."""
    broker = RedisBroker(redis_server.url)
    room = new_room()
    try:
        first = broker.subscribe(room, None)
        broker.publish(room, "u", "before")
        assert texts_until(first, "before") == ["before"]
        hand_out = broker._hand_out
        failures = []

        def fail_once(name: str, entries: list[tuple[str, dict[str, str]]]) -> None:
            if not failures:
                failures.append(name)
                raise RuntimeError("a bug in the reader")
            hand_out(name, entries)

        monkeypatch.setattr(broker, "_hand_out", fail_once)
        with caplog.at_level(logging.WARNING, logger="showcase.hub.redis_broker"):
            broker.publish(room, "u", "lost to the bug")
            deadline = time.monotonic() + DEADLINE_S
            while first.cut_reason is None and time.monotonic() < deadline:
                first.take(1.0)
            assert first.cut_error  # told, not left waiting for ever
            first.close()
            again = broker.subscribe(room, "0")
            replayed = [e.data["text"] for e in again.replay if e.event == MESSAGE]
            assert replayed == ["before", "lost to the bug"]  # resumed from the log
            broker.publish(room, "u", "after")
            assert texts_until(again, "after") == ["after"]
            again.close()
        assert failures == [room]
        assert "RuntimeError('a bug in the reader')" in caplog.text
        assert broker._reader is not None and broker._reader.is_alive()
    finally:
        broker.close()


def test_redis_restarted_mid_run_loses_nothing_acknowledged(tmp_path: Path, data_dir: Path) -> None:
    """Redis stops (saving its data) and starts again on the same port while a publisher
    posts and two subscribers read: every publish answered 202 reaches both, in order, once;
    the ones sent while Redis was down get 503."""
    store = start_redis(tmp_path / "redis")
    redis.Redis(port=store.port).config_set("save", "3600 1")  # so a stop saves
    server = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_BROKER": store.url,
        },
    )
    room = new_room()
    accepted: list[str] = []
    refused: list[int] = []
    stop = threading.Event()  # the publisher stops
    published = threading.Event()  # the publisher has stopped: ``accepted`` is final
    received: list[list[str]] = [[], []]

    def publish() -> None:
        with requests.Session() as session:
            for n in range(5000):
                if stop.is_set():
                    return
                try:
                    response = session.post(
                        f"{server.url}/chat/send",
                        json={"room": room, "user": "u", "text": f"m{n}"},
                        timeout=10,
                    )
                except requests.RequestException:
                    continue
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                else:
                    assert response.status_code == 503, response.text
                    refused.append(n)
                time.sleep(0.01)

    def read(index: int) -> None:
        """Reconnect with the last id seen, as EventSource does, until told to stop."""
        last: str | None = None
        for _ in range(200):
            if published.is_set() and received[index][-1:] == accepted[-1:]:
                return
            try:
                reader = RoomReader(server.url, room, last_event_id=last)
            except (AssertionError, requests.RequestException):
                time.sleep(0.2)
                continue
            try:
                while True:
                    event = reader.next_event(time.monotonic() + 5)
                    if event.event == "message":
                        received[index].append(event.id)
                        last = event.id
                    elif event.event == "error":
                        break
                    if published.is_set() and received[index][-1:] == accepted[-1:]:
                        return
            except (AssertionError, StopIteration, requests.RequestException):
                pass
            finally:
                reader.close()
            time.sleep(0.2)

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in (0, 1)]
    publisher = threading.Thread(target=publish, daemon=True)
    try:
        for thread in readers:
            thread.start()
        time.sleep(1.0)
        publisher.start()
        time.sleep(1.5)
        store.stop()
        deadline = time.monotonic() + DEADLINE_S
        while len(refused) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        store = start_redis(tmp_path / "redis", port=store.port)
        count = len(accepted)
        deadline = time.monotonic() + DEADLINE_S
        while len(accepted) < count + 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        publisher.join(DEADLINE_S)
        assert not publisher.is_alive()
        published.set()
        for thread in readers:
            thread.join(DEADLINE_S)
            assert not thread.is_alive()
    finally:
        stop.set()
        published.set()
        server.stop()
        store.stop()
    assert len(refused) >= 3 and len(accepted) >= 40
    assert received == [accepted, accepted]
    assert "Traceback" not in server.log()


def test_stream_and_count_keys_expire_and_the_stream_is_trimmed(
    redis_server: RedisServer,
) -> None:
    broker = RedisBroker(redis_server.url, log_count=100, log_age_s=60.0)
    client = redis.Redis(port=redis_server.port)
    room = new_room()
    try:
        subscription = broker.subscribe(room, None)
        for n in range(500):
            broker.publish(room, "u", f"m{n}")
        assert 100 <= client.xlen(KEY_PREFIX + room) < 300  # MAXLEN ~ trims whole nodes
        for key in (KEY_PREFIX + room, COUNT_PREFIX + room):
            assert 0 < client.pttl(key) <= 60_000
        deadline = time.monotonic() + DEADLINE_S
        while not client.exists(PRESENCE_PREFIX + room) and time.monotonic() < deadline:
            subscription.take(0.2)
        assert 0 < client.pttl(PRESENCE_PREFIX + room) <= 60_000
        subscription.close()
    finally:
        broker.close()
        client.close()


def test_rooms_are_freed_on_the_last_leave_and_capped(redis_server: RedisServer) -> None:
    broker = RedisBroker(redis_server.url, max_rooms=2)
    try:
        held = [broker.subscribe(new_room(), None) for _ in range(2)]
        assert broker.count_rooms() == 2
        with pytest.raises(RoomsFull):
            broker.subscribe(new_room(), None)
        with pytest.raises(RoomsFull):
            broker.check_room(new_room())
        broker.check_room(held[0].room.name)
        held[0].close()
        assert broker.count_rooms() == 1
        held.append(broker.subscribe(new_room(), None))
        for subscription in held[1:]:
            subscription.close()
        assert broker.count_rooms() == 0
    finally:
        broker.close()
