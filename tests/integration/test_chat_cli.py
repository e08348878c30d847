"""The chat client in a terminal's place: the answer shows up token by token through a pipe
(flushed), the closing line gives time to first token and tokens/s, and Ctrl-C exits 130
with the server's stream closed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from showcase.tools.launcher import RunningServer
from tests.cli_run import assert_one_error_line, run_showcase
from tests.hostile_server import HostileServer

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


def run_chat(*args: str) -> subprocess.CompletedProcess[str]:
    return run_showcase("chat", *args)


@pytest.mark.parametrize("api", ["openai", "ndjson", "coze"])
def test_chat_explains_a_refused_connection(api: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    assert_one_error_line(run_chat("hi", "--api", api, "--url", url), "cannot connect")


def test_chat_explains_a_url_without_a_scheme() -> None:
    result = run_chat("hi", "--url", "localhost:8000")
    assert_one_error_line(result, "'localhost:8000'", "http://HOST:PORT")


@pytest.mark.parametrize(("api", "param"), [("openai", "interval"), ("ndjson", "options.interval")])
def test_chat_explains_a_refusal_in_the_apis_words(base_url: str, api: str, param: str) -> None:
    result = run_chat("hi", "--api", api, "--url", base_url, "--interval", "999999")
    assert_one_error_line(result, "400", param)
    assert result.stdout == ""


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
NDJSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
OPENAI_CHUNK = b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'


@pytest.mark.parametrize(
    ("api", "answer", "words"),
    [
        ("openai", SSE_HEAD + b"data: {not json\n\n", ("malformed", "JSON")),
        ("openai", SSE_HEAD + b'data: {"choices": 5}\n\n', ("malformed",)),
        ("openai", SSE_HEAD + b"data: " + b"x" * (1 << 20) + b"\n\n", ("malformed", "longer")),
        ("coze", SSE_HEAD + b"event: conversation.message.delta\ndata: []\n\n", ("malformed",)),
        ("ndjson", NDJSON_HEAD + b'{"done": false, "message": {}}\n', ("malformed", "content")),
        ("ndjson", NDJSON_HEAD + b"not json\n", ("malformed", "line 1")),
        ("openai", SSE_HEAD + OPENAI_CHUNK, ("ended before",)),
    ],
    ids=[
        "openai-not-json",
        "openai-wrong-shape",
        "openai-line-too-long",
        "coze-wrong-shape",
        "ndjson-wrong-shape",
        "ndjson-not-json",
        "openai-no-done",
    ],
)
def test_chat_explains_a_malformed_or_cut_answer(
    api: str, answer: bytes, words: tuple[str, ...]
) -> None:
    with HostileServer(answer) as hostile:
        result = run_chat("hi", "--api", api, "--url", hostile.url)
    assert_one_error_line(result, *words)


def test_chat_ends_the_answers_line_before_the_error() -> None:
    with HostileServer(SSE_HEAD + OPENAI_CHUNK) as hostile:
        result = run_chat("hi", "--url", hostile.url)
    assert result.stdout == "Hel\n"
    assert_one_error_line(result, "ended before")


def test_chat_explains_a_read_timeout_before_the_headers() -> None:
    with HostileServer(None) as silent:
        result = run_showcase(
            "chat", "hi", "--url", silent.url, read_timeout_of="showcase.chat.client"
        )
    assert_one_error_line(result, "0.5 s", silent.url)
