"""One ``Mode`` per streaming mode: media type, how a message is framed, what a heartbeat is.

Pure: uses ``showcase.pure.framing`` only; no Flask, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from showcase.pure.framing.sse import SSE_MIMETYPE, encode_comment, encode_event
from showcase.pure.message import Message

RETRY_MS = 2000  # sent first on every SSE stream: how long EventSource waits to reconnect


@lru_cache(maxsize=256)
def event_field(event: str) -> bytes:
    """The ``event:`` value as bytes, checked once per name: CR, LF and NUL are refused."""
    encode_event(event=event)  # raises ValueError for a name that would break the framing
    return event.encode()


def encode_sse(message: Message) -> bytes:
    """``encode_event`` for the one shape every message has, in one formatting step: the id is
    an int, the event name is checked once (``event_field``), and compact JSON holds no CR/LF."""
    return b"event: %b\nid: %d\ndata: %b\n\n" % (
        event_field(message.event),
        message.seq,
        message.json_bytes,
    )


def encode_ndjson(message: Message) -> bytes:
    return message.json_bytes + b"\n"


def encode_chunked(message: Message) -> bytes:
    return message.text_bytes


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    mimetype: str
    encode: Callable[[Message], bytes]
    preamble: bytes = b""
    # Bytes that keep an idle stream alive (and detect a departed client) without
    # changing what a parser yields; None where the format has no such thing.
    heartbeat: bytes | None = None
    resumable: bool = False


MODES: dict[str, Mode] = {
    "sse": Mode(
        name="sse",
        mimetype=SSE_MIMETYPE,
        encode=encode_sse,
        preamble=encode_event(retry=RETRY_MS),
        heartbeat=encode_comment("heartbeat"),
        resumable=True,
    ),
    # A blank line is skipped by NDJSON readers (ours and most others).
    "ndjson": Mode(
        name="ndjson",
        mimetype="application/x-ndjson",
        encode=encode_ndjson,
        heartbeat=b"\n",
    ),
    # Plain text has no framing: any heartbeat byte would be read as content.
    "chunked": Mode(name="chunked", mimetype="text/plain; charset=utf-8", encode=encode_chunked),
}
