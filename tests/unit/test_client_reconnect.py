"""``iter_sse(reconnect=True)`` against a scripted loopback server: it resumes like
EventSource (WHATWG HTML §9.2): the server's retry (capped), Last-Event-ID, stop on 204,
no retry after an HTTP error, and a bounded number of attempts that bring nothing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

import showcase.tools.client
from showcase.tools.client import (
    DEFAULT_RETRY_MS,
    MAX_RETRY_MS,
    ClientError,
    HTTPStatusError,
    ReconnectError,
    iter_sse,
)

pytestmark = pytest.mark.timeout(20)

# No length and not chunked: the body ends when the server closes the connection.
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
SERVER_ERROR = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
    b"Content-Length: 17\r\nConnection: close\r\n\r\n"
    b'{"error": "boom"}'
)


def event(seq: int) -> bytes:
    return f'id: {seq}\nevent: ticks\ndata: {{"seq": {seq}}}\n\n'.encode()


class ScriptedServer:
    """Answers the n-th connection with ``answers[n]`` (raw bytes), then closes it; records
    each request's head. Past the script, connections are refused (the listener closes)."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.requests: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        with self.listener:
            for answer in self.answers:
                conn, _ = self.listener.accept()
                with conn:
                    conn.settimeout(5)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        piece = conn.recv(4096)
                        if not piece:
                            break
                        head += piece
                    self.requests.append(head.decode("latin-1"))
                    conn.sendall(answer)

    def last_event_ids(self) -> list[str | None]:
        """The Last-Event-ID header of every request, in order (None when absent)."""
        found: list[str | None] = []
        for head in self.requests:
            values = [
                line.partition(":")[2].strip()
                for line in head.split("\r\n")
                if line.lower().startswith("last-event-id:")
            ]
            found.append(values[0] if values else None)
        return found


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The client's pauses before each reconnection, in s, recorded instead of slept."""
    recorded: list[float] = []
    test_thread = threading.current_thread()
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        # time.sleep is the process's: another test's leftover thread may call it meanwhile.
        if threading.current_thread() is test_thread:
            recorded.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(showcase.tools.client.time, "sleep", sleep)
    yield recorded


def ids(base_url: str, max_retry_ms: int = MAX_RETRY_MS) -> list[str]:
    events = iter_sse(base_url, {"count": 5}, reconnect=True, max_retry_ms=max_retry_ms)
    return [e.id for e in events]


def test_a_cut_stream_resumes_after_the_last_id_and_stops_on_204(waits: list[float]) -> None:
    server = ScriptedServer(
        [
            SSE_HEAD + b"retry: 40\n\n" + event(0) + event(1) + b"id: 2\ndata: cut here",
            CHUNKED_HEAD + b"%x\r\n" % len(event(2)) + event(2) + b"\r\n",  # no last chunk
            SSE_HEAD + event(3) + event(4),  # a whole body: EventSource reconnects even so
            NO_CONTENT,
        ]
    )
    assert ids(server.url) == ["0", "1", "2", "3", "4"]
    # The half event was never dispatched, so the first resume is after id 1.
    assert server.last_event_ids() == [None, "1", "2", "4"]
    assert waits == [0.04, 0.04, 0.04]  # the server's retry, kept across connections
    assert all(head.startswith("GET /stream/sse?count=5 ") for head in server.requests)


def test_the_retry_is_capped_and_defaults_before_the_server_sets_one(
    waits: list[float],
) -> None:
    server = ScriptedServer(
        [SSE_HEAD + event(0), SSE_HEAD + b"retry: 86400000\n\n" + event(1), NO_CONTENT]
    )
    assert ids(server.url, max_retry_ms=5000) == ["0", "1"]
    assert waits == [DEFAULT_RETRY_MS / 1000, 5.0]


def test_a_given_last_event_id_is_sent_first() -> None:
    server = ScriptedServer([NO_CONTENT])
    assert list(iter_sse(server.url, {}, last_event_id="7", reconnect=True)) == []
    assert server.last_event_ids() == ["7"]


def test_an_http_error_is_not_retried(waits: list[float]) -> None:
    server = ScriptedServer([SSE_HEAD + event(0), SERVER_ERROR])
    received = []
    with pytest.raises(HTTPStatusError) as failed:
        for item in iter_sse(server.url, {}, reconnect=True):
            received.append(item.id)
    assert received == ["0"]
    assert failed.value.status == 500
    assert "boom" in str(failed.value)
    assert len(server.requests) == 2 and len(waits) == 1


def test_it_gives_up_after_attempts_in_a_row_that_bring_nothing(waits: list[float]) -> None:
    # Two events reset the count; then three empty bodies in a row, then a refused port.
    server = ScriptedServer(
        [SSE_HEAD, SSE_HEAD + event(0), SSE_HEAD, SSE_HEAD + b": heartbeat\n\n", SSE_HEAD]
    )
    received = []
    with pytest.raises(ReconnectError) as gave_up:
        for item in iter_sse(server.url, {}, reconnect=True, max_attempts=3):
            received.append(item.id)
    assert received == ["0"]
    assert gave_up.value.attempts == 3
    assert gave_up.value.last_event_id == "0"
    assert "3 connections in a row" in str(gave_up.value)
    assert server.last_event_ids() == [None, None, "0", "0", "0"]
    assert len(waits) == 4


def test_a_server_that_is_down_is_retried_then_reported(waits: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        with pytest.raises(ReconnectError) as gave_up:
            list(iter_sse(url, {}, reconnect=True, max_attempts=4))
    assert isinstance(gave_up.value, ClientError)  # one except clause catches every failure
    assert "cannot connect" in str(gave_up.value)
    assert isinstance(gave_up.value.__cause__, ClientError)
    assert len(waits) == 3  # between the four attempts


def test_without_reconnect_a_cut_stream_raises_and_a_whole_one_ends() -> None:
    server = ScriptedServer([CHUNKED_HEAD + b"%x\r\n" % len(event(0)) + event(0) + b"\r\n"])
    received = []
    with pytest.raises(ClientError, match="broke"):
        for item in iter_sse(server.url, {}):
            received.append(item.id)
    assert received == ["0"]
    whole = ScriptedServer([SSE_HEAD + event(0) + event(1)])
    assert [e.id for e in iter_sse(whole.url, {})] == ["0", "1"]
    assert len(whole.requests) == 1


def test_the_errors_are_exported() -> None:
    exported = set(showcase.tools.client.__all__)
    assert {"ClientError", "HTTPStatusError", "ReconnectError", "iter_sse"} <= exported
    assert all(hasattr(showcase.tools.client, name) for name in exported)
