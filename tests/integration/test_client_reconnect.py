"""A resuming client against the real server, through a proxy the test cuts mid-stream:
``iter_sse(reconnect=True)`` and ``showcase client sse --reconnect`` lose and repeat nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from showcase.tools.client import iter_sse
from tests.integration.wire import CutProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

COUNT = 12
PARAMS = {"count": COUNT, "interval": 50, "source": "text"}
RETRY_MS = 100  # the server asks for 2 s; the client's cap keeps the test short


@pytest.fixture
def proxy(base_url: str) -> Iterator[CutProxy]:
    running = CutProxy(base_url)
    yield running
    running.close()


def test_iter_sse_resumes_a_cut_stream_with_no_loss_and_no_repeat(proxy: CutProxy) -> None:
    received = []
    for event in iter_sse(proxy.url, PARAMS, reconnect=True, max_retry_ms=RETRY_MS):
        received.append(event)
        if len(received) == 4:
            proxy.cut()  # the connection dies under the client, mid-stream
    seqs = [json.loads(e.data)["seq"] for e in received]
    assert seqs == list(range(COUNT))
    assert [e.id for e in received] == [str(seq) for seq in range(COUNT)]
    whole = [json.loads(e.data)["token"] for e in iter_sse(proxy.url, PARAMS)]
    assert [json.loads(e.data)["token"] for e in received] == whole
    sent = proxy.last_event_ids()
    # The first request, the resume after the cut, and the last one answered 204.
    assert sent[0] is None
    assert len(sent) == 4 and sent[1] is not None and int(sent[1]) >= 3
    assert sent[2] == str(COUNT - 1)


def test_cli_reconnect_resumes_a_cut_stream(proxy: CutProxy) -> None:
    argv = [sys.executable, "-m", "showcase", "client", "sse", "--url", proxy.url]
    argv += ["--count", str(COUNT), "--interval", "200", "--reconnect"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    proxy.cut()
    rest, stderr = process.communicate(timeout=40)  # the server's 2 s retry, then the rest
    assert process.returncode == 0, stderr
    lines += rest.splitlines()
    assert [line.split()[0] for line in lines] == [f"id={seq}" for seq in range(COUNT)]
    assert "reconnecting in 2.0 s with Last-Event-ID: " in stderr
    assert f"done: {COUNT} messages" in stderr
