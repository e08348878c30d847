"""The load generator's polling client: ``GET /poll`` again and again on one keep-alive
connection, each poll asking for the messages after the last one it got (``after=next``,
``start`` as the first answer gave it), until an answer says ``done``.

Long polling (``wait`` > 0): the next poll leaves as soon as an answer is in. Short polling
(``wait=0``): the server never waits, the client polls on a timer, one poll per ``interval``
(the stream's), so a message waits for the next poll.

Latency here is receive − the message's due time (``start`` + its offset on the schedule,
showcase/pure/poll.py), not receive − ``ts``: a poll's ``ts`` is the time its answer was
built, which hides the time a message waited for the poll that fetched it, the very cost
polling adds. On a stream ``ts`` is taken when the message is made, at its due time.
The record also counts requests, their bytes and the responses' heads.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import httptools

from benchmarks.load.wire import Plan, RecordProtocol, StreamRecord
from showcase.pure.poll import DEFAULT_WAIT_MS, offset_ms

# The query parameters the client sets on every poll itself.
OWN_PARAMS = ("after", "start")
DEFAULT_INTERVAL_MS = 100.0


def open_poll(host: str, record: StreamRecord, plan: Plan) -> RecordProtocol:
    """The protocol polling ``record.path`` (``/poll?count=…&interval=…&wait=…``)."""
    return PollProtocol(host, record, plan.latency, plan.keep)


class PollProtocol(RecordProtocol):
    """One client's poll loop on one connection (HTTP/1.1 keep-alive, one poll at a time)."""

    def __init__(self, host: str, record: StreamRecord, latency: bool, keep: bool) -> None:
        self.host = host
        self.record = record
        self.latency = latency
        self.keep = keep
        self.done = asyncio.get_running_loop().create_future()
        self.transport = None
        parts = urlsplit(record.path)
        self.route = parts.path
        query = dict(parse_qsl(parts.query))
        self.query = {k: v for k, v in query.items() if k not in OWN_PARAMS}
        self.source = query.get("source", "ticks")
        self.interval_ms = float(query.get("interval", DEFAULT_INTERVAL_MS))
        wait_ms = int(query.get("wait", DEFAULT_WAIT_MS))
        self.period_s = self.interval_ms / 1000.0 if wait_ms == 0 else 0.0
        self.after = int(query.get("after", -1))
        self.start: float | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.head = b""
        self.head_done = False
        self.body: list[bytes] = []
        self.now = 0.0
        self.sent_at = 0.0  # loop time of the last poll sent (the short-poll timer's base)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.record.t_request = time.time()
        self.send_poll()

    def send_poll(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        query = {**self.query, "after": str(self.after)}
        if self.start is not None:
            query["start"] = repr(self.start)
        request = (
            f"GET {self.route}?{urlencode(query)} HTTP/1.1\r\nHost: {self.host}\r\n\r\n"
        ).encode()
        self.record.requests += 1
        self.record.request_bytes += len(request)
        self.head_done = False
        self.sent_at = asyncio.get_running_loop().time()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.now = time.time()
        self.count_read(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.fail(f"bad HTTP: {error}")

    def on_headers_complete(self) -> None:
        self.record.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        record = self.record
        if record.ttfb_s is None:
            record.ttfb_s = self.now - record.t_request
        record.body_bytes += len(body)
        self.body.append(body)

    def on_message_complete(self) -> None:
        record = self.record
        body = b"".join(self.body)
        self.body.clear()
        if record.status != 200:
            self.fail(f"status {record.status}: {body[:200]!r}")
            return
        try:
            answer = json.loads(body)
            start = float(answer["start"])
            after, done = int(answer["next"]), bool(answer["done"])
            seqs = [int(message["seq"]) for message in answer["messages"]]
        except (ValueError, KeyError, TypeError) as error:
            self.fail(f"bad answer: {error}")
            return
        self.start = start
        for seq in seqs:
            if seq <= self.after:
                self.fail(f"seq {seq} again (after {self.after})")
                return
            if not self.latency:
                continue
            if record.messages == 0:
                record.t_first_message = self.now
            record.messages += 1
            if self.keep:
                due = start + offset_ms(self.source, seq, self.interval_ms)
                record.latencies_ms.append(self.now * 1000.0 - due)
                record.received_at.append(self.now)
        self.after = after
        if done:
            record.complete = True
            record.t_end = self.now
            if self.transport is not None:
                self.transport.close()
            return
        loop = asyncio.get_running_loop()
        # Out of the parser's callback: the next answer's bytes must meet a parser at rest.
        loop.call_at(max(loop.time(), self.sent_at + self.period_s), self.send_poll)
