"""showcase.tools.wire: labelled segments cover every byte of a capture, and capture() records
each read from a real loopback socket within its byte limit."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from showcase.pure.framing.chunked import encode_chunk, encode_last_chunk
from showcase.tools.wire import build_wire_request, capture, label_segments

HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
BODY = encode_chunk(b"tick 0\n") + encode_chunk(b"tick 1\n") + encode_last_chunk()


def kinds(raw: bytes) -> list[tuple[str, bytes]]:
    segments = label_segments(raw)
    # In order, adjacent, and covering every byte exactly once.
    assert [s.start for s in segments[1:]] == [s.end for s in segments[:-1]]
    assert (segments[0].start, segments[-1].end) == (0, len(raw))
    return [(s.kind, raw[s.start : s.end]) for s in segments]


def test_a_whole_chunked_response_is_labelled() -> None:
    assert kinds(HEAD + BODY) == [
        ("head", HEAD),
        ("size", b"7\r\n"),
        ("data", b"tick 0\n"),
        ("crlf", b"\r\n"),
        ("size", b"7\r\n"),
        ("data", b"tick 1\n"),
        ("crlf", b"\r\n"),
        ("end", b"0\r\n\r\n"),
    ]


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_a_capture_cut_anywhere_still_covers_every_byte(cut: int) -> None:
    labelled = kinds(HEAD + BODY[:cut])
    assert labelled[0] == ("head", HEAD)
    assert b"".join(data for _, data in labelled) == HEAD + BODY[:cut]


def test_an_incomplete_head_and_a_plain_body() -> None:
    assert kinds(b"HTTP/1.1 200 OK\r\nServ") == [("raw", b"HTTP/1.1 200 OK\r\nServ")]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
    assert kinds(head + b"abc") == [("head", head), ("data", b"abc")]
    assert label_segments(b"") == []


def test_a_broken_chunked_body_is_raw() -> None:
    assert kinds(HEAD + b"zz\r\nnope") == [("head", HEAD), ("raw", b"zz\r\nnope")]


def test_build_request_is_a_plain_get() -> None:
    raw = build_wire_request("127.0.0.1", 8000, "/stream/sse", {"count": "2", "source": "ticks"})
    assert raw.startswith(
        b"GET /stream/sse?count=2&source=ticks HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    )
    assert raw.endswith(b"Connection: close\r\n\r\n")
    assert b"Host: [::1]:80\r\n" in build_wire_request("::1", 80, "/", {})


@pytest.fixture
def tiny_server() -> Iterator[tuple[int, list[bytes]]]:
    """Answers one connection with HEAD + BODY in three writes, then closes. How the writes
    fall into reads is the kernel's business: the tests assert content and order only."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received.append(conn.recv(4096))
            try:
                for piece in (HEAD, BODY[:5], BODY[5:]):
                    conn.sendall(piece)
            except OSError:
                pass  # the reader stopped at its limit and closed

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    thread.join(5)
    listener.close()


@pytest.mark.timeout(10)
def test_capture_records_each_read_until_the_server_closes(
    tiny_server: tuple[int, list[bytes]],
) -> None:
    port, received = tiny_server
    request = build_wire_request("127.0.0.1", port, "/x", {})
    result = capture("127.0.0.1", port, request, limit_bytes=4096, timeout_s=5)
    assert result.error is None
    assert result.complete
    assert received == [request]
    # Every byte once, in order, whether the three writes came as one read or several.
    assert result.raw == HEAD + BODY
    assert result.reads and all(read.data for read in result.reads)
    times = [read.t_ms for read in result.reads]
    assert times == sorted(times) and times[0] >= 0


@pytest.mark.timeout(10)
def test_capture_stops_at_the_limit(tiny_server: tuple[int, list[bytes]]) -> None:
    port, _ = tiny_server
    result = capture(
        "127.0.0.1", port, build_wire_request("127.0.0.1", port, "/", {}), limit_bytes=10
    )
    assert result.raw == HEAD[:10]
    assert not result.complete


def test_capture_refuses_other_hosts() -> None:
    with pytest.raises(ValueError, match="host name"):
        capture("example.com", 80, b"GET / HTTP/1.1\r\n\r\n")


@pytest.mark.timeout(10)
def test_capture_reports_a_refused_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = capture("127.0.0.1", port, b"GET / HTTP/1.1\r\n\r\n", timeout_s=2)
    assert result.error is not None and "ConnectionRefused" in result.error
    assert result.reads == []
