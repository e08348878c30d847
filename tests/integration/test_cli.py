"""``showcase client`` as a user runs it: parsed messages with latency, clear errors."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from showcase.tools.launcher import start_server
from tests.cli_run import assert_one_error_line
from tests.cli_run import run_showcase as run_cli
from tests.hostile_server import HostileServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.mark.parametrize("mode", ["sse", "ndjson"])
def test_client_prints_each_message_with_latency(base_url: str, mode: str) -> None:
    result = run_cli("client", mode, "--url", base_url, "--count", "3", "--interval", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(" ms " in line for line in lines)
    assert "done: 3 messages" in result.stderr


def test_client_chunked_prints_reads(base_url: str) -> None:
    result = run_cli(
        "client",
        "chunked",
        "--url",
        base_url,
        "--count",
        "4",
        "--interval",
        "20",
        "--source",
        "text",
    )
    assert result.returncode == 0, result.stderr
    assert "Streaming" in result.stdout
    assert "reads in" in result.stderr


def test_client_resumes_after_last_event_id(base_url: str) -> None:
    result = run_cli(
        "client",
        "sse",
        "--url",
        base_url,
        "--count",
        "5",
        "--interval",
        "0",
        "--last-event-id",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["id=3", "id=4"]


def test_client_explains_a_400(base_url: str) -> None:
    result = run_cli("client", "sse", "--url", base_url, "--count", "0")
    assert_one_error_line(result, "400", "count")


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there now


@pytest.mark.parametrize("mode", ["sse", "ndjson", "chunked"])
def test_client_explains_a_refused_connection(mode: str) -> None:
    result = run_cli("client", mode, "--url", closed_port_url())
    assert_one_error_line(result, "cannot connect", "refused")


def test_client_reconnecting_to_a_closed_port_gives_up_in_one_line() -> None:
    argv = ["--url", closed_port_url(), "--reconnect", "--max-attempts", "1"]
    result = run_cli("client", "sse", *argv)
    assert_one_error_line(result, "gave up", "cannot connect")


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1:8000", "ftp://127.0.0.1", "http://"])
def test_client_explains_a_url_it_cannot_open(url: str) -> None:
    result = run_cli("client", "sse", "--url", url)
    assert_one_error_line(result, repr(url), "http://HOST:PORT")


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
NDJSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
CUT_CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: close\r\n\r\n5\r\nhello\r\n40\r\ncut"
)


@pytest.mark.parametrize(
    ("mode", "answer", "words"),
    [
        ("sse", SSE_HEAD + b"data: " + b"x" * (1 << 20) + b"\n\n", ("malformed", "longer")),
        ("sse", SSE_HEAD + b"id: 0\ndata: {not json\n\n", ("malformed", "JSON")),
        ("sse", SSE_HEAD + b'id: 0\ndata: {"seq": 0}\n\n', ("malformed", "ts")),
        ("ndjson", NDJSON_HEAD + b'{"seq": 0, "ts": 1}\nnot json\n', ("malformed", "line 2")),
        ("chunked", CUT_CHUNKED, ("broke",)),
    ],
    ids=["sse-line-too-long", "sse-data-not-json", "sse-data-without-ts", "ndjson-bad-line", "cut"],
)
def test_client_explains_a_malformed_or_broken_stream(
    mode: str, answer: bytes, words: tuple[str, ...]
) -> None:
    with HostileServer(answer) as hostile:
        result = run_cli("client", mode, "--url", hostile.url)
    assert_one_error_line(result, *words)


def test_client_explains_a_read_timeout_before_the_headers() -> None:
    # The real CLI with a short read timeout: 120 s is too long to wait for in a test.
    with HostileServer(None) as silent:
        result = run_cli(
            "client", "sse", "--url", silent.url, read_timeout_of="showcase.tools.client"
        )
    assert_one_error_line(result, "0.5 s", silent.url)


def test_client_ends_cleanly_on_ctrl_c(base_url: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "showcase",
            "client",
            "sse",
            "--url",
            base_url,
            "--count",
            "1000",
            "--interval",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # a message arrived: the stream is running
    assert first.startswith("id=0")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "interrupted after" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("mode", "first"), [("sse", b"id=0 "), ("ndjson", b"seq=0 "), ("chunked", b"read 0 ")]
)
def test_client_lines_reach_a_pipe_while_the_stream_is_open(
    base_url: str, mode: str, first: bytes
) -> None:
    """`showcase client sse | tee log`: each line must reach the pipe when its message does.
    PYTHONUNBUFFERED (exported in this shell) would hide a missing flush, so it is unset."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    argv = [sys.executable, "-m", "showcase", "client", mode, "--url", base_url]
    # A message a second: in the 15 s we wait, 15 lines (~1.5 KB) could never fill a pipe's
    # 8 KiB stdout buffer, so only a flush gets a line through.
    argv += ["--count", "1000", "--interval", "1000"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
    )
    assert process.stdout is not None
    try:
        readable, _, _ = select.select([process.stdout], [], [], 15)  # a bound, not a target
        assert readable, "no line reached the pipe while the stream was open"
        line = process.stdout.readline()
        assert line.startswith(first), line
        assert process.poll() is None  # the stream is still running: nothing was held back
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_serve_send_timeout_reaches_the_worker(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "gunicorn.log",
        env={"SHOWCASE_DATA_DIR": str(tmp_path)},
        extra=["--send-timeout", "7.5"],
    )
    try:
        environ = Path(f"/proc/{server.worker_pids[0]}/environ").read_bytes().split(b"\0")
    finally:
        assert server.stop() == 0, server.log()
    assert b"SHOWCASE_SEND_TIMEOUT_S=7.5" in environ


def test_serve_refuses_a_zero_heartbeat_before_starting() -> None:
    result = run_cli("serve", "--bind", "127.0.0.1:0", "--heartbeat", "0")
    assert result.returncode == 2
    assert "--heartbeat" in result.stderr and "0.05" in result.stderr
    assert "Listening at" not in result.stderr


def test_client_stops_quietly_when_the_pipe_closes(base_url: str) -> None:
    """`showcase client sse | head -1`: the reader leaves, the client ends without a trace."""
    argv = [sys.executable, "-m", "showcase", "client", "sse", "--url", base_url]
    process = subprocess.Popen(
        [*argv, "--count", "1000", "--interval", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"id=0 ")
    process.stdout.close()  # as `head -1` does once it has its line
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert process.wait(timeout=20) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_chat_is_a_showcase_verb(base_url: str) -> None:
    result = run_cli("chat", "hello", "--api", "ndjson", "--url", base_url, "--interval", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "tokens/s" in result.stderr
