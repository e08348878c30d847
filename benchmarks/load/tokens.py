"""A chat-answer client for the benchmarks: POST one question to a chat API and stamp the
arrival of each token as it comes off the socket (asyncio, httptools, ``showcase.pure.framing``).

Per request it records TTFB, the arrival of every token (``received_at``, its first in
``t_first_message``) and whether the API's last record came (``[DONE]``, ``"done": true``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from benchmarks.load.wire import StreamProtocol, StreamRecord, connect_protocol
from benchmarks.report.stats import median, summarize
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import ServerSentEvent, SSEParser

APIS = ("openai", "ndjson", "coze")
ROUTES = {"openai": "/v1/chat/completions", "ndjson": "/api/chat", "coze": "/v3/chat"}
MODEL = "showcase-typist"
DEADLINE_S = 60.0  # every question of one measurement answered by then, or given up


def chat_body(api: str, question: str, coze_speed: float) -> dict[str, Any]:
    """The JSON body that asks ``question`` in ``api``'s shape, paced by the server's setting
    (openai, ndjson: no ``interval`` field) or ``coze_speed`` (the typewriter's divisor)."""
    messages = [{"role": "user", "content": question}]
    if api in ("openai", "ndjson"):
        return {"model": MODEL, "messages": messages, "stream": True}
    coze_messages = [{**messages[0], "content_type": "text"}]
    return {
        "bot_id": "bench",
        "user_id": "bench",
        "stream": True,
        "speed": coze_speed,
        "additional_messages": coze_messages,
    }


def post_request(host: str, port: int, path: str, body: dict[str, Any]) -> bytes:
    """An HTTP/1.1 POST of ``body`` as JSON, the connection closed after the answer."""
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


def sse_tokens(api: str) -> Callable[[ServerSentEvent], tuple[int, bool, str | None]]:
    """(tokens, ended, error) of one SSE event of ``api`` (openai or coze)."""

    def read(event: ServerSentEvent) -> tuple[int, bool, str | None]:
        if event.data == "[DONE]":
            return 0, True, None
        if api == "coze":
            if event.event == "error":
                return 0, False, event.data[:200]
            return int(event.event == "conversation.message.delta"), False, None
        body = json.loads(event.data)
        if "error" in body:
            return 0, False, json.dumps(body["error"])[:200]
        return sum(bool(c["delta"].get("content")) for c in body["choices"]), False, None

    return read


class TokenProtocol(StreamProtocol):
    """Reads one chat answer: a token's arrival per content delta (SSE) or line (NDJSON)."""

    def __init__(self, request: bytes, record: StreamRecord, api: str) -> None:
        super().__init__(request, record, latency=False, keep=False)
        self.api = api
        self.sse = SSEParser()
        self.lines = NDJSONParser()
        self.read_event = sse_tokens(api)
        self.ended = False

    def on_body(self, body: bytes) -> None:
        record = self.record
        if record.ttfb_s is None:
            record.ttfb_s = self.now - record.t_request
        record.body_bytes += len(body)
        try:
            if self.api == "ndjson":
                for line in self.lines.feed(body):
                    if "error" in line:
                        self.count(0, False, json.dumps(line["error"])[:200])
                    else:
                        self.count(int(not line.get("done")), bool(line.get("done")), None)
            else:
                for event in self.sse.feed(body):
                    self.count(*self.read_event(event))
        except ValueError as error:  # SSEError, NDJSONError, JSONDecodeError
            self.fail(f"bad {self.api} stream: {error}")

    def count(self, tokens: int, ended: bool, error: str | None) -> None:
        record = self.record
        if error is not None:
            record.error = f"error in the stream: {error}"
        for _ in range(tokens):
            if record.messages == 0:
                record.t_first_message = self.now
            record.messages += 1
            record.received_at.append(self.now)
        self.ended = self.ended or ended

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Complete means the answer's last record came, not merely the HTTP body's end.
        self.record.complete = self.ended and self.record.error is None
        if not self.ended and self.record.error is None:
            self.record.error = "the body ended before the answer's last record"


async def ask_all(
    url: str, api: str, body: dict[str, Any], clients: int, rounds: int, deadline_s: float
) -> list[StreamRecord]:
    """``clients`` concurrent clients, each asking ``rounds`` times in a row (a new
    connection per question); everything still open after ``deadline_s`` is closed."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = ROUTES[api]
    request = post_request(host, port, path, body)
    records: list[StreamRecord] = []
    protocols: list[TokenProtocol] = []
    # Seeded offsets within 50 ms: the clients' questions do not arrive in lockstep.
    offsets = random.Random(clients).sample(range(50), k=min(clients, 50))

    async def client(index: int) -> None:
        await asyncio.sleep(offsets[index % len(offsets)] / 1000.0)
        for _ in range(rounds):
            record = StreamRecord(path)
            records.append(record)
            protocol = TokenProtocol(request, record, api)
            record.t_connect = time.time()
            try:
                await connect_protocol(host, port, None, protocol)
            except OSError as error:
                record.error = f"connect: {error}"
                continue
            protocols.append(protocol)
            await protocol.done

    everything = asyncio.gather(*(client(i) for i in range(clients)))
    try:
        await asyncio.wait_for(everything, deadline_s)
    except TimeoutError:
        for protocol in protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        for record in records:
            if not record.complete and record.error is None:
                record.error = "deadline"
    return records


def run_chats(
    url: str, api: str, body: dict[str, Any], clients: int, rounds: int, deadline_s: float
) -> list[StreamRecord]:
    """``ask_all`` in a fresh event loop of this process."""
    return asyncio.run(ask_all(url, api, body, clients, rounds, deadline_s))


def measure_answers(
    url: str, api: str, body: dict[str, Any], clients: int, rounds: int
) -> dict[str, Any]:
    """TTFT (request sent → first token), gaps between token arrivals and tokens/s of each
    answer, for ``clients`` × ``rounds`` questions to ``api``."""
    records = run_chats(url, api, body, clients, rounds, DEADLINE_S)
    ttft = [(r.t_first_message - r.t_request) * 1000.0 for r in records if r.t_first_message]
    gaps = [(b - a) * 1000.0 for r in records for a, b in pairwise(r.received_at)]
    rates = [
        (len(r.received_at) - 1) / (r.received_at[-1] - r.received_at[0])
        for r in records
        if len(r.received_at) > 1 and r.received_at[-1] > r.received_at[0]
    ]
    return {
        "api": api,
        "route": ROUTES[api],
        "requests": len(records),
        "complete": sum(r.complete for r in records),
        "errors": sorted({r.error for r in records if r.error}),
        "tokens": sum(r.messages for r in records),
        "ttft_ms": summarize(ttft),
        "inter_token_ms": summarize(gaps),
        "tokens_per_s": median(rates),
        "raw_ttft_ms": [round(x, 3) for x in ttft],
        "raw_inter_token_ms": [round(x, 3) for x in gaps],
    }
