"""An SSE hop: the bytes of an upstream event stream in, the same events out.

Pure: no I/O, no Flask. The bytes come from ``showcase.chat.upstream`` (a real connection);
an upstream failure reaches this layer as ``UpstreamError`` and leaves as ``event: error``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from showcase.framing.ndjson import encode_json
from showcase.framing.sse import SSEError, SSEParser, encode_comment, encode_event
from showcase.message import Message, Pause
from showcase.modes import Mode
from showcase.sources import Clock, now_ms

MIMETYPE = "text/event-stream; charset=utf-8"
HEARTBEAT = encode_comment("heartbeat")
# A zero pause: iter_body writes what it holds before the source blocks on the next read.
FLUSH = Pause(0.0)


class UpstreamError(Exception):
    """The upstream failed: ``reason`` is a short code (``upstream_refused``,
    ``upstream_status``, ``upstream_broken``, ``upstream_timeout``, ``upstream_invalid``),
    ``detail`` says what happened."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail}


def encode_forwarded(message: Message) -> bytes:
    """``message.data`` holds ``encode_event``'s arguments: data, event, id, retry, comment."""
    return encode_event(**message.data)


def error_message(seq: int, error: UpstreamError, clock: Clock = time.time) -> Message:
    """The relay's own last event: ``event: error`` with ``{"reason", "detail"}``."""
    data = {"event": "error", "data": encode_json(error.to_json())}
    return Message(seq=seq, ts=now_ms(clock), event="error", data=data, text=data["data"])


FORWARD_MODE = Mode(
    name="sse-relay", mimetype=MIMETYPE, encode=encode_forwarded, heartbeat=HEARTBEAT
)


def _holds_comment(chunk: bytes, at_line_start: bool) -> bool:
    """A line starting with a colon begins in ``chunk`` (a read may start mid-line)."""
    return (at_line_start and chunk[:1] == b":") or b"\n:" in chunk or b"\r:" in chunk


def iter_forwarded(
    chunks: Iterable[bytes], *, clock: Clock = time.time
) -> Iterator[Message | Pause]:
    """Every upstream event as a Message that encodes back to the same event: ``event``
    (omitted when it is ``message``), ``id`` (whenever one is in effect), ``data``; a change
    of ``retry`` as a retry field; a read that brought only comments as a heartbeat. After
    each read, a flush. An ``UpstreamError`` (or an SSE line past the parser's limits) ends
    the stream with ``event: error``; an upstream that just ends, ends it cleanly.
    """
    parser = SSEParser()
    seq = 0
    retry: int | None = None
    last_id = ""
    at_line_start = True
    try:
        for chunk in chunks:
            events = parser.feed(chunk)
            comment = _holds_comment(chunk, at_line_start)
            at_line_start = chunk[-1:] in (b"\n", b"\r")
            ts = now_ms(clock)
            if parser.retry != retry:
                retry = parser.retry
                yield Message(seq, ts, "retry", {"retry": retry}, "")
            if not events:
                if comment:
                    yield Message(seq, ts, "comment", {"comment": "heartbeat"}, "")
                    yield FLUSH
                continue
            for event in events:
                data: dict[str, Any] = {"data": event.data}
                if event.event != "message":
                    data["event"] = event.event
                if event.id or event.id != last_id:
                    data["id"] = last_id = event.id
                yield Message(seq, ts, event.event, data, event.data)
                seq += 1
            yield FLUSH
        parser.close()
    except UpstreamError as error:
        yield error_message(seq, error, clock)
    except SSEError as error:
        yield error_message(seq, UpstreamError("upstream_invalid", str(error)), clock)
