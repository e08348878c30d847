"""The relay hop's raw upstream reader against a scripted socket server: the request it
sends, a chunked body decoded read by read, and each way an upstream fails."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from showcase.chat.forward import UpstreamError
from showcase.chat.hop_upstream import RECV_BYTES, build_hop_request, connect, open_hop
from showcase.chat.upstream import Upstream
from showcase.tools.response_head import MAX_HEAD_BYTES

OK_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@contextmanager
def scripted(answer: Callable[[socket.socket, bytes], None]) -> Iterator[tuple[str, list[bytes]]]:
    """A one-connection server on 127.0.0.1: reads the request head, hands the socket to
    ``answer``; yields its URL and the requests it saw."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            seen.append(head)
            answer(conn, head)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/stream/sse?from=config", seen
    finally:
        listener.close()
        thread.join(5)


def chunks(*parts: bytes) -> bytes:
    return b"".join(b"%X\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_request_carries_the_configured_query_and_params_and_refuses_header_injection() -> None:
    request = build_hop_request("/s", "a=1", "h:1", {"count": "5"}, {"Last-Event-ID": "7"})
    assert request.startswith(b"GET /s?a=1&count=5 HTTP/1.1\r\nHost: h:1\r\n")
    assert b"Last-Event-ID: 7\r\n" in request and request.endswith(b"\r\n\r\n")
    with pytest.raises(ValueError):
        build_hop_request("/s", "", "h", {}, {"Last-Event-ID": "7\r\nX-Evil: 1"})


def test_a_chunked_body_is_decoded_read_by_read() -> None:
    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(OK_HEAD + chunks(b"data: a\n\n", b"data: b\n\n"))

    with scripted(answer) as (url, seen):
        hop = open_hop(Upstream(url), {"count": "2"}, {"Last-Event-ID": "1"})
        assert hop.status_code == 200 and hop.headers["content-type"] == "text/event-stream"
        assert b"".join(hop.iter_chunks()) == b"data: a\n\ndata: b\n\n"
    assert seen[0].startswith(b"GET /stream/sse?from=config&count=2 HTTP/1.1\r\n")
    assert b"\r\nLast-Event-ID: 1\r\n" in seen[0]
    assert hop.sock is None  # closed at the end of the body


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (OK_HEAD + b"9\r\ndata: a\n\n\r\n", "upstream_broken"),  # closed before the last chunk
        (OK_HEAD + b"zz\r\n", "upstream_broken"),  # not a chunk size
    ],
)
def test_a_body_that_breaks_is_an_upstream_error(reply: bytes, reason: str) -> None:
    with scripted(lambda conn, head: conn.sendall(reply)) as (url, _):
        hop = open_hop(Upstream(url), {}, {})
        with pytest.raises(UpstreamError) as caught:
            list(hop.iter_chunks())
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"", "upstream_refused"),  # closed without an answer
        (b"SSH-2.0-OpenSSH\r\n\r\n", "upstream_invalid"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "upstream_invalid"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * MAX_HEAD_BYTES, "upstream_invalid"),
        # RFC 9112 §2.2, RFC 9110 §5.5: a bare LF or CR, or a NUL, in a field is refused.
        (b"HTTP/1.1 404 Not Found\r\nContent-Type: a/b\nX-Evil: 1\r\n\r\n", "upstream_invalid"),
        (b"HTTP/1.1 404 Not Found\r\nContent-Type: a/b\rX-Evil: 1\r\n\r\n", "upstream_invalid"),
        (b"HTTP/1.1 404 Not Found\r\nContent-Type: a/b\0\r\n\r\n", "upstream_invalid"),
        (b"HTTP/1.1 200 OK\nX: 1\r\n\r\n", "upstream_invalid"),
    ],
)
def test_a_bad_head_is_an_upstream_error(reply: bytes, reason: str) -> None:
    with scripted(lambda conn, head: conn.sendall(reply)) as (url, _):
        with pytest.raises(UpstreamError) as caught:
            open_hop(Upstream(url), {}, {})
    assert caught.value.reason == reason


def test_a_stalled_upstream_times_out_and_a_closed_port_is_refused() -> None:
    done = threading.Event()

    def stall(conn: socket.socket, head: bytes) -> None:
        conn.sendall(OK_HEAD + chunks(b"data: a\n\n")[:-5])  # no last chunk: then silence
        done.wait(5)

    with scripted(stall) as (url, _):
        hop = open_hop(Upstream(url, read_timeout_s=0.3), {}, {})
        pieces = hop.iter_chunks()
        assert next(pieces) == b"data: a\n\n"
        with pytest.raises(UpstreamError) as caught:
            next(pieces)
        done.set()
    assert caught.value.reason == "upstream_timeout"
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    with pytest.raises(UpstreamError) as refused:
        open_hop(Upstream(f"http://127.0.0.1:{port}/"), {}, {})
    assert refused.value.reason == "upstream_refused"


def test_a_short_answer_is_read_whole_and_bounded() -> None:
    body = b'{"error": "no"}'
    reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(reply + b"trailing bytes past Content-Length")
        with contextlib.suppress(ConnectionResetError):  # the reader's close is a reset
            conn.recv(1)  # keeps the connection open: the length, not the close, ends the body

    with scripted(answer) as (url, _):
        hop = open_hop(Upstream(url, read_timeout_s=2), {}, {})
        assert hop.status_code == 404 and hop.read_small() == body


def test_an_address_is_connected_to_without_a_lookup_and_a_name_is_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def no_lookup(*args: object, **kwargs: object) -> None:
            raise AssertionError("an IP address needs no lookup")

        with monkeypatch.context() as patched:
            patched.setattr(socket, "getaddrinfo", no_lookup)
            with connect("127.0.0.1", port, 2.0) as sock:
                assert sock.getpeername() == ("127.0.0.1", port)
        with connect("localhost", port, 2.0) as sock:  # a name: resolved as usual
            assert sock.getpeername()[1] == port
    with pytest.raises(ConnectionRefusedError):
        connect("127.0.0.1", port, 2.0)  # closed now: refused, and the socket closed


def test_a_204_has_no_body_whatever_the_upstream_does_next() -> None:
    """RFC 9112 §6.3: a 204 ends at its head. With no Content-Length the reader must not
    wait for the upstream to close: here it holds the connection until the reader is done."""
    done = threading.Event()
    released: list[bool] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 204 No Content\r\nX-Seen: 1\r\n\r\n")
        released.append(done.wait(5))

    with scripted(answer) as (url, _):
        hop = open_hop(Upstream(url, read_timeout_s=30), {}, {})
        assert hop.status_code == 204
        assert hop.read_small() == b""
        done.set()
    assert released == [True]  # the answer came while the upstream still held on


def test_a_huge_declared_chunk_is_read_as_it_arrives_in_bounded_pieces() -> None:
    """A chunk declared at 1 GiB: its first bytes come out before the rest exists, and no
    piece is larger than one bounded read."""
    done = threading.Event()
    released: list[bool] = []

    def answer(conn: socket.socket, head: bytes) -> None:
        conn.sendall(OK_HEAD + b"40000000\r\n" + b"data: a\n\n")
        released.append(done.wait(5))
        conn.sendall(b": " + b"x" * (3 * RECV_BYTES) + b"\n\n")

    with scripted(answer) as (url, _):
        hop = open_hop(Upstream(url, read_timeout_s=5), {}, {})
        pieces = hop.iter_chunks()
        assert next(pieces) == b"data: a\n\n"
        done.set()
        sizes: list[int] = []
        with pytest.raises(UpstreamError) as caught:  # the chunk never ends: the upstream closes
            for piece in pieces:
                sizes.append(len(piece))
        assert caught.value.reason == "upstream_broken"
    assert released == [True]
    assert sum(sizes) == 3 * RECV_BYTES + 4 and max(sizes) <= RECV_BYTES
