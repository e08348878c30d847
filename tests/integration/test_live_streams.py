"""Every mode against a real gunicorn + gevent server: delivery as produced, headers, resume."""

from __future__ import annotations

import json
import time

import pytest
import requests

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.pure.framing.sse import SSEParser
from showcase.tools.client import iter_chunks, iter_ndjson, iter_sse
from showcase.tools.launcher import RunningServer
from tests.integration.wire import fetch_raw, open_raw, read_head

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def now_ms() -> float:
    return time.time() * 1000.0


def test_sse_delivers_each_message_when_produced(base_url: str) -> None:
    events = iter_sse(base_url, {"count": 4, "interval": 200})
    first = next(events)
    received_first = now_ms()
    rest = list(events)
    # Message 1 was stamped after message 0 reached us: nothing held message 0 back.
    assert json.loads(rest[0].data)["ts"] > received_first
    assert [e.id for e in [first, *rest]] == ["0", "1", "2", "3"]


def test_ndjson_delivers_each_message_when_produced(base_url: str) -> None:
    objects = iter_ndjson(base_url, {"count": 3, "interval": 200})
    first = next(objects)
    received_first = now_ms()
    rest = list(objects)
    assert rest[0]["ts"] > received_first
    assert [o["seq"] for o in [first, *rest]] == [0, 1, 2]


def test_chunked_writes_one_chunk_per_message_when_produced(base_url: str) -> None:
    with open_raw(base_url, "/stream/chunked?count=3&interval=200&size=3") as sock:
        status, headers, body = read_head(sock)
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        decoder = ChunkedDecoder()
        items = decoder.feed(body)
        while not items:
            items = decoder.feed(sock.recv(65536))
        received_first = now_ms()
        while not decoder.done:
            items += decoder.feed(sock.recv(65536))
    chunks = [item for item in items if isinstance(item, Chunk)]
    assert isinstance(items[-1], EndOfBody)
    # A pause between messages means one wire chunk (one write) per message.
    assert [c.data.split()[1] for c in chunks] == [b"0", b"1", b"2"]
    assert all(c.size_line for c in chunks)
    assert float(chunks[1].data.split()[2]) > received_first


def test_chunked_text_is_the_bare_tokens(base_url: str) -> None:
    reads = list(iter_chunks(base_url, {"count": 5, "interval": 1, "source": "text"}))
    assert b"".join(reads) == b"Streaming is the art of"


@pytest.mark.parametrize(
    ("mode", "content_type"),
    [
        ("sse", "text/event-stream; charset=utf-8"),
        ("ndjson", "application/x-ndjson"),
        ("chunked", "text/plain; charset=utf-8"),
    ],
)
def test_headers_on_the_wire(base_url: str, mode: str, content_type: str) -> None:
    status, headers, body = fetch_raw(base_url, f"/stream/{mode}?count=2&interval=0")
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["transfer-encoding"] == "chunked"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert body


def test_sse_starts_with_retry_and_heartbeats_when_idle(base_url: str) -> None:
    status, _, body = fetch_raw(base_url, "/stream/sse?count=2&interval=1200&heartbeat=0.5")
    assert status == 200
    assert body.startswith(b"retry: ")
    assert body.count(b": heartbeat\n\n") == 2
    parser = SSEParser()
    assert [e.id for e in parser.feed(body)] == ["0", "1"]
    assert parser.retry is not None


def test_resume_with_last_event_id_loses_and_repeats_nothing(base_url: str) -> None:
    params = {"count": 10, "interval": 20, "source": "text"}
    seen = []
    for event in iter_sse(base_url, params):
        seen.append(event)
        if len(seen) == 4:
            break  # the connection drops here
    resumed = list(iter_sse(base_url, params, last_event_id=seen[-1].id))
    seqs = [json.loads(e.data)["seq"] for e in [*seen, *resumed]]
    assert seqs == list(range(10))
    tokens = "".join(json.loads(e.data)["token"] for e in [*seen, *resumed])
    whole = "".join(json.loads(e.data)["token"] for e in iter_sse(base_url, params))
    assert tokens == whole
    finished = requests.get(
        f"{base_url}/stream/sse", params=params, headers={"Last-Event-ID": "9"}, timeout=10
    )
    assert finished.status_code == 204


@pytest.mark.parametrize(
    ("target", "headers", "field"),
    [
        ("/stream/sse?count=ten", {}, "count"),
        ("/stream/sse?count=-5", {}, "count"),
        ("/stream/ndjson?count=0", {}, "count"),
        ("/stream/chunked?count=1000001", {}, "count"),
        ("/stream/sse?interval=-1", {}, "interval"),
        ("/stream/sse?interval=NaN", {}, "interval"),
        ("/stream/ndjson?size=1048577", {}, "size"),
        ("/stream/sse?source=rumours", {}, "source"),
        ("/stream/websocket", {}, "mode"),
        ("/stream/sse", {"Last-Event-ID": "abc"}, "Last-Event-ID"),
    ],
)
def test_bad_input_gets_400_json_and_no_stream(
    base_url: str, target: str, headers: dict[str, str], field: str
) -> None:
    status, response_headers, body = fetch_raw(base_url, target, headers)
    assert status == 400
    assert response_headers["content-type"] == "application/json"
    assert "transfer-encoding" not in response_headers  # a whole response, not a stream
    error = json.loads(body)
    assert error["field"] == field and error["error"] and error["detail"]


def test_healthz_counts_open_streams(server: RunningServer) -> None:
    # Earlier tests' streams may still be ending: count from a quiet worker, or not at all.
    assert server.wait_open_streams(0) == 0
    events = iter_sse(server.url, {"count": 50, "interval": 100})
    next(events)  # the stream is open: its first message arrived
    health = server.health()
    assert health["open_streams"] == 1
    assert health["pid"] in server.worker_pids
    events.close()
    assert server.wait_open_streams(0) == 0  # and it is counted out when the client leaves
