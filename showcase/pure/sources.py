"""Sources: what a stream says, independent of how it is framed. No HTTP here.

A source is a generator of ``Message`` and ``Pause`` items. It stamps ``ts`` when its
consumer asks for the next message, so a pause the consumer waits out is in the timing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from showcase.pure.framing.ndjson import encode_json
from showcase.pure.message import Message, Pause

Clock = Callable[[], float]
SourceItems = Iterator[Message | Pause]

# Extra pause after a token, as multiples of the interval: a typist stops at punctuation.
PAUSE_FACTORS = {",": 3.0, ";": 3.0, ":": 3.0, ".": 6.0, "!": 6.0, "?": 6.0, "\n": 8.0}


def now_ms(clock: Clock = time.time) -> float:
    """Unix epoch milliseconds, to the microsecond."""
    if clock is time.time:
        # Integer arithmetic on the ns clock: no float multiply and no round() per message.
        return time.time_ns() // 1000 / 1000.0
    return round(clock() * 1000.0, 3)


class Tick(Message):
    """A ``ticks`` message. Its JSON and text are rendered from the stream's one pad, kept as
    bytes, so a 64 KiB pad is neither JSON-escaped nor copied to text for every message, and a
    form no mode asks for is never built."""

    __slots__ = ("_pad",)

    def __init__(self, seq: int, ts: float, pad: str, pad_bytes: bytes) -> None:
        # Every slot set here rather than through Message.__init__: one call less per message.
        self.seq = seq
        self.ts = ts
        self.event = "ticks"
        self.data = {"seq": seq, "ts": ts, "pad": pad}
        self._json = self._text = None
        self._pad = pad_bytes

    def render_json(self) -> bytes:
        # The pad is only "x": its JSON is itself in quotes. %a is repr() (what json writes
        # for a float) without the str round trip.
        return b'{"seq":%d,"ts":%a,"pad":"%b"}' % (self.seq, self.ts, self._pad)

    @property
    def text_bytes(self) -> bytes:
        return b"tick %d %.3f %b\n" % (self.seq, self.ts, self._pad)

    def render_text(self) -> str:
        return self.text_bytes.decode()


def iter_ticks(
    count: int, interval_ms: float, size: int, *, start: int = 0, clock: Clock = time.time
) -> SourceItems:
    """Messages ``start`` … ``count - 1``, one per ``interval_ms``, each with ``size`` pad bytes."""
    pad = "x" * size
    pad_bytes = pad.encode()
    pause = Pause(interval_ms / 1000.0) if interval_ms > 0 else None
    for seq in range(start, count):
        if seq > start and pause is not None:
            yield pause
        yield Tick(seq, now_ms(clock), pad, pad_bytes)


@cache
def passage_tokens() -> tuple[str, ...]:
    """The bundled passage cut the way chat models stream it: words with their leading space."""
    text = resources.files("showcase.pure").joinpath("passage.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    tokens: list[str] = []
    for paragraph in paragraphs:
        tokens.extend(re.findall(r" ?[\w'’-]+| ?[^\w\s]", paragraph))
        tokens.append("\n\n")
    return tuple(tokens)


@cache
def passage_tokens_json() -> tuple[bytes, ...]:
    """Each passage token as a JSON string, escaped once per process instead of per message."""
    return tuple(encode_json(token).encode() for token in passage_tokens())


def text_message(seq: int, ts: float, token: str, token_json: bytes) -> Message:
    data: dict[str, Any] = {"seq": seq, "ts": ts, "token": token}
    payload = b'{"seq":%d,"ts":%a,"token":%b}' % (seq, ts, token_json)
    return Message(seq, ts, "text", data, text=token, json_bytes=payload)


def iter_text(
    count: int, interval_ms: float, size: int = 0, *, start: int = 0, clock: Clock = time.time
) -> SourceItems:
    """Token ``seq`` of the passage (cycling), paused longer after punctuation and paragraphs.

    ``size`` is accepted for a uniform signature; the text source carries no padding.
    """
    tokens = passage_tokens()
    tokens_json = passage_tokens_json()
    for seq in range(start, count):
        if seq > start and interval_ms > 0:
            previous = tokens[(seq - 1) % len(tokens)]
            yield Pause(interval_ms * PAUSE_FACTORS.get(previous[-1], 1.0) / 1000.0)
        index = seq % len(tokens)
        yield text_message(seq, now_ms(clock), tokens[index], tokens_json[index])


SourceFactory = Callable[..., SourceItems]
SOURCES: dict[str, SourceFactory] = {"ticks": iter_ticks, "text": iter_text}


def make_source(
    name: str, count: int, interval_ms: float, size: int, *, start: int = 0
) -> SourceItems:
    """The named source's items; ``KeyError`` for an unknown name (validated earlier)."""
    return SOURCES[name](count, interval_ms, size, start=start)
