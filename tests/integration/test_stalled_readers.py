"""Stalled readers: clients that connect, ask, and never read a byte.

Each has a tiny receive buffer, so the server's writes stop completing within a few hundred
KiB. With a 2 s send deadline the worker cuts them: its open streams and file descriptors
return to where they were, while a normal client on the same worker keeps receiving.
SIGTERM also ends a stream blocked in such a write, long before the graceful timeout.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from showcase.tools.client import iter_sse
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.wire import stalled_client

pytestmark = pytest.mark.integration

SEND_TIMEOUT_S = 2.0
MARGIN_S = 8.0  # the deadline, one more write attempt, a loaded machine
STALLED = 5


@pytest.fixture(scope="module")
def strict_server(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[RunningServer]:
    log_path = tmp_path_factory.mktemp("stalled") / "gunicorn.log"
    running = start_server(
        log_path,
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
        },
    )
    yield running
    running.stop()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def health(server: RunningServer) -> dict[str, int]:
    response = requests.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    data: dict[str, int] = response.json()
    return data


def idle(server: RunningServer) -> bool:
    """No stream open, and no connection but the one asking."""
    now = health(server)
    return now["open_streams"] == 0 and now["open_connections"] <= 1


def quiet(server: RunningServer) -> tuple[int, int, int]:
    """(open streams, worker fds, send timeouts) once no stream of an earlier test is open."""
    assert wait_until(lambda: idle(server), 15)
    worker = server.worker_pids[0]
    # A closed connection's fd may linger a moment in the worker: take the lowest of a few.
    fds = min(open_fds(worker) for _ in range(5) if time.sleep(0.05) is None)
    return 0, fds, health(server)["send_timeouts"]


@pytest.mark.parametrize(
    "path",
    [
        "/stream/sse?count=1000000&interval=0&size=65536",
        "/stream/ndjson?count=1000000&interval=5&size=65536",
        "/download/64MiB.bin",
    ],
)
def test_stalled_readers_are_cut_and_everything_is_freed(
    strict_server: RunningServer, path: str
) -> None:
    requests.head(f"{strict_server.url}/download/64MiB.bin", timeout=60)  # sample made first
    _, fds_before, timeouts_before = quiet(strict_server)
    worker = strict_server.worker_pids[0]
    stalled = [stalled_client(strict_server.url, path) for _ in range(STALLED)]
    try:
        # The stalled streams (or downloads) are really open and stuck in a write…
        assert wait_until(lambda: health(strict_server)["open_connections"] > STALLED, 10)
        # …and a normal reader on the same worker meanwhile gets every message, in order.
        received = [
            event.id for event in iter_sse(strict_server.url, {"count": 15, "interval": 100})
        ]
        assert received == [str(seq) for seq in range(15)]
        # Within the deadline plus a margin: no stream left, the descriptors back.
        assert wait_until(lambda: idle(strict_server), SEND_TIMEOUT_S + MARGIN_S)
        assert health(strict_server)["send_timeouts"] >= timeouts_before + STALLED
        assert wait_until(lambda: open_fds(worker) <= fds_before, MARGIN_S), (
            open_fds(worker),
            fds_before,
        )
    finally:
        for sock in stalled:
            sock.close()
    log = strict_server.log()
    assert "Traceback" not in log


def test_sigterm_ends_a_stream_blocked_in_a_write(tmp_path: Path, data_dir: Path) -> None:
    """The send deadline is an hour here: only SIGTERM can end the blocked write, and it must
    do so well before gunicorn's graceful timeout (30 s) would kill the worker."""
    server = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_SEND_TIMEOUT_S": "3600",
            "GUNICORN_CMD_ARGS": "--graceful-timeout 30",  # gunicorn's own way in
        },
    )
    stalled = None
    try:
        stalled = stalled_client(server.url, "/stream/sse?count=1000000&interval=0&size=65536")
        assert wait_until(lambda: health(server)["open_streams"] == 1, 10)
        time.sleep(0.5)  # long enough for the write to block on the full socket
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=25)
        assert time.monotonic() - started < 15, "the blocked stream held the worker"
        assert server.process.returncode == 0
        assert "graceful timeout" not in server.log().lower()
    finally:
        if stalled is not None:
            stalled.close()
        server.stop()
