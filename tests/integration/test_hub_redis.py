"""The Redis Streams broker with a real redis-server and two gunicorn servers sharing it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.launcher import RunningServer, start_server
from tests.integration.hub_reader import RoomReader, data, messages, post
from tests.integration.redis_server import RedisServer, start_redis

pytestmark = pytest.mark.integration

LOG_COUNT = 5  # XADD MAXLEN ~ trims whole nodes: the log holds at least this many


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, redis_server: RedisServer
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two servers on one Redis: the first with two workers, the second with one."""
    env = {
        "SHOWCASE_DATA_DIR": str(data_dir),
        "SHOWCASE_HEARTBEAT_S": "1",
        "SHOWCASE_BROKER": redis_server.url,
        "SHOWCASE_HUB_LOG_COUNT": str(LOG_COUNT),
    }
    logs = tmp_path_factory.mktemp("hub-redis")
    first = start_server(logs / "first.log", workers=2, env=env)
    try:
        second = start_server(logs / "second.log", env=env)
    except BaseException:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def test_a_message_posted_to_one_server_reaches_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    room = new_room()
    readers = [RoomReader(first.url, room), RoomReader(second.url, room)]
    try:
        for reader in readers:
            reader.until(lambda e: e.event == "presence")
        with requests.Session() as session:
            ids = [post(session, server.url, room, f"m{n}") for n, server in enumerate(pair * 2)]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        for reader in readers:
            got = messages(reader.until_id(ids[-1]))
            assert got == [(i, f"m{n}") for n, i in enumerate(ids)]
    finally:
        for reader in readers:
            reader.close()


def test_resume_on_either_server(pair: tuple[RunningServer, RunningServer]) -> None:
    first, second = pair
    room = new_room()
    with requests.Session() as session:
        seen = post(session, first.url, room, "seen")
        missed = [post(session, first.url, room, f"m{n}") for n in range(3)]
    expected = [(i, f"m{n}") for n, i in enumerate(missed)]
    for server in pair:
        reader = RoomReader(server.url, room, last_event_id=seen)
        try:
            events = reader.until_id(expected[-1][0])
            assert messages(events) == expected
            assert "reset" not in [e.event for e in events]
            with requests.Session() as session:
                live = post(session, second.url, room, f"live on {server.url}")
            assert messages(reader.until_id(live)) == [(live, f"live on {server.url}")]
            expected.append((live, f"live on {server.url}"))
        finally:
            reader.close()


def test_reset_when_the_id_fell_out_of_the_log(
    pair: tuple[RunningServer, RunningServer], redis_server: RedisServer
) -> None:
    first, _ = pair
    room = new_room()
    with requests.Session() as session:
        ids = [post(session, first.url, room, f"m{n}") for n in range(300)]
    reader = RoomReader(first.url, room, last_event_id=ids[0])
    try:
        events = reader.until_id(ids[-1])
    finally:
        reader.close()
    assert events[0].event == "reset"
    replayed = messages(events)
    assert 0 < len(replayed) < 299
    assert data(events[0])["oldest"] == replayed[0][0]
    assert replayed == [(i, f"m{n}") for n, i in enumerate(ids)][-len(replayed) :]


def test_redis_gone_gets_503_and_an_error_event_and_back_again(
    tmp_path: Path, data_dir: Path
) -> None:
    """Redis stopped mid-stream: a publish answers 503 (refused connection: nothing stored), an
    open stream gets ``event: error`` and ends; a Redis started again on the same port serves
    both again, and a client resuming from an id of the lost log gets a reset, not silence."""
    store = start_redis(tmp_path / "redis")
    server = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_BROKER": store.url,
        },
    )
    room = new_room()
    try:
        reader = RoomReader(server.url, room)
        try:
            reader.until(lambda e: e.event == "presence")
            with requests.Session() as session:
                before = post(session, server.url, room, "before")
            reader.until_id(before)
            store.stop()
            error = reader.until(lambda e: e.event == "error")[-1]
            assert "redis" in data(error)["reason"]
            assert list(reader.chunks) == []  # then the stream ends
        finally:
            reader.close()
        refused = requests.post(
            f"{server.url}/chat/send",
            json={"room": room, "user": "u", "text": "lost"},
            timeout=30,
        )
        assert refused.status_code == 503
        assert refused.json()["error"] == "service unavailable"
        store = start_redis(tmp_path / "redis-again", port=store.port)
        back = RoomReader(server.url, room, last_event_id=before)
        try:
            with requests.Session() as session:
                after = post(session, server.url, room, "after")
            events = back.until_id(after)
        finally:
            back.close()
        assert events[0].event == "reset"  # the log went with the old Redis (no persistence)
        assert messages(events) == [(after, "after")]  # and "lost" was never stored
    finally:
        server.stop()
        store.stop()
    assert "Traceback" not in server.log()
