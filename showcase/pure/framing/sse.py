"""Server-Sent Events: the encoder and an incremental parser (WHATWG HTML §9.2).

Pure: no I/O; must never import Flask, Werkzeug, gevent, gunicorn, requests or sockets.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEError", "SSEParser", "ServerSentEvent", "encode_comment", "encode_event"]

# §9.2.6: lines end at CRLF, LF or CR, and only there. str.splitlines() also splits on
# U+2028, U+0085, \x0b, \x0c, ... which would corrupt data (cf. httpx-sse).
_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"
SSE_MEDIA_TYPE = "text/event-stream"
SSE_MIMETYPE = f"{SSE_MEDIA_TYPE}; charset=utf-8"  # what every SSE response sends
MAX_LINE_CHARS = 1 << 20
MAX_EVENT_CHARS = 16 << 20
# A retry field of more digits (leading zeros aside) is ignored: 10 digits already make
# some 115 days of ms, and int() raises past 4,300 digits.
MAX_RETRY_DIGITS = 10


class SSEError(ValueError):
    """The stream broke a limit of the parser (a line or an event too long)."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event, as a browser's EventSource would deliver it.

    ``id`` is the last event ID in effect at dispatch (it persists across events);
    ``retry`` is the reconnection time in ms most recently set, or None if never set.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


def _field_lines(name: str, value: str) -> list[str]:
    if "\n" not in value and "\r" not in value:
        return [f"{name}: {value}\n"]  # the common case: no regex pass over a large payload
    return [f"{name}: {line}\n" for line in _LINE_END.split(value)]


def _comment_lines(text: str) -> list[str]:
    return [f": {line}\n" if line else ":\n" for line in _LINE_END.split(text)]


def encode_event(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Encode one event block as UTF-8: comment, event, id, retry, data lines, then a blank line.

    ``data`` is split on CR, LF and CRLF only, one ``data:`` line each, so the parser
    rebuilds it with LF line ends (U+2028, U+0085 pass through verbatim). ``id=""`` is
    written (it resets the last event ID) and ``id="0"`` is never dropped.

    Raises ValueError if nothing is given, if ``event`` or ``id`` holds CR or LF (they
    would inject fields), if ``id`` holds NUL (§9.2.6: the parser would ignore it), or if
    ``retry`` is not a non-negative int.
    """
    if data is None and event is None and id is None and retry is None and comment is None:
        raise ValueError("encode_event needs at least one of data, event, id, retry, comment")
    lines: list[str] = []
    if comment is not None:
        lines += _comment_lines(comment)
    if event is not None:
        if "\r" in event or "\n" in event:
            raise ValueError(f"SSE event type must not contain CR or LF: {event!r}")
        lines.append(f"event: {event}\n")
    if id is not None:
        if "\r" in id or "\n" in id or "\0" in id:
            raise ValueError(f"SSE id must not contain CR, LF or NUL: {id!r}")
        lines.append(f"id: {id}\n")
    if retry is not None:
        # bool is an int subclass; "retry: True" would be nonsense on the wire.
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"SSE retry must be a non-negative int (ms): {retry!r}")
        lines.append(f"retry: {retry}\n")
    if data is not None:
        lines += _field_lines("data", data)
    lines.append("\n")
    return "".join(lines).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """Encode a comment block (a heartbeat): ``b": text\\n\\n"``, or ``b":\\n\\n"`` if empty.

    Text holding CR/LF becomes several comment lines; parsers ignore all of them.
    """
    return ("".join(_comment_lines(text)) + "\n").encode("utf-8")


class SSEParser:
    """Incremental parser for ``text/event-stream`` (WHATWG HTML §9.2.6).

    ``feed(bytes)`` returns the events completed by those bytes; ``close()`` marks the end
    of the stream: an unterminated last event is discarded, as the spec says, and ``[]``
    is returned. After ``close()`` the parser may be fed a reconnected stream: it keeps
    ``last_event_id`` and ``retry``, as an EventSource does.

    Raises SSEError when a line exceeds ``max_line_chars`` or an event's data exceeds
    ``max_event_chars``; discard the parser after that. A
    ``retry`` field of more than ``MAX_RETRY_DIGITS`` digits (leading zeros aside) is
    ignored, like one that is not all ASCII digits.
    """

    def __init__(
        self, *, max_line_chars: int = MAX_LINE_CHARS, max_event_chars: int = MAX_EVENT_CHARS
    ) -> None:
        self._max_line = max_line_chars
        self._max_event = max_event_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True  # no character decoded yet: a BOM here is stripped
        self._pending: list[str] = []  # pieces of the unterminated line so far
        self._pending_len = 0
        self._after_cr = False  # the last line ended with CR: an LF next is part of it
        self._data: list[str] = []  # data buffer, one item per data field
        self._data_len = 0
        self._event_type = ""
        self._id_buffer = ""
        self._last_event_id = ""
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The last event ID string, updated at each dispatch (what a reconnect would send)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in ms most recently set by a valid ``retry`` field."""
        return self._retry

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Parse more bytes; return the events they complete, in order."""
        # The incremental decoder holds back a multi-byte character split across feeds.
        text = self._decoder.decode(data)
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text[0] == _BOM:  # §9.2.6: one leading U+FEFF is ignored, only at the start
                text = text[1:]
        if self._after_cr:
            self._after_cr = False
            if text[:1] == "\n":  # the CRLF was split across feeds: one line end, not two
                text = text[1:]
        if "\n" not in text and "\r" not in text:
            # No line end yet: keep the pieces, so a long line fed in bits stays linear.
            self._pending.append(text)
            self._pending_len += len(text)
            if self._pending_len > self._max_line:
                raise SSEError(f"SSE line longer than {self._max_line} characters")
            return []
        if self._pending:
            text = "".join(self._pending) + text
        # str.split runs in C; only the last piece can be an unterminated line.
        lines = text.split("\n") if "\r" not in text else _LINE_END.split(text)
        last = lines.pop()
        self._pending = [last] if last else []
        self._pending_len = len(last)
        self._after_cr = text[-1] == "\r"
        if len(text) > self._max_line and max(map(len, [last, *lines])) > self._max_line:
            raise SSEError(f"SSE line longer than {self._max_line} characters")
        events: list[ServerSentEvent] = []
        for line in lines:
            if line:
                self._process_field(line)
            else:
                self._dispatch(events)
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: drop any unterminated event (never dispatched) and reset buffers."""
        self._decoder.reset()
        self._at_start = True
        self._pending = []
        self._pending_len = 0
        self._after_cr = False
        self._data = []
        self._data_len = 0
        self._event_type = ""
        # A reconnection starts from the committed ID, as browsers do (Chromium passes
        # last_event_id_ to each new EventSourceParser).
        self._id_buffer = self._last_event_id
        return []

    def _process_field(self, line: str) -> None:
        if line[0] == ":":
            return  # a comment
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_len += len(value) + 1
            if self._data_len > self._max_event:
                raise SSEError(f"SSE event data longer than {self._max_event} characters")
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif name == "retry":
            # ASCII digits only: str.isdigit() would also accept "²" or Arabic-Indic digits.
            if value and value.isascii() and value.isdigit():
                digits = value.lstrip("0") or "0"
                # Past the bound the field is ignored, as one that is not all digits is:
                # never int()'s ValueError on thousands of digits.
                if len(digits) <= MAX_RETRY_DIGITS:
                    self._retry = int(digits)
        # Any other field name is ignored.

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        self._last_event_id = self._id_buffer
        if not self._data:
            self._event_type = ""
            return
        # Joining with "\n" equals the spec's buffer with its trailing LF removed.
        events.append(
            ServerSentEvent(
                event=self._event_type or "message",
                data="\n".join(self._data),
                id=self._last_event_id,
                retry=self._retry,
            )
        )
        self._data = []
        self._data_len = 0
        self._event_type = ""
