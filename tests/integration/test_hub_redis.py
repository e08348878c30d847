"""The Redis Streams broker with a real redis-server and two gunicorn servers sharing it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks.infra.hub_redis import RedisServer, start_redis
from showcase.hub.redis_broker import RedisBroker
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.hub_reader import RoomReader, data, messages, post
from tests.integration.wire import stalled_client

pytestmark = pytest.mark.integration

LOG_COUNT = 500  # XADD MAXLEN ~ trims whole nodes (100 entries): the log holds 500 to 600


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
        "SHOWCASE_HUB_QUEUE_LIMIT": "16",
        "SHOWCASE_SEND_TIMEOUT_S": "2",
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


def test_presence_counts_the_room_over_every_server(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    """Each process writes its count of the room to Redis and reads the others' (about once a
    second): every subscriber sees the room's total, not its own process's."""
    first, second = pair
    room = new_room()
    readers = [RoomReader(first.url, room), RoomReader(second.url, room)]
    try:
        readers.append(RoomReader(second.url, room))
        for reader in readers:
            reader.until_count(3)
        readers.pop().close()
        for reader in readers:
            reader.until_count(2)
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
        ids = [post(session, first.url, room, f"m{n}") for n in range(1000)]
    reader = RoomReader(first.url, room, last_event_id=ids[0])
    try:
        events = reader.until_id(ids[-1])
    finally:
        reader.close()
    assert events[0].event == "reset"
    replayed = messages(events)
    assert LOG_COUNT <= len(replayed) < 999
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


def test_a_stalled_subscriber_is_cut_while_a_fast_one_on_the_other_server_gets_all(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    """The stalled one and a fast one on the second server (one worker), a fast one on the
    first; 1,200 messages of 4,000 bytes published through the first server."""
    first, second = pair
    room, burst = new_room(), 1200
    fast = [RoomReader(first.url, room), RoomReader(second.url, room)]
    for reader in fast:
        reader.until(lambda e: e.event == "presence")
    stalled = stalled_client(second.url, f"/chat/events?room={room}")
    received: list[list[str]] = [[], []]
    counts: list[int] = []  # presence seen on the second server
    try:
        fast[1].until_count(3)  # the room's, over both servers

        def read(index: int) -> None:
            while len(received[index]) < burst:
                event = fast[index].next_event()
                if event.event == "message":
                    received[index].append(data(event)["text"][:8])
                elif event.event == "presence" and index == 1:
                    counts.append(data(event)["count"])

        readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in (0, 1)]
        for thread in readers:
            thread.start()
        with requests.Session() as session:
            for n in range(burst):
                post(session, first.url, room, f"{n:08d}" + "x" * 3992)
        for thread in readers:
            thread.join(60)
            assert not thread.is_alive()
        assert received == [[f"{n:08d}" for n in range(burst)]] * 2
        if counts[-1:] != [2]:  # the stalled one left the room
            fast[1].until_count(2)
    finally:
        stalled.close()
        for reader in fast:
            reader.close()
    assert "Traceback" not in second.log()


def test_a_reader_behind_the_log_ends_its_streams_instead_of_skipping(
    redis_server: RedisServer,
) -> None:
    """The process's reader is held back while 500 messages go into a log of about 100: the
    entries it never read are gone, so its subscribers get an error, not a silent gap."""
    broker = RedisBroker(redis_server.url, log_count=1, queue_limit=10_000)
    room = new_room()
    subscription = broker.subscribe(room, None)
    broker.publish(room, "u", "first")
    received = [e for e in subscription.take(10) if e.event == "message"]
    while not received:
        received = [e for e in subscription.take(10) if e.event == "message"]
    with broker._lock:  # the reader cannot hand anything out meanwhile
        for n in range(500):
            broker.publish(room, "u", f"m{n}")
    events = []
    while subscription.cut_reason is None and len(events) < 1000:
        events += subscription.take(10)
    assert subscription.cut_error
    assert subscription.cut_reason == "missed messages: reconnect to resume"
    subscription.close()
    broker.close()
    assert broker._reader is not None and not broker._reader.is_alive()
