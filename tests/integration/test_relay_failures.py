"""Relays whose upstream fails or is hostile: refuses, answers an error status, dies
mid-stream, stalls past the read timeout, or sends something else. Known before the first
byte, the client gets 502 (504 for a timeout) with a JSON body; after it, ``event: error``
with a JSON reason, the body ends cleanly (the chunked terminator). No stream is left open.
Upstreams come only from configuration: a URL or host in a request reaches nothing."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from showcase.pure.framing.sse import SSEParser
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.wire import SOCKET_TIMEOUT_S, fetch_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
STALL_S = 5.0  # a stalling upstream holds its connection this long, then closes (bounded)
READ_TIMEOUT_S = "0.5"  # the relays' read timeout here
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
DELTA = b'event: conversation.message.delta\ndata: {"content": "Hi, th"}\n\n'
DONE = b"event: done\ndata: [DONE]\n\n"
HUGE_RETRY = b"retry: " + b"9" * 5_000 + b"\n\n"  # past Python's 4,300-digit int() limit
TICK = b'event: ticks\nid: 0\ndata: {"seq":0}\n\n'


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class ScriptedUpstream(socketserver.ThreadingTCPServer):
    """A bad upstream, one behaviour per request, chosen by ``q`` (Coze relay) or ``count``
    (SSE relay). Records every request line it gets."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.requests: list[str] = []
        # A held upstream waits for ``release`` (set by a test once its client got what it
        # must get before the upstream goes on), at most STALL_S; ``released`` says which.
        self.release = threading.Event()
        self.released: list[bool] = []

    def hold(self) -> None:
        self.released.append(self.release.wait(STALL_S))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(SOCKET_TIMEOUT_S)
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(4096)
            if not piece:
                return
            head += piece
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        assert isinstance(self.server, ScriptedUpstream)
        self.server.requests.append(line)
        query = parse_qs(urlsplit(line.split()[1]).query)
        behaviour = query.get("q", query.get("count", [""]))[0]
        event = DELTA if "q" in query else TICK
        if behaviour in ("die", "901"):
            sock.sendall(STREAM_HEAD + chunk(event))
            time.sleep(0.05)
        elif behaviour in ("stall", "902"):
            sock.sendall(STREAM_HEAD + chunk(event))
            time.sleep(STALL_S)
        elif behaviour in ("500", "903"):
            body = b'{"error": "boom"}'
            sock.sendall(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(body), body)
            )
        elif behaviour in ("html", "904"):
            body = b"<html>not a stream</html>"
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(body), body)
            )
        elif behaviour == "error":
            error = b'event: error\ndata: {"code": 4100, "msg": "bad bot"}\n\n'
            sock.sendall(STREAM_HEAD + chunk(DELTA) + chunk(error) + b"0\r\n\r\n")
        elif behaviour == "retry":
            body = chunk(DELTA) + chunk(HUGE_RETRY) + chunk(DELTA) + chunk(DONE)
            sock.sendall(STREAM_HEAD + body + b"0\r\n\r\n")
        elif behaviour in ("length", "close"):
            # Not chunked: a Content-Length, or the end of the body is the close.
            length = b"Content-Length: %d\r\n" % (2 * len(DELTA) + len(DONE))
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            head += (length if behaviour == "length" else b"Connection: close\r\n") + b"\r\n"
            sock.sendall(head + DELTA)
            self.server.hold()
            sock.sendall(DELTA + DONE)
        elif behaviour == "huge":
            sock.sendall(STREAM_HEAD + b"40000000\r\n" + DELTA)  # a chunk declared at 1 GiB
            self.server.hold()
        elif behaviour in ("silent", "905"):
            time.sleep(STALL_S)  # no answer at all, then a close
        elif behaviour == "906":
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")  # no length: RFC 9112 §6.3
            self.server.hold()
        elif behaviour in ("lf", "907", "908"):
            bare = b"\r" if behaviour == "908" else b"\n"
            status = b"200 OK" if behaviour == "lf" else b"404 Not Found"
            sock.sendall(
                b"HTTP/1.1 %b\r\nContent-Type: text/event-stream%bX-Evil: 1\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n{}" % (status, bare)
            )
        # Anything else: close with no answer at all.


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    scripted = ScriptedUpstream()
    thread = threading.Thread(target=scripted.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield scripted
    scripted.shutdown()
    scripted.server_close()
    thread.join(10)


def free_port() -> int:
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def relays(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningServer]]:
    """``scripted``: relays reading the scripted upstream; ``refused``: relays whose
    configured upstream has nothing listening."""
    logs = tmp_path_factory.mktemp("relay-failures")
    closed = f"http://127.0.0.1:{free_port()}"
    configs = {"scripted": upstream.url, "refused": closed}
    started: dict[str, RunningServer] = {}
    try:
        for name, base in configs.items():
            started[name] = start_server(
                logs / f"{name}.log",
                env={
                    "SHOWCASE_RELAY_SSE_URL": f"{base}/stream/sse",
                    "SHOWCASE_RELAY_COZE_URL": f"{base}/upstream/mock",
                    "SHOWCASE_RELAY_READ_TIMEOUT_S": READ_TIMEOUT_S,
                    "SHOWCASE_HEARTBEAT_S": "1",
                },
            )
        yield started
    finally:
        for running in started.values():
            running.stop()


def coze_body(prompt: str) -> dict[str, object]:
    return {
        "bot_id": "b",
        "user_id": "u",
        "stream": True,
        "speed": 100,
        "additional_messages": [{"role": "user", "content": prompt, "content_type": "text"}],
    }


def post_coze(base_url: str, body: dict[str, object]) -> list[tuple[str, str]]:
    parser = SSEParser()
    with requests.post(
        f"{base_url}/v3/chat", json=body, stream=True, timeout=SOCKET_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        # A body that does not end with the chunked terminator raises ChunkedEncodingError.
        events = [e for c in response.iter_content(chunk_size=None) for e in parser.feed(c)]
    return [(event.event, event.data) for event in events]


@pytest.mark.parametrize(
    ("relay", "prompt", "status", "reason"),
    [
        ("refused", "hello", 502, "upstream_refused"),
        ("scripted", "500", 502, "upstream_status"),
        ("scripted", "html", 502, "upstream_invalid"),
        ("scripted", "lf", 502, "upstream_invalid"),
        ("scripted", "silent", 504, "upstream_timeout"),
    ],
)
def test_coze_relay_failure_before_the_first_byte_is_a_gateway_status(
    relays: dict[str, RunningServer], relay: str, prompt: str, status: int, reason: str
) -> None:
    response = requests.post(
        f"{relays[relay].url}/v3/chat", json=coze_body(prompt), timeout=SOCKET_TIMEOUT_S
    )
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()
    assert error["code"] == 5000 and error["reason"] == reason and error["msg"]
    assert relays[relay].wait_open_streams(0) == 0


@pytest.mark.parametrize(
    ("prompt", "reason", "typed"),
    [
        ("die", "upstream_broken", "Hi, th"),
        ("stall", "upstream_timeout", "Hi, th"),
        ("error", "upstream_error", "Hi, th"),
    ],
)
def test_coze_relay_failure_after_the_first_byte_is_an_error_event(
    relays: dict[str, RunningServer], prompt: str, reason: str, typed: str
) -> None:
    events = post_coze(relays["scripted"].url, coze_body(prompt))
    kinds = [kind for kind, _ in events]
    assert kinds == ["conversation.message.delta"] * len(typed) + ["error"]
    assert "".join(json.loads(data)["content"] for _, data in events[:-1]) == typed
    error = json.loads(events[-1][1])
    assert error["reason"] == reason
    assert error["msg"]
    assert relays["scripted"].wait_open_streams(0) == 0


def test_coze_relay_carries_on_past_a_retry_field_of_thousands_of_digits(
    relays: dict[str, RunningServer],
) -> None:
    """The parser ignores the field; the answer is typed whole and ends with ``done``."""
    events = post_coze(relays["scripted"].url, coze_body("retry"))
    assert [kind for kind, _ in events] == ["conversation.message.delta"] * 12 + [
        "conversation.message.completed",
        "done",
    ]
    assert json.loads(events[-2][1])["content"] == "Hi, thHi, th"
    assert relays["scripted"].wait_open_streams(0) == 0


def first_delta_then_release(
    base_url: str, prompt: str, upstream: ScriptedUpstream
) -> list[tuple[str, str]]:
    """Post to the Coze relay; release the held upstream once the first delta arrived."""
    upstream.release.clear()
    upstream.released.clear()
    parser = SSEParser()
    events = []
    with requests.post(
        f"{base_url}/v3/chat", json=coze_body(prompt), stream=True, timeout=SOCKET_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        try:
            for piece in response.iter_content(chunk_size=None):
                events += [(e.event, e.data) for e in parser.feed(piece)]
                if events:
                    upstream.release.set()
        except requests.exceptions.ChunkedEncodingError:
            events.append(("broken", ""))
    return events


@pytest.mark.parametrize("prompt", ["length", "close"])
def test_coze_relay_forwards_an_unchunked_body_as_it_arrives(
    relays: dict[str, RunningServer], upstream: ScriptedUpstream, prompt: str
) -> None:
    """The first delta reaches the client while the upstream still holds the rest back."""
    events = first_delta_then_release(relays["scripted"].url, prompt, upstream)
    assert upstream.released == [True]  # released by the client's first event, not by time
    assert [kind for kind, _ in events][-2:] == ["conversation.message.completed", "done"]
    assert json.loads(events[-2][1])["content"] == "Hi, thHi, th"
    assert relays["scripted"].wait_open_streams(0) == 0


def test_coze_relay_reads_a_huge_declared_chunk_in_bounded_pieces(
    relays: dict[str, RunningServer], upstream: ScriptedUpstream
) -> None:
    """A chunk declared at 1 GiB: its first delta goes out before the chunk is whole (it
    never is: the upstream closes, and the stream ends with its error event)."""
    events = first_delta_then_release(relays["scripted"].url, "huge", upstream)
    assert upstream.released == [True]
    assert [kind for kind, _ in events] == ["conversation.message.delta"] * 6 + ["error"]
    assert json.loads(events[-1][1])["reason"] == "upstream_broken"
    assert relays["scripted"].wait_open_streams(0) == 0


@pytest.mark.parametrize(
    ("relay", "count", "status", "reason"),
    [
        ("refused", 5, 502, "upstream_refused"),
        ("scripted", 903, 502, "upstream_status"),
        ("scripted", 904, 502, "upstream_invalid"),
        ("scripted", 905, 504, "upstream_timeout"),
        ("scripted", 907, 502, "upstream_invalid"),  # a bare LF in a header
        ("scripted", 908, 502, "upstream_invalid"),  # a bare CR in a header
    ],
)
def test_sse_relay_failure_before_the_first_byte_is_a_gateway_status(
    relays: dict[str, RunningServer], relay: str, count: int, status: int, reason: str
) -> None:
    """As nginx answers: an EventSource does not reconnect after a 502 or a 504."""
    got, headers, body = fetch_raw(relays[relay].url, f"/relay/stream/sse?count={count}")
    assert got == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == reason and error["field"] == "upstream" and error["detail"]
    assert relays[relay].wait_open_streams(0) == 0


@pytest.mark.parametrize(
    ("count", "reason", "forwarded"),
    [(901, "upstream_broken", 1), (902, "upstream_timeout", 1)],
)
def test_sse_relay_failure_after_the_first_byte_is_an_error_event(
    relays: dict[str, RunningServer], count: int, reason: str, forwarded: int
) -> None:
    status, headers, body = fetch_raw(relays["scripted"].url, f"/relay/stream/sse?count={count}")
    assert status == 200  # fetch_raw asserted the chunked terminator: a clean end
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    parser = SSEParser()
    events = parser.feed(body) + parser.close()
    assert [event.event for event in events] == ["ticks"] * forwarded + ["error"]
    assert json.loads(events[-1].data)["reason"] == reason
    assert relays["scripted"].wait_open_streams(0) == 0


def test_sse_relay_passes_a_204_on_without_waiting_for_the_upstream_to_close(
    relays: dict[str, RunningServer], upstream: ScriptedUpstream
) -> None:
    """A 204 with no Content-Length ends at its head: the relay answers while the upstream
    still holds the connection (the heartbeat asked for makes the read timeout long)."""
    upstream.release.clear()
    upstream.released.clear()
    status, headers, body = fetch_raw(
        relays["scripted"].url, "/relay/stream/sse?count=906&heartbeat=30"
    )
    upstream.release.set()
    assert status == 204
    assert body == b""
    assert wait_until(lambda: upstream.released == [True])


def wait_until(predicate: Callable[[], bool], timeout_s: float = STALL_S + 1) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_no_host_is_taken_from_the_request(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A relay configured on the session server's stream; a canary upstream's URL put in
    the body, the query and the headers is never connected to."""
    canary = ScriptedUpstream()
    thread = threading.Thread(target=canary.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        logs = tmp_path_factory.mktemp("relay-canary")
        relay = start_server(
            logs / "relay.log",
            env={
                "SHOWCASE_RELAY_SSE_URL": f"{server.url}/stream/sse",
                "SHOWCASE_RELAY_COZE_URL": f"{server.url}/upstream/mock",
            },
        )
        try:
            evil = canary.url
            host = evil.removeprefix("http://")
            headers = {"Host": host, "X-Forwarded-Host": host, "Forwarded": f"host={host}"}
            response = requests.get(
                f"{relay.url}/relay/stream/sse?count=2&interval=0&url={evil}&upstream={evil}",
                headers=headers,  # requests sends this Host instead of its own
                timeout=SOCKET_TIMEOUT_S,
            )
            assert response.status_code == 200
            assert response.text.count("event: ticks") == 2
            body_with_urls = {
                **coze_body("hello"),
                "url": evil,
                "upstream": evil,
                "base_url": evil,
                "host": host,
            }
            events = post_coze(relay.url, body_with_urls)
            assert events[-1][0] == "done"
        finally:
            relay.stop()
    finally:
        canary.shutdown()
        canary.server_close()
        thread.join(10)
    assert canary.requests == []
