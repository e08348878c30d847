"""``GET /relay/stream/sse`` chained twice by configuration (client → r2 → r1 → origin):
events forwarded unchanged, a reconnect with Last-Event-ID resumes through both hops with no
loss and no repeat, 204 passes through, and a client that leaves closes every hop."""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.wire import SOCKET_TIMEOUT_S, fetch_raw, open_raw, read_head

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
CLEANUP_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def chain(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """r1 relays the session server's /stream/sse; r2 relays r1's relay."""
    logs = tmp_path_factory.mktemp("relay-chain")
    r1 = start_server(
        logs / "r1.log",
        env={"SHOWCASE_RELAY_SSE_URL": f"{server.url}/stream/sse", "SHOWCASE_HEARTBEAT_S": "1"},
    )
    try:
        r2 = start_server(
            Path(logs / "r2.log"),
            env={
                "SHOWCASE_RELAY_SSE_URL": f"{r1.url}/relay/stream/sse",
                "SHOWCASE_HEARTBEAT_S": "1",
            },
        )
    except BaseException:
        r1.stop()
        raise
    yield r1, r2
    r2.stop()
    r1.stop()


def without_ts(body: bytes) -> bytes:
    return re.sub(rb'"ts":[0-9.]+', b'"ts":_', body)


@pytest.mark.parametrize("query", ["count=5&interval=0", "count=4&interval=1300&size=3"])
def test_two_hops_forward_the_bytes_unchanged(
    server: RunningServer, chain: tuple[RunningServer, RunningServer], query: str
) -> None:
    """The same events, ids, retry and (for a 1.3 s interval with a 1 s heartbeat) the
    heartbeat comments, byte for byte but for the send times."""
    _, r2 = chain
    status, headers, relayed = fetch_raw(r2.url, f"/relay/stream/sse?{query}")
    assert status == 200
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    status, _, direct = fetch_raw(server.url, f"/stream/sse?{query}")
    assert status == 200
    assert without_ts(relayed) == without_ts(direct)


def read_events(
    response: requests.Response, stop_after: int | None = None
) -> list[ServerSentEvent]:
    parser = SSEParser()
    events: list[ServerSentEvent] = []
    for chunk in response.iter_content(chunk_size=None):
        events += parser.feed(chunk)
        if stop_after is not None and len(events) >= stop_after:
            break
    return events


def test_reconnect_with_last_event_id_resumes_through_both_hops(
    chain: tuple[RunningServer, RunningServer],
) -> None:
    _, r2 = chain
    url = f"{r2.url}/relay/stream/sse?count=30&interval=20"
    with requests.get(url, stream=True, timeout=SOCKET_TIMEOUT_S) as response:
        assert response.status_code == 200
        first = read_events(response, stop_after=7)
    last_id = first[-1].id
    with requests.get(
        url, headers={"Last-Event-ID": last_id}, stream=True, timeout=SOCKET_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        rest = read_events(response)
    ids = [int(event.id) for event in first + rest]
    assert ids == list(range(30))  # no loss, no repeat
    assert [int(e.data.split('"seq":')[1].split(",")[0]) for e in first + rest] == ids


def test_204_passes_through_both_hops(chain: tuple[RunningServer, RunningServer]) -> None:
    _, r2 = chain
    status, _, body = fetch_raw(r2.url, "/relay/stream/sse?count=5", {"Last-Event-ID": "4"})
    assert status == 204
    assert body == b""


def test_client_leaving_closes_every_hop(
    server: RunningServer, chain: tuple[RunningServer, RunningServer]
) -> None:
    r1, r2 = chain
    hops = [server, r1, r2]
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]
    sock = open_raw(r2.url, "/relay/stream/sse?count=100000&interval=100")
    status, _, _ = read_head(sock)
    assert status == 200
    assert [hop.wait_open_streams(1, CLEANUP_DEADLINE_S) for hop in hops] == [1, 1, 1]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    # r2 sees the reset at its next forwarded write, closes r1's stream, which closes the
    # origin's: each within a few of its writes (one every 100 ms here).
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]


def test_head_request_closes_the_upstreams_it_opened(
    server: RunningServer, chain: tuple[RunningServer, RunningServer]
) -> None:
    """A HEAD gets the stream's head and no body, which is never iterated: every hop opened
    its upstream for it, and every one is closed again."""
    r1, r2 = chain
    hops = [server, r1, r2]
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]
    started = [hop.health()["started_streams"] for hop in (server, r1)]
    response = requests.head(
        f"{r2.url}/relay/stream/sse?count=100000&interval=100", timeout=SOCKET_TIMEOUT_S
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.content == b""
    # The hops did open their upstreams (a stream began at r1 and at the origin) ...
    now = [hop.health()["started_streams"] for hop in (server, r1)]
    assert all(after > before for after, before in zip(now, started, strict=True))
    # ... and closed them.
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]


def test_idle_stream_client_leaving_is_seen_within_heartbeats(
    server: RunningServer, chain: tuple[RunningServer, RunningServer]
) -> None:
    """An idle stream (a message every 60 s) carries only the origin's 1 s heartbeats, which
    each hop forwards: they are the writes that find the departed client and then each hop."""
    r1, r2 = chain
    hops = [server, r1, r2]
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]
    sock = open_raw(r2.url, "/relay/stream/sse?count=10&interval=60000")
    status, _, _ = read_head(sock)
    assert status == 200
    assert [hop.wait_open_streams(1, CLEANUP_DEADLINE_S) for hop in hops] == [1, 1, 1]
    sock.close()
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in hops] == [0, 0, 0]


def closed_after(servers: dict[str, RunningServer], deadline_s: float) -> dict[str, float]:
    """Seconds from now until each server's open-stream count is 0 (polled every 20 ms)."""
    start = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < len(servers) and time.monotonic() - start < deadline_s:
        for name, running in servers.items():
            if name not in seen and running.health()["open_streams"] == 0:
                seen[name] = time.monotonic() - start
        time.sleep(0.02)
    return seen


def test_upstream_ends_within_one_heartbeat_of_the_relay(
    server: RunningServer, chain: tuple[RunningServer, RunningServer]
) -> None:
    """An idle stream carries only the origin's heartbeats (1 s here). When r1 lets go of its
    upstream, the origin must notice at its next heartbeat: a FIN would let that write
    succeed and the origin would hold the stream one heartbeat more."""
    r1, _ = chain
    heartbeat_s = 1.0
    assert [hop.wait_open_streams(0, CLEANUP_DEADLINE_S) for hop in (server, r1)] == [0, 0]
    sock = open_raw(r1.url, "/relay/stream/sse?count=10&interval=60000")
    status, _, _ = read_head(sock)
    assert status == 200
    assert [hop.wait_open_streams(1, CLEANUP_DEADLINE_S) for hop in (server, r1)] == [1, 1]
    sock.close()
    seen = closed_after({"relay": r1, "origin": server}, CLEANUP_DEADLINE_S)
    assert set(seen) == {"relay", "origin"}, seen
    # The origin's heartbeat right after the relay's last write is the one that must fail:
    # its count drops about one heartbeat after the relay's, never two.
    assert seen["origin"] - seen["relay"] < 1.5 * heartbeat_s, seen


def test_self_relays_and_wire_view_work_on_another_loopback_address(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A server bound to 127.0.0.2 only: its "self" upstreams and its wire view connect to the
    address that accepted the request, where it listens, not to 127.0.0.1."""
    logs = tmp_path_factory.mktemp("relay-other-address")
    other = start_server(logs / "other.log", extra=["--bind", "127.0.0.2:0"])
    try:
        assert other.url.startswith("http://127.0.0.2:")
        status, _, body = fetch_raw(other.url, "/relay/stream/sse?count=2&interval=0")
        assert status == 200
        parser = SSEParser()
        assert [event.event for event in parser.feed(body)] == ["ticks", "ticks"]
        with requests.post(
            f"{other.url}/v3/chat",
            json={
                "bot_id": "b",
                "user_id": "u",
                "stream": True,
                "speed": 100,
                "additional_messages": [{"role": "user", "content": "hello"}],
            },
            timeout=SOCKET_TIMEOUT_S,
        ) as response:
            assert response.status_code == 200
            events = SSEParser().feed(response.content)
        assert [event.event for event in events][-1] == "done"
        response = requests.get(f"{other.url}/wire/sse?count=2&interval=0", timeout=30)
        assert response.status_code == 200
        wire = response.json()
        assert wire["error"] is None
        assert wire["complete"] is True
        assert wire["request"].startswith("GET /stream/sse?")
    finally:
        other.stop()


def test_read_timeout_counts_the_heartbeat_asked_for(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With a 1 s read timeout, a hop that asks for a 2 s heartbeat waits 2 + 1 s: the
    origin's 2 s of silence between heartbeats is no stall, and both events come through
    (the same derivation lets ``interval=60000&heartbeat=60`` through the default 45 s)."""
    logs = tmp_path_factory.mktemp("relay-timeout")
    relay = start_server(
        logs / "relay.log",
        env={
            "SHOWCASE_RELAY_SSE_URL": f"{server.url}/stream/sse",
            "SHOWCASE_RELAY_READ_TIMEOUT_S": "1",
        },
    )
    try:
        status, _, body = fetch_raw(
            relay.url, "/relay/stream/sse?count=2&interval=3000&heartbeat=2"
        )
    finally:
        relay.stop()
    assert status == 200
    assert b": heartbeat\n\n" in body  # the silence was filled by a heartbeat
    parser = SSEParser()
    assert [event.event for event in parser.feed(body)] == ["ticks", "ticks"]
