"""``showcase client`` as a user runs it: parsed messages with latency, clear errors."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "showcase", *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


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
    assert result.returncode == 1
    assert "400" in result.stderr and "count" in result.stderr


def test_client_explains_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        result = run_cli("client", "ndjson", "--url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


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
