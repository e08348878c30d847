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

from showcase.message import Message, Pause

Clock = Callable[[], float]
SourceItems = Iterator[Message | Pause]

# Extra pause after a token, as multiples of the interval: a typist stops at punctuation.
PAUSE_FACTORS = {",": 3.0, ";": 3.0, ":": 3.0, ".": 6.0, "!": 6.0, "?": 6.0, "\n": 8.0}


def now_ms(clock: Clock = time.time) -> float:
    """Unix epoch milliseconds with sub-millisecond precision."""
    return round(clock() * 1000.0, 3)


def iter_ticks(
    count: int, interval_ms: float, size: int, *, start: int = 0, clock: Clock = time.time
) -> SourceItems:
    """Messages ``start`` … ``count - 1``, one per ``interval_ms``, each with ``size`` pad bytes."""
    pad = "x" * size
    for seq in range(start, count):
        if seq > start and interval_ms > 0:
            yield Pause(interval_ms / 1000.0)
        ts = now_ms(clock)
        yield Message(
            seq=seq,
            ts=ts,
            event="ticks",
            data={"seq": seq, "ts": ts, "pad": pad},
            text=f"tick {seq} {ts:.3f} {pad}\n",
        )


@cache
def passage_tokens() -> tuple[str, ...]:
    """The bundled passage cut the way chat models stream it: words with their leading space."""
    text = resources.files("showcase").joinpath("passage.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    tokens: list[str] = []
    for paragraph in paragraphs:
        tokens.extend(re.findall(r" ?[\w'’-]+| ?[^\w\s]", paragraph))
        tokens.append("\n\n")
    return tuple(tokens)


def iter_text(
    count: int, interval_ms: float, size: int = 0, *, start: int = 0, clock: Clock = time.time
) -> SourceItems:
    """Token ``seq`` of the passage (cycling), paused longer after punctuation and paragraphs.

    ``size`` is accepted for a uniform signature; the text source carries no padding.
    """
    tokens = passage_tokens()
    for seq in range(start, count):
        if seq > start and interval_ms > 0:
            previous = tokens[(seq - 1) % len(tokens)]
            yield Pause(interval_ms * PAUSE_FACTORS.get(previous[-1], 1.0) / 1000.0)
        token = tokens[seq % len(tokens)]
        ts = now_ms(clock)
        yield Message(
            seq=seq, ts=ts, event="text", data={"seq": seq, "ts": ts, "token": token}, text=token
        )


SourceFactory = Callable[..., SourceItems]
SOURCES: dict[str, SourceFactory] = {"ticks": iter_ticks, "text": iter_text}


def make_source(
    name: str, count: int, interval_ms: float, size: int, *, start: int = 0
) -> SourceItems:
    """The named source's items; ``KeyError`` for an unknown name (validated earlier)."""
    return SOURCES[name](count, interval_ms, size, start=start)
