"""The unit every source yields and every framing encodes. Pure: no I/O, no Flask."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from showcase.pure.framing.ndjson import encode_json


class Message:
    """One message of a stream.

    ``data`` is the JSON payload (``seq`` and ``ts`` first, then the source's fields);
    ``text`` is how the message reads as plain text in the ``chunked`` mode;
    ``event`` is the source's name, used as the SSE event type.

    Each form is built once, and only when a mode asks for it: ``json_bytes`` (compact JSON,
    UTF-8, no CR or LF) and ``text``. A source that can render a form cheaper than the
    generic path (a template, a cached escape) passes it in, or overrides ``render_json`` /
    ``render_text``. Plain ``__slots__`` rather than a frozen dataclass: its ``__init__``
    costs a fifth as much, and a paced stream builds one per message.
    """

    __slots__ = ("seq", "ts", "event", "data", "_json", "_text")

    def __init__(
        self,
        seq: int,
        ts: float,
        event: str,
        data: dict[str, Any],
        text: str | None = None,
        json_bytes: bytes | None = None,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.event = event
        self.data = data
        self._text = text
        self._json = json_bytes

    def __repr__(self) -> str:
        return (
            f"Message(seq={self.seq!r}, ts={self.ts!r}, event={self.event!r}, data={self.data!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.seq, self.ts, self.event, self.data, self.text) == (
            other.seq,
            other.ts,
            other.event,
            other.data,
            other.text,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable caches: not a dict key

    @property
    def json_bytes(self) -> bytes:
        """The payload as compact JSON on one line (JSON escapes CR and LF), UTF-8."""
        if self._json is None:
            self._json = self.render_json()
        return self._json

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.render_text()
        return self._text

    @property
    def text_bytes(self) -> bytes:
        """``text`` as UTF-8: what the ``chunked`` mode writes."""
        return self.text.encode()

    def to_json(self) -> str:
        return self.json_bytes.decode()

    def render_json(self) -> bytes:
        return encode_json(self.data).encode()

    def render_text(self) -> str:
        """Sources without a plain-text form read as their JSON, one line each."""
        return self.to_json() + "\n"


@dataclass(frozen=True, slots=True)
class Pause:
    """A source asks its consumer to wait this long before the next message."""

    seconds: float = field(default=0.0)
