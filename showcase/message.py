"""The unit every source yields and every framing encodes. Pure: no I/O, no Flask."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# One encoder for every message: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a stream.

    ``data`` is the JSON payload (``seq`` and ``ts`` first, then the source's fields);
    ``text`` is how the message reads as plain text in the ``chunked`` mode;
    ``event`` is the source's name, used as the SSE event type.
    """

    seq: int
    ts: float
    event: str
    data: dict[str, Any]
    text: str

    def to_json(self) -> str:
        """The payload as compact JSON on one line (``json.dumps`` escapes CR/LF)."""
        return _ENCODER.encode(self.data)


@dataclass(frozen=True, slots=True)
class Pause:
    """A source asks its consumer to wait this long before the next message."""

    seconds: float = field(default=0.0)
