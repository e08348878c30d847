"""Every failure of the Python clients is a ClientError: requests' exceptions and the
parsers' errors are mapped at one boundary (``map_request_errors``), each to the subclass
that says what went wrong, with the original as the cause and a one-line message."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

import showcase.tools.client
from showcase.pure.framing.ndjson import NDJSONError
from showcase.pure.framing.sse import SSEError
from showcase.tools.client import (
    BrokenStreamError,
    ClientError,
    ConnectError,
    HTTPStatusError,
    InvalidURLError,
    MalformedStreamError,
    ReadTimeoutError,
    iter_chunks,
    iter_ndjson,
    iter_sse,
    map_request_errors,
)
from tests.hostile_server import HostileServer

pytestmark = pytest.mark.timeout(20)

BASE = "http://127.0.0.1:9"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
# Chunked: each chunk reaches the reader as it comes (a body read to its close would not).
CHUNKED_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
NDJSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"


def refused() -> requests.ConnectionError:
    """A ConnectionError shaped like requests' own: the OSError deep in its chain."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise requests.ConnectionError("HTTPConnectionPool(...): Max retries") from inner
    except requests.ConnectionError as error:
        return error


@pytest.mark.parametrize(
    ("raised", "mapped", "words"),
    [
        (requests.exceptions.MissingSchema("no scheme"), InvalidURLError, ["http://HOST:PORT"]),
        (requests.exceptions.InvalidSchema("no adapter"), InvalidURLError, ["http://HOST:PORT"]),
        (requests.exceptions.InvalidURL("no host"), InvalidURLError, [repr(BASE)]),
        (requests.ConnectTimeout("slow"), ConnectError, ["no connection within 5 s"]),
        (refused(), ConnectError, ["cannot connect", "Connection refused"]),
        (requests.ReadTimeout("read"), ReadTimeoutError, ["120 s"]),
        (
            requests.ConnectionError(Urllib3ReadTimeout(None, "/", "Read timed out.")),
            ReadTimeoutError,  # how iter_content reports a read timeout in the body
            ["120 s"],
        ),
        (requests.exceptions.ChunkedEncodingError("cut"), BrokenStreamError, ["broke"]),
        (requests.exceptions.ContentDecodingError("gzip"), BrokenStreamError, ["broke"]),
        (requests.exceptions.InvalidHeader("CR in value"), ClientError, ["CR in value"]),
        (SSEError("SSE line longer than 10 characters"), MalformedStreamError, ["longer"]),
        (NDJSONError(3, "invalid JSON: x"), MalformedStreamError, ["line 3"]),
    ],
)
def test_each_failure_maps_to_its_client_error(
    raised: Exception, mapped: type[ClientError], words: list[str]
) -> None:
    with pytest.raises(ClientError) as caught, map_request_errors(BASE, 120.0):
        raise raised
    assert type(caught.value) is mapped
    assert caught.value.__cause__ is raised
    message = str(caught.value)
    assert "\n" not in message
    assert all(word in message for word in words), message


def test_client_errors_pass_through_and_bugs_are_not_hidden() -> None:
    original = HTTPStatusError("a 404", 404)
    with pytest.raises(HTTPStatusError) as caught, map_request_errors(BASE, 120.0):
        raise original
    assert caught.value is original
    with pytest.raises(KeyError), map_request_errors(BASE, 120.0):
        raise KeyError("a bug stays a bug")


def test_a_message_is_one_line() -> None:
    assert str(ClientError("the server said:\n  nothing\r\nuseful")) == (
        "the server said: nothing useful"
    )


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1:8000", "ftp://127.0.0.1", "http://"])
@pytest.mark.parametrize("reader", [iter_sse, iter_ndjson, iter_chunks])
def test_a_url_without_scheme_or_host_is_an_invalid_url_error(url: str, reader: object) -> None:
    with pytest.raises(InvalidURLError, match="http://HOST:PORT"):
        list(reader(url, {}))  # type: ignore[operator]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    recorded: list[float] = []
    test_thread = threading.current_thread()
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread() is test_thread:
            recorded.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(showcase.tools.client.time, "sleep", sleep)
    yield recorded


def test_reconnecting_does_not_retry_a_url_it_cannot_open(sleeps: list[float]) -> None:
    with pytest.raises(InvalidURLError):
        list(iter_sse("localhost:8000", {}, reconnect=True))
    assert sleeps == []


def test_reconnecting_does_not_retry_a_malformed_stream(sleeps: list[float]) -> None:
    with HostileServer(SSE_HEAD + b"data: " + b"x" * (1 << 20) + b"\n\n") as hostile:
        with pytest.raises(MalformedStreamError, match="longer"):
            list(iter_sse(hostile.url, {}, reconnect=True))
    assert sleeps == []


def test_a_silent_server_is_a_read_timeout_before_the_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(showcase.tools.client, "READ_TIMEOUT_S", 0.3)
    with HostileServer(None) as silent:
        with pytest.raises(ReadTimeoutError, match="0.3 s") as caught:
            list(iter_sse(silent.url, {}))
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)


def test_a_server_that_stops_sending_is_a_read_timeout_in_the_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(showcase.tools.client, "READ_TIMEOUT_S", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        received: list[str] = []

        def answer_then_stall() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                event = b"id: 0\ndata: {}\n\n"
                conn.sendall(CHUNKED_SSE_HEAD + b"%x\r\n%s\r\n" % (len(event), event))
                conn.recv(1)  # until the client leaves

        thread = threading.Thread(target=answer_then_stall, daemon=True)
        thread.start()
        with pytest.raises(ReadTimeoutError, match="0.3 s"):
            for event in iter_sse(url, {}):
                received.append(event.id)
        thread.join(5)
    assert received == ["0"]


def test_a_malformed_ndjson_line_is_a_malformed_stream_error() -> None:
    answer = NDJSON_HEAD + b'{"seq": 0}\n{"seq": 1, oops}\n'
    with HostileServer(answer) as hostile:
        with pytest.raises(MalformedStreamError, match="line 2") as caught:
            list(iter_ndjson(hostile.url, {}))
    assert isinstance(caught.value.__cause__, NDJSONError)


def test_a_cut_last_ndjson_line_is_a_malformed_stream_error() -> None:
    with HostileServer(NDJSON_HEAD + b'{"seq": 0}\n{"seq": 1, "ts"') as hostile:
        with pytest.raises(MalformedStreamError, match="line 2"):
            list(iter_ndjson(hostile.url, {}))


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        with pytest.raises(ConnectError, match="Connection refused"):
            list(iter_chunks(url, {}))


def test_the_error_classes_are_exported() -> None:
    exported = set(showcase.tools.client.__all__)
    for name in ("InvalidURLError", "ConnectError", "ReadTimeoutError", "BrokenStreamError"):
        assert name in exported
    assert "MalformedStreamError" in exported and "map_request_errors" in exported
    for name in exported:
        value = getattr(showcase.tools.client, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, ClientError), name
