"""``POST /v3/chat``: the Coze-style typewriter relay end to end over a real upstream
connection (the server's own ``/upstream/mock``), its pacing by character class, and a
client that leaves closing the upstream too."""

from __future__ import annotations

import json
import socket
import statistics
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from showcase.chat.answer import CHINESE_ANSWER
from showcase.chat.typewriter import pause_class
from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.pure.sources import passage_tokens
from showcase.tools.launcher import RunningServer
from tests.integration.wire import SOCKET_TIMEOUT_S, read_head

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
CLEANUP_DEADLINE_S = 15.0


def coze_request(prompt: str, speed: float) -> dict[str, Any]:
    return {
        "bot_id": "showcase",
        "user_id": "tester",
        "stream": True,
        "speed": speed,
        "additional_messages": [{"role": "user", "content": prompt, "content_type": "text"}],
    }


def read_timed(base_url: str, body: dict[str, Any]) -> list[tuple[float, ServerSentEvent]]:
    """Every event with the monotonic time its bytes arrived."""
    parser = SSEParser()
    timed = []
    with requests.post(
        f"{base_url}/v3/chat", json=body, stream=True, timeout=SOCKET_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        # requests raises ChunkedEncodingError on a body that does not end cleanly.
        for chunk in response.iter_content(chunk_size=None):
            now = time.monotonic()
            timed += [(now, event) for event in parser.feed(chunk)]
    return timed


@pytest.mark.parametrize(
    ("prompt", "answer", "speed"),
    [("你好，请介绍流式传输", CHINESE_ANSWER, 4.0), ("Tell me.", "".join(passage_tokens()), 8.0)],
    ids=["chinese", "latin"],
)
def test_typewriter_relay_end_to_end(base_url: str, prompt: str, answer: str, speed: float) -> None:
    timed = read_timed(base_url, coze_request(prompt, speed))
    kinds = [event.event for _, event in timed]
    deltas = [(t, json.loads(e.data)) for t, e in timed if e.event == "conversation.message.delta"]
    assert kinds[-2:] == ["conversation.message.completed", "done"]
    assert timed[-1][1].data == "[DONE]"
    assert kinds[:-2] == ["conversation.message.delta"] * len(deltas)
    # One character per delta: the typewriter retyped the upstream's several-character deltas.
    assert [body["content"] for _, body in deltas] == list(answer)
    assert {(body["role"], body["type"]) for _, body in deltas} == {("assistant", "answer")}
    assert json.loads(timed[-2][1].data)["content"] == answer
    # The gap after each character, grouped by the class of that character: ordered by the
    # medians, never by a wall-clock threshold.
    gaps: dict[str, list[float]] = {"sentence": [], "clause": [], "base": []}
    for (t0, first), (t1, _) in zip(deltas, deltas[1:], strict=False):
        gaps[pause_class(first["content"])].append(t1 - t0)
    assert all(gaps.values()), {kind: len(values) for kind, values in gaps.items()}
    medians = {kind: statistics.median(values) for kind, values in gaps.items()}
    assert medians["sentence"] > medians["clause"] > medians["base"], medians


def post_raw(base_url: str, target: str, body: dict[str, Any]) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_TIMEOUT_S)
    data = json.dumps(body).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode("latin-1") + data)
    return sock


def test_client_leaving_closes_the_upstream(server: RunningServer) -> None:
    """The relay and its upstream (/upstream/mock, on this same server) are two open streams;
    when the client resets its connection, both end."""
    assert server.wait_open_streams(0, CLEANUP_DEADLINE_S) == 0
    sock = post_raw(server.url, "/v3/chat", coze_request("Tell me.", 0.2))
    status, _, _ = read_head(sock)
    assert status == 200
    assert server.wait_open_streams(2, CLEANUP_DEADLINE_S) == 2
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    assert server.wait_open_streams(0, CLEANUP_DEADLINE_S) == 0


def test_a_long_question_still_reaches_the_upstream(base_url: str) -> None:
    """4,000 CJK characters are 36 KB once percent-encoded in the upstream's query: over
    gunicorn's request-line limit, unless the relay passes only what picks the answer."""
    timed = read_timed(base_url, coze_request("流" * 4000, 100.0))
    assert [event.event for _, event in timed[-2:]] == ["conversation.message.completed", "done"]
    assert json.loads(timed[-2][1].data)["content"] == CHINESE_ANSWER
