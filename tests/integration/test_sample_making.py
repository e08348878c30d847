"""Making a sample file on first use (64 MiB here) must not freeze the worker: another stream
of the same worker keeps receiving its paced messages while the sample is written, for the
project's download and for the benchmarks' baseline download alike."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from showcase.tools.launcher import RunningServer, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
SAMPLE = "64MiB.bin"
INTERVAL_MS = 10
COUNT = 1000  # 10 s of messages: longer than any making of the sample


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    """One worker with a data directory of its own (no sample made yet)."""
    data_dir = tmp_path_factory.mktemp("samples")
    log_path = tmp_path_factory.mktemp("sample-server") / "gunicorn.log"
    running = start_server(log_path, env={"SHOWCASE_DATA_DIR": str(data_dir)})
    yield running, data_dir
    running.stop()


class ReadTimes:
    """A paced SSE stream read from a raw socket, the time of each read that carried a
    message kept (``requests`` would wait to fill its chunk)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        target = f"{parts.path}?{parts.query}"
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        self.times: list[float] = []
        self.messages = 0
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                if b"data:" in data:
                    self.times.append(time.monotonic())
                    self.messages += data.count(b"data:")
        except OSError:
            pass

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def longest_gap_s(times: list[float], start: float, end: float) -> float:
    """The longest time between reads across ``start``..``end`` (the reads just outside
    it included, so a freeze over the whole span counts in full)."""
    before = [t for t in times if t < start][-1:]
    inside = [t for t in times if start <= t <= end]
    after = [t for t in times if t > end][:1]
    span = before + inside + after
    return max(b - a for a, b in zip(span, span[1:], strict=False))


@pytest.mark.parametrize("prefix", ["/download", "/baseline/download"])
def test_another_stream_flows_while_a_sample_is_made(
    sample_server: tuple[RunningServer, Path], prefix: str
) -> None:
    server, data_dir = sample_server
    (data_dir / SAMPLE).unlink(missing_ok=True)
    stream = ReadTimes(f"{server.url}/stream/sse?count={COUNT}&interval={INTERVAL_MS}")
    try:
        deadline = time.monotonic() + 10
        while stream.messages < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.messages >= 5, "the stream did not start"
        start = time.monotonic()
        with requests.get(f"{server.url}{prefix}/{SAMPLE}", stream=True, timeout=60) as made:
            end = time.monotonic()  # the headers come once the sample is made
            assert made.status_code == 200
            assert int(made.headers["Content-Length"]) == 1 << 26
        time.sleep(0.2)  # the reads after the span
    finally:
        stream.close()
    making_s = end - start
    # A making too quick to see proves nothing either way.
    assert making_s > 10 * INTERVAL_MS / 1000, f"the sample took only {making_s:.3f} s"
    gap_s = longest_gap_s(stream.times, start, end)
    # Frozen, the stream's longest gap is the whole making; flowing, a few intervals.
    assert gap_s < making_s / 2, f"no message for {gap_s:.3f} s of a {making_s:.3f} s making"
