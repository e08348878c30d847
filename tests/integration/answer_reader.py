"""A reader of resumable answers over a raw socket: it can stop (close the socket) anywhere,
mid-event too, as a dropped connection does, and read the chunked SSE or NDJSON that came."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.tools.response_head import read_head
from tests.integration.wire import SOCKET_TIMEOUT_S

USER = [{"role": "user", "content": "Tell me about streaming."}]


def completion_body(interval_ms: float, **more: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER, "stream": True, "interval": interval_ms, **more}


class AnswerReader:
    """One request whose streamed answer is read event by event (SSE) or line by line."""

    def __init__(
        self,
        base_url: str,
        method: str,
        target: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_TIMEOUT_S)
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.status, self.headers, rest = read_head(self.sock)
        self.chunks = ChunkedDecoder()
        self.sse = SSEParser()
        self.ndjson = NDJSONParser()
        self.ended = False
        self.raw = b""  # the body's bytes so far (chunk framing removed)
        self.pending: list[bytes] = [rest] if rest else []

    @property
    def answer_id(self) -> str:
        return self.headers["x-answer-id"]

    def read_some(self) -> bytes:
        """The next body bytes (b"" at the end of the body)."""
        data = self.pending.pop() if self.pending else self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed before the end of the body")
        out = b""
        for item in self.chunks.feed(data):
            if isinstance(item, Chunk):
                out += item.data
            elif isinstance(item, EndOfBody):
                self.ended = True
        self.raw += out
        return out

    def events(self, count: int | None = None) -> list[ServerSentEvent]:
        """SSE events until ``count`` of them, or to the end of the body."""
        got: list[ServerSentEvent] = []
        while not self.ended and (count is None or len(got) < count):
            got += self.sse.feed(self.read_some())
        return got

    def lines(self, count: int | None = None) -> list[Any]:
        got: list[Any] = []
        while not self.ended and (count is None or len(got) < count):
            got += self.ndjson.feed(self.read_some())
        return got

    def read_until(self, marker: bytes) -> None:
        """Read until the body so far holds ``marker`` (an event's first bytes, say)."""
        while marker not in self.raw and not self.ended:
            self.read_some()

    def close(self) -> None:
        self.sock.close()


def start_answer(base_url: str, interval_ms: float, **more: Any) -> AnswerReader:
    reader = AnswerReader(
        base_url, "POST", "/v1/chat/completions", completion_body(interval_ms, **more)
    )
    assert reader.status == 200
    return reader


def resume(
    base_url: str, answer_id: str, after: int | None = None, headers: dict[str, str] | None = None
) -> AnswerReader:
    target = f"/v1/chat/completions/{answer_id}/stream"
    if after is not None:
        target += f"?after={after}"
    return AnswerReader(base_url, "GET", target, headers=headers)


def chunk_of(event: ServerSentEvent) -> Any:
    return None if event.data == "[DONE]" else json.loads(event.data)


def token_events(events: list[ServerSentEvent]) -> list[tuple[int, str]]:
    """(seq, content) of every content chunk."""
    out = []
    for event in events:
        body = chunk_of(event)
        if body and body.get("choices"):
            content = body["choices"][0]["delta"].get("content")
            if content and "role" not in body["choices"][0]["delta"]:
                out.append((int(event.id), content))
    return out


def cancel(base_url: str, answer_id: str) -> requests.Response:
    return requests.post(
        f"{base_url}/v1/chat/completions/{answer_id}/cancel", timeout=SOCKET_TIMEOUT_S
    )


def running_answers(url: str, session: requests.Session) -> int:
    """The answers the server's worker generates now (one kept-alive connection: a poll
    costs no connect)."""
    response = session.get(f"{url}/healthz", timeout=SOCKET_TIMEOUT_S)
    return int(response.json()["answers"])


def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)
