"""What a hub stream carries: ``HubEvent`` (a ``Message``) and the two hub modes, SSE and NDJSON.

Pure: no I/O, no Flask. An event's bytes are built once, on first use, and shared by every
subscriber of its room: a publish to 10,000 subscribers encodes once per mode, not 10,000 times.
"""

from __future__ import annotations

from typing import Any, cast

from showcase.pure.framing.chunked import encode_chunk
from showcase.pure.framing.ndjson import encode_json
from showcase.pure.framing.sse import SSE_MIMETYPE, encode_comment, encode_event
from showcase.pure.message import Message
from showcase.pure.modes import RETRY_MS, Mode

MESSAGE = "message"
PRESENCE = "presence"
RESET = "reset"
NOTICE = "notice"  # the last words to a subscriber the server cuts (a comment in SSE)
HEARTBEAT = "heartbeat"
ERROR = "error"  # the broker failed: the stream ends, the client reconnects and resumes


class HubEvent(Message):
    """One item of a room's stream. ``id`` is the SSE id ("" for events outside the log:
    presence, reset, notices, heartbeats, which carry none, so a reconnect resumes from the
    last *message*). ``seq`` orders messages of one room (the id as a number in memory)."""

    __slots__ = ("id", "_sse", "_ndjson", "_wire")

    def __init__(self, seq: int, ts: float, event: str, data: dict[str, Any], id: str = "") -> None:
        super().__init__(seq, ts, event, data)
        self.id = id
        self._sse: bytes | None = None
        self._ndjson: bytes | None = None
        self._wire: dict[tuple[str, bool], bytes] | None = None

    @property
    def sse_bytes(self) -> bytes:
        """The SSE block: ``event``, ``id`` (messages only), ``data``; a comment for notices."""
        if self._sse is None:
            if self.event == HEARTBEAT:
                self._sse = encode_comment(HEARTBEAT)
            elif self.event == NOTICE:
                self._sse = encode_comment(f"disconnected: {self.data['reason']}")
            else:
                self._sse = encode_event(
                    self.json_bytes.decode(), event=self.event, id=self.id or None
                )
        return self._sse

    @property
    def ndjson_bytes(self) -> bytes:
        """One JSON line: ``{"event": ..., **data}``; a blank line for a heartbeat."""
        if self._ndjson is None:
            if self.event == HEARTBEAT:
                self._ndjson = b"\n"
            else:
                self._ndjson = encode_json({"event": self.event, **self.data}).encode() + b"\n"
        return self._ndjson

    def wire(self, framing: tuple[str, bool]) -> bytes:
        """The bytes a stream puts on the wire for this event, for ``framing`` = (mode,
        chunked): mode ``sse`` or ``ndjson``, in an HTTP/1.1 chunk when chunked (the framing
        gunicorn's ``write`` adds). Built once per room, for writes straight to the sockets
        of its subscribers (hub/direct.py)."""
        wire = self._wire
        if wire is None:
            wire = self._wire = {}
        data = wire.get(framing)
        if data is None:
            mode, chunked = framing
            data = self.sse_bytes if mode == "sse" else self.ndjson_bytes
            if chunked:
                data = encode_chunk(data)
            wire[framing] = data
        return data


def message_event(seq: int, id: str, room: str, user: str, text: str, ts: float) -> HubEvent:
    """A published message: JSON data ``{id, room, user, text, ts}`` (ts: epoch ms)."""
    data = {"id": id, "room": room, "user": user, "text": text, "ts": ts}
    return HubEvent(seq, ts, MESSAGE, data, id=id)


def presence_event(room: str, count: int, ts: float) -> HubEvent:
    return HubEvent(0, ts, PRESENCE, {"room": room, "count": count})


def reset_event(room: str, oldest: str | None, last_event_id: str, ts: float) -> HubEvent:
    """The server cannot resume after ``last_event_id`` (unknown, or older than its log):
    ``oldest`` is the first id it still holds (None: none), and replay starts there."""
    data = {"room": room, "oldest": oldest, "last_event_id": last_event_id[:64]}
    return HubEvent(0, ts, RESET, data)


def hub_error_event(reason: str, ts: float) -> HubEvent:
    return HubEvent(0, ts, ERROR, {"reason": reason})


def notice_event(reason: str, ts: float) -> HubEvent:
    return HubEvent(0, ts, NOTICE, {"reason": reason})


HEARTBEAT_EVENT = HubEvent(0, 0.0, HEARTBEAT, {})


def encode_hub_sse(message: Message) -> bytes:
    return cast(HubEvent, message).sse_bytes


def encode_hub_ndjson(message: Message) -> bytes:
    return cast(HubEvent, message).ndjson_bytes


HUB_SSE = Mode(
    name="sse",
    mimetype=SSE_MIMETYPE,
    encode=encode_hub_sse,
    preamble=encode_event(retry=RETRY_MS),
    heartbeat=HEARTBEAT_EVENT.sse_bytes,
    resumable=True,
)
# NDJSON has no ids a client sends back: it cannot resume (docs/hub.md).
HUB_NDJSON = Mode(
    name="ndjson",
    mimetype="application/x-ndjson",
    encode=encode_hub_ndjson,
    heartbeat=b"\n",
)
