"""The answer a chat endpoint types: the bundled passage, or a canned answer picked from the
prompt, as a source of ``Message`` and ``Pause`` items. Pure: no Flask, no I/O.

Items: one ``Message(event="token")`` per token (``data["token"]``), paced like the ``text``
source, then one ``Message(event="end")`` whose data carries ``finish_reason`` and counts.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable, Iterator

from showcase.pure.message import Message, Pause
from showcase.pure.sources import PAUSE_FACTORS, Clock, now_ms, passage_tokens

MODEL = "showcase-typist"

# Prompt word (lower case) -> answer. A prompt in Chinese gets the Chinese answer, so the
# typewriter's pauses after 。，、 can be seen as well as after . and ,.
CANNED = {
    "hello": "Hello! I am the showcase's typist. Ask me anything: I will answer with a passage "
    "about streaming, one token at a time.",
    "sse": "Server-Sent Events: one event per message, each with an id, a type and data. "
    "The browser reconnects by itself and sends Last-Event-ID, so a stream resumes.",
    "html": "A chat box must show an answer as text: <b>this</b> is not bold, and "
    "<img src=x onerror=alert(1)> is not an image.",
    "ndjson": "NDJSON: one JSON object per line. It is the simplest framing there is, it works "
    "with POST, and every language can split lines.",
}
CHINESE_ANSWER = (
    "流式传输，就是在想完之前先开口。服务器不等整个回答写完：先发第一个词，再发下一个，"
    "读者看着回答一点点长出来！\n它有几种做法：SSE、NDJSON、分块的纯文本，各有长短。"
)
_CJK = re.compile(r"[\u3400-\u9fff]")
# Words with their leading space (as chat models cut them), CJK in pairs, punctuation alone.
_TOKEN = re.compile(r"[\u3400-\u9fff]{1,2}| ?(?:[^\W\u3400-\u9fff]|['’-])+| ?[^\w\s]|\n+")


def tokenize(text: str) -> tuple[str, ...]:
    """Cut ``text`` into tokens whose concatenation is ``text`` minus runs of plain spaces."""
    return tuple(_TOKEN.findall(text))


def answer_tokens(prompt: str) -> tuple[str, ...]:
    """The answer to ``prompt``: Chinese for a Chinese prompt, a canned answer for a known
    word, else the bundled passage (``showcase.pure.sources.passage_tokens``)."""
    if _CJK.search(prompt):
        return tokenize(CHINESE_ANSWER)
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    for word, text in CANNED.items():
        if word in words:
            return tokenize(text)
    return passage_tokens()


def count_tokens(chars: int) -> int:
    """A rough prompt token count for usage figures: one token per four characters."""
    return max(1, (chars + 3) // 4)


def iter_answer(
    tokens: Iterable[str],
    interval_ms: float,
    *,
    max_tokens: int | None = None,
    prompt_tokens: int = 0,
    clock: Clock = time.time,
) -> Iterator[Message | Pause]:
    """Each token as a Message, paused ``interval_ms`` (longer after punctuation, as the
    ``text`` source does); then the end Message: ``finish_reason`` is ``"length"`` when
    ``max_tokens`` cut the answer short, else ``"stop"``."""
    started = now_ms(clock)
    seq = 0
    previous = ""
    finish = "stop"
    for token in tokens:
        if max_tokens is not None and seq >= max_tokens:
            finish = "length"
            break
        if seq and interval_ms > 0:
            yield Pause(interval_ms * PAUSE_FACTORS.get(previous[-1:], 1.0) / 1000.0)
        ts = now_ms(clock)
        yield Message(
            seq=seq, ts=ts, event="token", data={"seq": seq, "ts": ts, "token": token}, text=token
        )
        previous = token
        seq += 1
    yield end_message(seq, started, finish, prompt_tokens, clock=clock)


def end_message(
    seq: int,
    started_ms: float,
    finish_reason: str,
    prompt_tokens: int,
    *,
    content: str = "",
    clock: Clock = time.time,
) -> Message:
    """The last item of an answer: counts and timing for the framings' closing records."""
    ts = now_ms(clock)
    data = {
        "seq": seq,
        "ts": ts,
        "finish_reason": finish_reason,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": seq,
        "started_ms": started_ms,
        "content": content,
    }
    return Message(seq=seq, ts=ts, event="end", data=data, text="")


def error_message(seq: int, reason: str, detail: str, *, clock: Clock = time.time) -> Message:
    """A stream that cannot go on says why, last: ``reason`` is a short code, ``detail`` text."""
    ts = now_ms(clock)
    data = {"seq": seq, "ts": ts, "reason": reason, "detail": detail}
    return Message(seq=seq, ts=ts, event="error", data=data, text="")


# The mock upstream: deltas of a few characters at irregular times, as a model server sends.
DELTA_CHARS = (2, 8)
DELTA_PAUSE_S = (0.01, 0.08)


def iter_deltas(
    text: str,
    *,
    speed: float = 1.0,
    rng: random.Random | None = None,
    clock: Clock = time.time,
) -> Iterator[Message | Pause]:
    """``text`` in pieces of 2–8 characters, each after a random 10–80 ms ÷ ``speed``; then
    the end Message with the whole ``content``."""
    rng = rng or random.Random()
    started = now_ms(clock)
    seq = position = 0
    while position < len(text):
        if seq:
            yield Pause(rng.uniform(*DELTA_PAUSE_S) / speed)
        piece = text[position : position + rng.randint(*DELTA_CHARS)]
        position += len(piece)
        ts = now_ms(clock)
        yield Message(
            seq=seq, ts=ts, event="token", data={"seq": seq, "ts": ts, "token": piece}, text=piece
        )
        seq += 1
    yield end_message(seq, started, "stop", 0, content=text, clock=clock)
