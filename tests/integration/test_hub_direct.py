"""Publishes written straight to the subscribers' sockets (hub/direct.py), read byte for byte
on the session's gunicorn + gevent server: chunked over HTTP/1.1 (the project's strict
decoder), bare over HTTP/1.0, SSE and NDJSON, every message once and in order."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder
from showcase.pure.framing.sse import SSEParser
from showcase.tools.response_head import read_head
from tests.integration.hub_reader import post

pytestmark = pytest.mark.integration

TEXTS = ["short", "é ✓ 漢字", "x" * 4000, "line\nbreak", '{"json": "inside"}'] * 6


class RawSubscriber:
    """A room's stream on a raw socket: the body bytes as they come, un-chunked or bare."""

    def __init__(self, base_url: str, path: str, version: str = "HTTP/1.1") -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        request = f"GET {path} {version}\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        self.sock.sendall(request.encode())
        self.status, self.headers, rest = read_head(self.sock)
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.decoder = ChunkedDecoder()
        self.body = b""
        self._take(rest)

    def _take(self, data: bytes) -> None:
        if not self.chunked:
            self.body += data
            return
        for item in self.decoder.feed(data):  # raises on any framing error
            if isinstance(item, Chunk):
                self.body += item.data

    def read_until(self, done: Callable[[bytes], bool], timeout_s: float = 20.0) -> bytes:
        deadline = time.monotonic() + timeout_s
        while not done(self.body):
            assert time.monotonic() < deadline, self.body[-300:]
            piece = self.sock.recv(65536)
            assert piece, "closed by the server"
            self._take(piece)
        return self.body

    def close(self) -> None:
        self.sock.close()


def direct_writes(base_url: str) -> int:
    return int(requests.get(f"{base_url}/healthz", timeout=5).json()["hub_direct_writes"])


def publish_all(base_url: str, room: str) -> list[str]:
    with requests.Session() as session:
        return [post(session, base_url, room, text) for text in TEXTS]


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_sse_written_directly_is_exact_on_the_wire(base_url: str, version: str) -> None:
    room = f"direct-{uuid.uuid4().hex[:10]}"
    reader = RawSubscriber(base_url, f"/chat/events?room={room}", version)
    try:
        assert reader.status == 200 and reader.chunked == (version == "HTTP/1.1")
        reader.read_until(lambda body: b"event: presence" in body)
        before = direct_writes(base_url)
        ids = publish_all(base_url, room)
        body = reader.read_until(lambda body: f"id: {ids[-1]}\n".encode() in body)
    finally:
        reader.close()
    events = [e for e in SSEParser().feed(body) if e.event == "message"]
    got = [(e.id, json.loads(e.data)["text"]) for e in events]
    assert got == list(zip(ids, TEXTS, strict=True))
    assert direct_writes(base_url) - before >= len(TEXTS) // 2  # most went the direct way


def test_ndjson_written_directly_is_exact_on_the_wire(base_url: str) -> None:
    room = f"direct-{uuid.uuid4().hex[:10]}"
    reader = RawSubscriber(base_url, f"/chat/events.ndjson?room={room}")
    try:
        reader.read_until(lambda body: b'"event":"presence"' in body)
        ids = publish_all(base_url, room)
        body = reader.read_until(lambda body: f'"id":"{ids[-1]}"'.encode() in body)
    finally:
        reader.close()
    lines = [json.loads(line) for line in body.split(b"\n") if line.strip()]
    got = [(line["id"], line["text"]) for line in lines if line["event"] == "message"]
    assert got == list(zip(ids, TEXTS, strict=True))
