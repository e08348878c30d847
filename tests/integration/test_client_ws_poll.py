"""``showcase client ws|poll`` and ``iter_ws``/``iter_poll`` against the real server: the
messages in order, and every failure one of the client's own errors."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest
from wsproto.utilities import generate_accept_token

from showcase.tools.client import (
    BrokenStreamError,
    ConnectError,
    HTTPStatusError,
    InvalidURLError,
)
from showcase.tools.launcher import start_server
from showcase.tools.ws_poll_client import iter_poll, iter_ws
from tests.cli_run import run_showcase as run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.mark.parametrize("mode", ["ws", "poll"])
def test_cli_client_prints_each_message_with_latency(base_url: str, mode: str) -> None:
    result = run_cli("client", mode, "--url", base_url, "--count", "3", "--interval", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["seq=0", "seq=1", "seq=2"]
    assert all(" ms " in line for line in lines)
    assert "done: 3 messages" in result.stderr


def test_cli_ws_resumes_after_last_id(base_url: str) -> None:
    result = run_cli("client", "ws", "--url", base_url, "--count", "5", "--last-id", "2")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["seq=3", "seq=4"]


def test_cli_bad_parameter_is_one_line_with_the_servers_reason(base_url: str) -> None:
    result = run_cli("client", "ws", "--url", base_url, "--count", "0")
    assert result.returncode == 1
    assert "400" in result.stderr and "count" in result.stderr
    assert "Traceback" not in result.stderr


def test_iter_ws_and_iter_poll_read_the_same_messages(base_url: str) -> None:
    params = {"count": 6, "interval": 5, "source": "text"}
    by_ws = [(m["seq"], m["token"]) for m in iter_ws(base_url, params)]
    by_poll = [(m["seq"], m["token"]) for m in iter_poll(base_url, params)]
    assert by_ws == by_poll
    assert [seq for seq, _ in by_ws] == list(range(6))


def test_iter_ws_refused_handshake_is_an_http_status_error(base_url: str) -> None:
    with pytest.raises(HTTPStatusError) as refused:
        list(iter_ws(base_url, {"size": "-1"}))
    assert refused.value.status == 400


def test_iter_ws_close_other_than_1000_is_a_broken_stream(base_url: str) -> None:
    # A server that accepts the upgrade and drops the connection: no close frame at all.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_and_drop() -> None:
        conn, _ = listener.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        key = [
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        ][0]
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + generate_accept_token(key)
            + b"\r\n\r\n"
        )
        conn.close()

    thread = threading.Thread(target=accept_and_drop, daemon=True)
    thread.start()
    try:
        with pytest.raises(BrokenStreamError):
            list(iter_ws(f"http://127.0.0.1:{port}"))
    finally:
        thread.join(5)
        listener.close()


def test_iter_ws_refused_connection_and_bad_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError):
        list(iter_ws(f"http://127.0.0.1:{port}"))
    with pytest.raises(InvalidURLError):
        list(iter_ws("ftp://example.invalid"))


def test_iter_poll_bad_parameter_is_an_http_status_error(base_url: str) -> None:
    with pytest.raises(HTTPStatusError) as refused:
        list(iter_poll(base_url, {"count": 0}))
    assert refused.value.status == 400


def test_iter_ws_reconnects_across_a_graceful_reload_with_nothing_lost_or_repeated(
    tmp_path: Path,
) -> None:
    running = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_RESTART_RETRY_MS": "200",
            "SHOWCASE_RESTART_JITTER_MS": "100",
        },
    )
    try:
        first_worker = running.health()["pid"]
        seqs = []
        params = {"count": 30, "interval": 100}
        for payload in iter_ws(running.url, params, reconnect=True, max_retry_ms=2000):
            seqs.append(payload["seq"])
            if payload["seq"] == 5:
                os.kill(running.pid, signal.SIGHUP)  # new workers; the old one gets SIGTERM
        assert seqs == list(range(30))
        assert running.health()["pid"] != first_worker  # the stream outlived its worker
        assert "Traceback" not in running.log()
    finally:
        running.stop()
