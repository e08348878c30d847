"""The download benchmark's figures against a tiny local HTTP server that can lie: a body cut
short must not count as complete, MB/s counts the bytes that arrived, chunked bodies count
their payload, and the client's CPU is the transfer's alone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import download

pytestmark = pytest.mark.timeout(30)
SIZE = 1 << 20


def serve_once(response: bytes) -> Iterator[str]:
    """A listening socket that answers one request with ``response`` and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(response)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        thread.join(10)
        listener.close()


def fixed(body: bytes, length: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + body


def chunked(body: bytes, *, last: bool = True, piece: int = 100_000) -> bytes:
    out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for start in range(0, len(body), piece):
        data = body[start : start + piece]
        out.append(b"%X\r\n" % len(data) + data + b"\r\n")
    out.append(b"0\r\n\r\n" if last else b"")
    return b"".join(out)


def measure(response: bytes, size: int = SIZE) -> dict[str, Any]:
    for url in serve_once(response):
        return download.measure_route("test", url, "/file", size, [])
    raise AssertionError("unreachable")


def complete_count(point: dict[str, Any]) -> int:
    summary = download.summarize_runs([{"run": 0, "points": [point]}])
    return int(summary["test"]["complete"])


def test_a_whole_body_is_complete() -> None:
    point = measure(fixed(b"x" * SIZE, SIZE))
    assert point["status"] == 200
    assert point["bytes"] == SIZE
    assert complete_count(point) == 1


def test_a_body_cut_short_is_not_complete_and_mb_per_s_counts_what_arrived() -> None:
    point = measure(fixed(b"x" * (SIZE // 2), SIZE))  # the server closes half way
    assert point["status"] == 200
    assert point["bytes"] == SIZE // 2
    assert complete_count(point) == 0
    assert point["mb_per_s"] == pytest.approx(SIZE // 2 / point["seconds"] / 1e6)


def test_a_chunked_body_counts_its_payload_not_its_size_lines() -> None:
    point = measure(chunked(b"y" * SIZE))
    assert point["status"] == 200
    assert point["bytes"] == SIZE
    assert point["wire_bytes"] > SIZE  # chunk-size lines and CRLFs
    assert complete_count(point) == 1


def test_a_chunked_body_without_its_last_chunk_is_not_complete() -> None:
    point = measure(chunked(b"y" * SIZE, last=False))
    assert point["status"] == 200
    assert point["bytes"] == SIZE
    assert complete_count(point) == 0


def test_client_cpu_leaves_out_starting_the_memory_watcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    burned_s = 0.2

    class SlowWatch(download.RssWatch):
        def __enter__(self) -> download.RssWatch:
            started = time.process_time()
            while time.process_time() - started < burned_s:
                pass  # starting a watcher that costs the client CPU
            return super().__enter__()

    monkeypatch.setattr(download, "RssWatch", SlowWatch)
    point = measure(fixed(b"x" * SIZE, SIZE))
    assert point["status"] == 200
    assert point["client_cpu_share"] * point["seconds"] < burned_s
