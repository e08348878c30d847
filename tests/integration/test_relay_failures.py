"""Relays whose upstream fails: refuses, answers an error status, dies mid-stream, stalls
past the read timeout, or sends something else. The client gets ``event: error`` with a
JSON reason, the body ends cleanly (the chunked terminator), and no stream is left open.
Upstreams come only from configuration: a URL or host in a request reaches nothing."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from showcase.framing.sse import SSEParser
from showcase.launcher import RunningServer, start_server
from tests.integration.wire import SOCKET_TIMEOUT_S, fetch_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
STALL_S = 5.0  # a stalling upstream holds its connection this long, then closes (bounded)
READ_TIMEOUT_S = "0.5"  # the relays' read timeout here
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
DELTA = b'event: conversation.message.delta\ndata: {"content": "Hi, th"}\n\n'
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
    ("relay", "prompt", "reason", "typed"),
    [
        ("refused", "hello", "upstream_refused", ""),
        ("scripted", "500", "upstream_status", ""),
        ("scripted", "html", "upstream_invalid", ""),
        ("scripted", "die", "upstream_broken", "Hi, th"),
        ("scripted", "stall", "upstream_timeout", "Hi, th"),
        ("scripted", "error", "upstream_error", "Hi, th"),
    ],
)
def test_coze_relay_failure_is_an_error_event(
    relays: dict[str, RunningServer], relay: str, prompt: str, reason: str, typed: str
) -> None:
    events = post_coze(relays[relay].url, coze_body(prompt))
    kinds = [kind for kind, _ in events]
    assert kinds == ["conversation.message.delta"] * len(typed) + ["error"]
    assert "".join(json.loads(data)["content"] for _, data in events[:-1]) == typed
    error = json.loads(events[-1][1])
    assert error["reason"] == reason
    assert error["msg"]
    assert relays[relay].wait_open_streams(0) == 0


@pytest.mark.parametrize(
    ("relay", "count", "reason", "forwarded"),
    [
        ("refused", 5, "upstream_refused", 0),
        ("scripted", 903, "upstream_status", 0),
        ("scripted", 904, "upstream_invalid", 0),
        ("scripted", 901, "upstream_broken", 1),
        ("scripted", 902, "upstream_timeout", 1),
    ],
)
def test_sse_relay_failure_is_an_error_event(
    relays: dict[str, RunningServer], relay: str, count: int, reason: str, forwarded: int
) -> None:
    status, headers, body = fetch_raw(relays[relay].url, f"/relay/stream/sse?count={count}")
    assert status == 200  # fetch_raw asserted the chunked terminator: a clean end
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    parser = SSEParser()
    events = parser.feed(body) + parser.close()
    assert [event.event for event in events] == ["ticks"] * forwarded + ["error"]
    assert json.loads(events[-1].data)["reason"] == reason
    assert relays[relay].wait_open_streams(0) == 0


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
