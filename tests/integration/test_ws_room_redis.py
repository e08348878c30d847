"""``/ws/room`` on the Redis Streams broker: two servers share one room over WebSockets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from websockets.sync.client import ClientConnection, connect

from benchmarks.infra.hub_redis import RedisServer, start_redis
from showcase.tools.launcher import RunningServer, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WAIT_S = 15.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    redis_server: RedisServer = start_redis(tmp_path_factory.mktemp("redis"))
    env = {"SHOWCASE_HEARTBEAT_S": "1", "SHOWCASE_BROKER": redis_server.url}
    logs = tmp_path_factory.mktemp("ws-redis")
    servers: list[RunningServer] = []
    try:
        servers.append(start_server(logs / "first.log", env=env))
        servers.append(start_server(logs / "second.log", env=env))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        redis_server.stop()


def open_ws(base_url: str, target: str) -> ClientConnection:
    url = "ws://" + base_url.removeprefix("http://") + target
    return connect(url, open_timeout=WAIT_S, compression=None)


def next_of_type(conn: ClientConnection, kind: str) -> dict[str, object]:
    while True:
        frame = json.loads(conn.recv(timeout=WAIT_S))
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


def test_a_send_on_one_server_reaches_the_other_and_resumes_there(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    room = f"room-{uuid.uuid4().hex[:12]}"
    with open_ws(first.url, f"/ws/room?room={room}") as alice:
        next_of_type(alice, "presence")
        with open_ws(second.url, f"/ws/room?room={room}") as bob:
            next_of_type(bob, "presence")
            ids = []
            for text in ("one", "two"):
                bob.send(json.dumps({"type": "send", "user": "bob", "text": text}))
                ids.append(next_of_type(bob, "ack")["id"])
            got = [next_of_type(alice, "message") for _ in ids]
    assert [(m["id"], m["text"]) for m in got] == list(zip(ids, ["one", "two"], strict=True))
    with open_ws(first.url, f"/ws/room?room={room}&last_id={ids[0]}") as late:
        resumed = next_of_type(late, "message")
    assert (resumed["id"], resumed["text"]) == (ids[1], "two")
