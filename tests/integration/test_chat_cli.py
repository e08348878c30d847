"""The chat client in a terminal's place: the answer shows up token by token through a pipe
(flushed), the closing line gives time to first token and tokens/s, and Ctrl-C exits 130
with the server's stream closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from showcase.launcher import RunningServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
DEADLINE_S = 15.0
COMMAND = [sys.executable, "-m", "showcase", "chat"]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


@pytest.mark.parametrize("api", ["openai", "ndjson", "coze"])
def test_chat_prints_the_answer_and_the_rates(base_url: str, api: str) -> None:
    done = subprocess.run(
        [*COMMAND, "hello", "--api", api, "--url", base_url, "--interval", "1"],
        capture_output=True,
        timeout=45,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": ""},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("Hello! I am the showcase's typist.")
    assert b"tokens, first after" in done.stderr
    assert b"tokens/s" in done.stderr


def test_ctrl_c_exits_130_and_closes_the_stream(server: RunningServer) -> None:
    assert server.wait_open_streams(0, DEADLINE_S) == 0
    with spawn("Tell me everything", "--url", server.url, "--interval", "300") as process:
        try:
            assert process.stdout is not None
            assert process.stderr is not None
            # The first token comes through the pipe long before the answer ends: flushed.
            os.set_blocking(process.stdout.fileno(), False)
            deadline = time.monotonic() + DEADLINE_S
            first = b""
            while not first and time.monotonic() < deadline:
                first = process.stdout.read(64) or b""
                time.sleep(0.05)
            assert first.startswith(b"Streaming")
            assert server.wait_open_streams(1, DEADLINE_S) == 1
            process.send_signal(signal.SIGINT)
            assert process.wait(DEADLINE_S) == 130
            assert b"interrupted after" in process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
    assert server.wait_open_streams(0, DEADLINE_S) == 0
