"""Clients that leave mid-stream: the generator stops, cleanup runs, nothing leaks."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from showcase.tools.launcher import RunningServer
from tests.integration.wire import open_raw, read_head

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
CLEANUP_DEADLINE_S = 15.0  # bounded wait; the server's heartbeat here is 1 s


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for_open_streams(server: RunningServer, expected: int) -> int:
    return server.wait_open_streams(expected, CLEANUP_DEADLINE_S)


def leave(sock: socket.socket, *, reset: bool) -> None:
    """Close the client side: a polite FIN, or an RST as a crashed client would."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("mode", ["sse", "ndjson", "chunked"])
@pytest.mark.parametrize("reset", [False, True])
def test_departed_clients_are_cleaned_up(server: RunningServer, mode: str, reset: bool) -> None:
    worker = server.worker_pids[0]
    # Streams of earlier tests may still be ending: start from a quiet worker.
    baseline_streams = wait_for_open_streams(server, 0)
    assert baseline_streams == 0
    baseline_fds = open_fds(worker)
    # Idle streams: a message every 2 s, heartbeats (sse, ndjson) every 1 s in between.
    target = f"/stream/{mode}?count=1000&interval=2000&size=64"
    clients = [open_raw(server.url, target) for _ in range(20)]
    for sock in clients:
        status, _, _ = read_head(sock)
        assert status == 200
    assert wait_for_open_streams(server, baseline_streams + 20) == baseline_streams + 20
    for sock in clients:
        leave(sock, reset=reset)
    assert wait_for_open_streams(server, baseline_streams) == baseline_streams
    deadline = time.monotonic() + CLEANUP_DEADLINE_S
    while open_fds(worker) > baseline_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(worker) <= baseline_fds


def test_fast_stream_stops_when_the_client_leaves(server: RunningServer) -> None:
    baseline = wait_for_open_streams(server, 0)
    assert baseline == 0
    sock = open_raw(server.url, "/stream/ndjson?count=1000000&interval=0&size=1024")
    status, _, _ = read_head(sock)
    assert status == 200
    sock.recv(65536)
    leave(sock, reset=True)
    assert wait_for_open_streams(server, baseline) == baseline
