"""The typewriter: how long to wait after each character, and the relay source that retypes
an upstream's deltas one character at a time. Pure: no I/O; clocks and randomness are passed in.

Pauses are drawn at random within a range per class of the character just typed: longest
after a sentence end or a line break (Latin and Chinese punctuation alike), shorter after a
comma or an enumeration mark, a base interval otherwise. ``speed`` divides them all.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator

from showcase.chat.answer import end_message
from showcase.chat.answer import error_message as answer_error
from showcase.chat.coze import DELTA
from showcase.chat.forward import UpstreamError
from showcase.pure.framing.sse import SSEError, SSEParser
from showcase.pure.json_body import is_encodable
from showcase.pure.message import Message, Pause
from showcase.pure.sources import Clock, now_ms

SENTENCE_END_CHARS = frozenset(".!?…\n。！？")
CLAUSE_CHARS = frozenset(",;:，、；：")
# Seconds at speed 1. The ranges do not overlap, so the order of the classes holds for any
# draw: sentence > clause > base.
SENTENCE_PAUSE_S = (0.20, 0.30)
CLAUSE_PAUSE_S = (0.08, 0.12)
BASE_PAUSE_S = (0.02, 0.04)


def pause_class(char: str) -> str:
    """``"sentence"``, ``"clause"`` or ``"base"``."""
    if char in SENTENCE_END_CHARS:
        return "sentence"
    if char in CLAUSE_CHARS:
        return "clause"
    return "base"


RANGES_S = {"sentence": SENTENCE_PAUSE_S, "clause": CLAUSE_PAUSE_S, "base": BASE_PAUSE_S}


def pause_after(char: str, speed: float = 1.0, rng: random.Random | None = None) -> float:
    """Seconds to wait after typing ``char``: uniform within its class's range, ÷ ``speed``."""
    low, high = RANGES_S[pause_class(char)]
    return (rng or random).uniform(low, high) / speed


def iter_typed(
    chunks: Iterable[bytes],
    *,
    speed: float = 1.0,
    prompt_tokens: int = 0,
    rng: random.Random | None = None,
    clock: Clock = time.time,
    monotonic: Clock = time.monotonic,
) -> Iterator[Message | Pause]:
    """Retype a Coze-style upstream: every character of every upstream delta as its own
    token Message, due ``pause_after(previous)`` after the previous one (time spent waiting
    for the upstream counts toward it), then the end Message with the whole content once
    the upstream says ``[DONE]``. An upstream error event, an ``UpstreamError``, malformed
    data or an end before ``[DONE]`` gives an error Message, last.
    """
    parser = SSEParser()
    started = now_ms(clock)
    seq = 0
    typed: list[str] = []
    due = 0.0
    try:
        for chunk in chunks:
            for event in parser.feed(chunk):
                if event.data == "[DONE]" or event.event == "done":
                    yield end_message(
                        seq, started, "stop", prompt_tokens, content="".join(typed), clock=clock
                    )
                    return
                if event.event == "error":
                    raise UpstreamError("upstream_error", event.data[:500])
                if event.event != DELTA:
                    continue  # completed, chat.created, ...: the relay makes its own
                for char in delta_content(event.data):
                    if seq:
                        wait = due - monotonic()
                        if wait > 0:
                            yield Pause(wait)
                    ts = now_ms(clock)
                    yield Message(seq, ts, "token", {"seq": seq, "ts": ts, "token": char}, char)
                    typed.append(char)
                    seq += 1
                    due = monotonic() + pause_after(char, speed, rng)
        raise UpstreamError("upstream_broken", "the upstream ended before [DONE]")
    except UpstreamError as error:
        yield answer_error(seq, error.reason, error.detail, clock=clock)
    except SSEError as error:
        yield answer_error(seq, "upstream_invalid", str(error), clock=clock)


def delta_content(data: str) -> str:
    """The ``content`` string of a delta event's JSON; UpstreamError if there is none."""
    try:
        body = json.loads(data)
    except ValueError:
        raise UpstreamError("upstream_invalid", "a delta event's data is not JSON") from None
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str):
        raise UpstreamError("upstream_invalid", "a delta event has no string content")
    if not is_encodable(content):  # a lone surrogate escape: no stream could encode it
        raise UpstreamError("upstream_invalid", "a delta event's content is not Unicode text")
    return content
