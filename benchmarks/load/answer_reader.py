"""A resumable-answer client for the answers benchmark: start an answer with ``POST
/v1/chat/completions``, cut the connection at a chosen point (FIN, RST, or in the middle of an
event), resume it with ``GET /v1/chat/completions/<id>/stream`` (``Last-Event-ID`` or
``?after=``), and cancel one (``POST …/cancel``), on asyncio streams with httptools and the
project's own SSE parser (``showcase.pure.framing.sse``).

Every read is bounded by a deadline; every token is kept as (seq, text), so that the caller can
compare what a reader assembled with the uninterrupted answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httptools

from benchmarks.load.hub_client import loop_factory
from showcase.pure.framing.sse import ServerSentEvent, SSEParser

T = TypeVar("T")
CHAT_PATH = "/v1/chat/completions"
READ_BYTES = 65_536
CUTS = ("fin", "rst", "mid")  # how a reader leaves: close, SO_LINGER 0 then close, mid-event
MAX_PARTIAL_BYTES = 24  # a mid-event cut stops after 1…this many bytes of the next event


@dataclass
class Leg:
    """One HTTP response of an answer read by this client. Times are ``time.time()`` s."""

    status: int = 0
    answer_id: str | None = None  # X-Answer-Id, else the chunks' ``id``
    t_connect: float = 0.0
    t_connected: float | None = None  # the TCP connection was up
    t_head: float | None = None  # the response head was whole
    t_first_item: float | None = None  # the first event carrying an ``id:`` line (an item)
    tokens: list[tuple[int, str]] = field(default_factory=list)
    last_id: int | None = None  # the id of the last complete event that had one
    finish_reason: str | None = None
    cancelled_at: float | None = None  # the chunk with ``"cancelled": true`` arrived
    done: bool = False  # ``data: [DONE]`` arrived
    complete: bool = False  # the HTTP response ended whole
    wire_bytes: int = 0
    cut: str | None = None  # how this leg was cut, if it was
    error: str | None = None


class LegParser:
    """httptools callbacks → a ``Leg``: the answer id, and each SSE event as it completes.
    ``partial_bytes`` counts the body bytes fed since the last complete event."""

    def __init__(self, leg: Leg) -> None:
        self.leg = leg
        self.http = httptools.HttpResponseParser(self)
        self.sse = SSEParser()
        self.partial_bytes = 0
        self.now = 0.0
        self.on_token: Any = None  # called with the leg after each token (cancel trigger)

    def feed(self, data: bytes) -> None:
        self.now = time.time()
        self.leg.wire_bytes += len(data)
        self.http.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-answer-id":
            self.leg.answer_id = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.leg.status = self.http.get_status_code()
        self.leg.t_head = self.now

    def on_body(self, body: bytes) -> None:
        events = self.sse.feed(body)
        if not events:
            self.partial_bytes += len(body)
            return
        # Bytes after the last dispatch are the next event's start: fed one byte at a time
        # near a mid-event cut, so 0 or 1 here; in bulk the count only needs to be small.
        self.partial_bytes = 0
        for event in events:
            self.take(event)

    def on_message_complete(self) -> None:
        self.leg.complete = True

    def take(self, event: ServerSentEvent) -> None:
        leg = self.leg
        if event.data == "[DONE]":
            leg.done = True
            return
        body = json.loads(event.data)
        if "error" in body:
            leg.error = f"error event: {json.dumps(body['error'])[:200]}"
            return
        leg.answer_id = leg.answer_id or body.get("id")
        # The id persists from event to event (WHATWG §9.2.6); only the role preamble, sent
        # before the first item, has none. A repeated token keeps its id and is counted.
        own_id = event.id if event.id.isdigit() else None
        if own_id is None:
            return
        seq = int(own_id)
        leg.last_id = seq
        if leg.t_first_item is None:
            leg.t_first_item = self.now
        for choice in body.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                leg.tokens.append((seq, content))
                if self.on_token is not None:
                    self.on_token(leg)
            if choice.get("finish_reason"):
                leg.finish_reason = choice["finish_reason"]
        if body.get("cancelled") is True:
            leg.cancelled_at = self.now


def post_request(host: str, port: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {CHAT_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


def resume_request(host: str, port: int, answer_id: str, after: int | None, query: bool) -> bytes:
    """``GET …/<id>/stream`` after item ``after`` (None: from the start), as ``?after=n``
    when ``query`` else as the ``Last-Event-ID`` header (what EventSource sends)."""
    path = f"{CHAT_PATH}/{answer_id}/stream"
    headers = ""
    if after is not None and query:
        path += f"?after={after}"
    elif after is not None:
        headers = f"Last-Event-ID: {after}\r\n"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}Connection: close\r\n\r\n"
    return request.encode()


def cancel_request(host: str, port: int, answer_id: str) -> bytes:
    return (
        f"POST {CHAT_PATH}/{answer_id}/cancel HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()


def close_writer(writer: asyncio.StreamWriter, cut: str) -> None:
    """Leave the connection the ``cut`` way: ``rst`` sets SO_LINGER 0 first, so the close
    sends a reset instead of a FIN (``fin`` and ``mid`` close normally)."""
    if cut == "rst":
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    writer.close()


async def read_leg(
    host: str,
    port: int,
    request: bytes,
    deadline_s: float,
    *,
    cut: str | None = None,
    cut_after_tokens: int = 0,
    partial_bytes: int = 1,
    parser_hook: Any = None,
) -> Leg:
    """Send ``request`` and read its answer until it ends or ``deadline_s`` passes. With
    ``cut``: once ``cut_after_tokens`` tokens have come, leave (``fin``/``rst`` at once;
    ``mid`` after ``partial_bytes`` bytes of the next event, read one byte at a time)."""
    leg = Leg(t_connect=time.time())
    parser = LegParser(leg)
    parser.on_token = parser_hook
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + deadline_s
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), deadline_s)
    except (OSError, TimeoutError) as failure:
        leg.error = f"connect: {type(failure).__name__}: {failure}"
        return leg
    leg.t_connected = time.time()
    try:
        writer.write(request)
        while not leg.complete:
            remaining = stop_at - loop.time()
            if remaining <= 0:
                leg.error = "deadline"
                break
            data = await asyncio.wait_for(reader.read(READ_BYTES), remaining)
            if not data:
                break
            if cut is None or len(leg.tokens) < cut_after_tokens or leg.done:
                parser.feed(data)
                if cut is not None and cut != "mid" and len(leg.tokens) >= cut_after_tokens:
                    if not leg.done:
                        leg.cut = cut
                        break
                if cut == "mid" and len(leg.tokens) >= cut_after_tokens and not leg.done:
                    if parser.partial_bytes > 0:
                        leg.cut = cut  # this read already ended inside an event
                        break
                continue
            # A mid-event cut: one byte at a time up to ``partial_bytes`` of the next event.
            for index in range(len(data)):
                parser.feed(data[index : index + 1])
                if parser.partial_bytes >= partial_bytes or leg.done:
                    break
            if not leg.done and parser.partial_bytes > 0:
                leg.cut = cut
                break
    except (OSError, TimeoutError) as failure:
        leg.error = f"{type(failure).__name__}: {failure}"
    except (httptools.HttpParserError, ValueError) as failure:
        leg.error = f"bad response: {failure}"
    finally:
        if leg.cut is not None:
            close_writer(writer, leg.cut)
        else:
            writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not leg.complete and leg.cut is None and leg.error is None:
        leg.error = "the connection ended before the response"
    return leg


def run_client(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a fresh event loop (uvloop's when installed, as the hub's client does)
    with the cyclic garbage collector off: a full collection over thousands of kept tokens
    would stall every reader at once and show up as resume or cancel time."""
    gc.collect()
    gc.disable()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(main)
    finally:
        gc.enable()


class LoopLag:
    """How late this event loop wakes a task that sleeps ``period_s``, in ms, while it runs
    (bounded in count): a busy client shows here, so its delays are not taken for the
    server's."""

    def __init__(self, period_s: float = 0.005, limit: int = 100_000) -> None:
        self.period_s = period_s
        self.limit = limit
        self.lags_ms: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while len(self.lags_ms) < self.limit:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.lags_ms.append(max(0.0, loop.time() - due) * 1000.0)

    def __enter__(self) -> LoopLag:
        self.task = asyncio.ensure_future(self.run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()


async def send_cancel(host: str, port: int, answer_id: str, deadline_s: float) -> tuple[int, Any]:
    """``POST …/<id>/cancel``: its status and JSON body (None when it had none)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), deadline_s)
    try:
        writer.write(cancel_request(host, port, answer_id))
        raw = await asyncio.wait_for(reader.read(), deadline_s)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if b"chunked" in head.lower():  # one chunk is all a small JSON body takes
        body = body.split(b"\r\n", 2)[1] if body.count(b"\r\n") >= 2 else b""
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None
