"""The pure chat layers: framings round-trip through the project's parsers, the forwarding
hop and the typewriter read an upstream cut at every offset the same way, the pacing keeps
its order, and none of them imports the web stack."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable

import pytest

from showcase.bodies import iter_body
from showcase.chat.answer import CHINESE_ANSWER, answer_tokens, iter_answer, iter_deltas, tokenize
from showcase.chat.coze import coze_mode, new_chat
from showcase.chat.forward import FORWARD_MODE, UpstreamError, iter_forwarded
from showcase.chat.ndjson import ndjson_chat_mode
from showcase.chat.openai import new_completion, openai_mode
from showcase.chat.typewriter import (
    BASE_PAUSE_S,
    CLAUSE_PAUSE_S,
    SENTENCE_PAUSE_S,
    iter_typed,
    pause_after,
    pause_class,
)
from showcase.framing.ndjson import NDJSONParser
from showcase.framing.sse import SSEParser
from showcase.message import Message, Pause
from showcase.sources import passage_tokens

TRICKY = ("Hello", ' "quoted"', " line\nbreak", " \u2028sep", " 流式", "\\", "\0")


def body_of(items: Iterable[Message | Pause], mode: object) -> bytes:
    return b"".join(iter_body(items, mode, wait=lambda _: True))  # type: ignore[arg-type]


def sse(data: bytes) -> list[tuple[str, str, str]]:
    parser = SSEParser()
    return [(e.event, e.id, e.data) for e in parser.feed(data) + parser.close()]


def test_openai_chunks_carry_any_token_exactly() -> None:
    completion = new_completion("m", 1, include_usage=True)
    body = body_of(iter_answer(TRICKY, 0, prompt_tokens=3), openai_mode(completion))
    events = sse(body)
    assert events[-1][2] == "[DONE]"
    chunks = [json.loads(data) for _, _, data in events[:-1]]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert contents == ["", *TRICKY, None]
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}


def test_ndjson_chat_lines_carry_any_token_exactly() -> None:
    body = body_of(iter_answer(TRICKY, 0, max_tokens=5), ndjson_chat_mode('m"odel'))
    parser = NDJSONParser()
    lines = parser.feed(body) + parser.close()
    assert [line["message"]["content"] for line in lines[:-1]] == list(TRICKY[:5])
    assert {line["model"] for line in lines} == {'m"odel'}
    assert lines[-1]["done"] is True
    assert lines[-1]["done_reason"] == "length"


def test_tokens_rebuild_the_answers() -> None:
    assert "".join(tokenize(CHINESE_ANSWER)) == CHINESE_ANSWER
    assert answer_tokens("你好") == tokenize(CHINESE_ANSWER)
    assert answer_tokens("anything else") == passage_tokens()


SSE_UPSTREAM = (
    b"retry: 2000\n\n"
    b'event: ticks\nid: 0\ndata: {"seq":0}\n\n'
    b": heartbeat\n\n"
    b"event: ticks\nid: 1\ndata: two\ndata: lines\n\n"
    b"id: 2\ndata: \xe6\xb5\x81 plain message\n\n"
)


def cuts(data: bytes) -> Iterable[list[bytes]]:
    """The data whole, in 1-byte pieces, and cut in two at every offset."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for offset in range(1, len(data)):
        yield [data[:offset], data[offset:]]


def test_forwarding_reproduces_the_upstream_at_every_cut() -> None:
    events = sse(SSE_UPSTREAM)
    for pieces in cuts(SSE_UPSTREAM):
        forwarded = body_of(iter_forwarded(pieces), FORWARD_MODE)
        assert sse(forwarded) == events
        assert forwarded.startswith(b"retry: 2000\n\n")
    # Whole reads keep the heartbeat comment where it was.
    start = SSE_UPSTREAM.index(b": heartbeat")
    end = start + len(b": heartbeat\n\n")
    pieces = [SSE_UPSTREAM[:start], SSE_UPSTREAM[start:end], SSE_UPSTREAM[end:]]
    assert b"".join(pieces) == SSE_UPSTREAM
    assert body_of(iter_forwarded(pieces), FORWARD_MODE) == SSE_UPSTREAM


@pytest.mark.parametrize(
    "reads",
    [
        [b"data: a\n", b"data: b\n\n", b"data: c\n\n"],  # the event began in the last read
        [b"id: 3\n", b"\n", b"data: c\n\n"],  # an id with no data yet
        [b"data: \xe6\xb5", b"\x81\n\n", b"data: c\n\n"],  # a character cut in two
        [b"data: a\r\n\r\n", b"data: b\n\n"],  # CRLF: rebuilt with LF
        ["\ufeff".encode() + b"data: a\n\n", b"data: b\n\n"],  # a BOM is not sent on
    ],
)
def test_forwarding_across_reads_keeps_what_a_client_reads(reads: list[bytes]) -> None:
    """State carried from read to read (an id in effect with no event yet, half an event,
    half a character) reaches the client; CR line ends and a BOM are not passed on."""
    forwarded = body_of(iter_forwarded(reads), FORWARD_MODE)
    assert sse(forwarded) == sse(b"".join(reads))
    assert b"\r" not in forwarded and not forwarded.startswith("\ufeff".encode())
    assert forwarded.endswith(b"data: c\n\n") or forwarded.endswith(b"data: b\n\n")


def failing(pieces: list[bytes], error: UpstreamError) -> Iterable[bytes]:
    yield from pieces
    raise error


def test_forwarding_ends_with_the_error_event() -> None:
    pieces = [SSE_UPSTREAM[: SSE_UPSTREAM.index(b": heartbeat")]]
    body = body_of(
        iter_forwarded(failing(pieces, UpstreamError("upstream_broken", "gone"))), FORWARD_MODE
    )
    events = sse(body)
    assert [event for event, _, _ in events] == ["ticks", "error"]
    assert json.loads(events[-1][2]) == {"reason": "upstream_broken", "detail": "gone"}


def coze_upstream(text: str) -> bytes:
    items = iter_deltas(text, speed=1000, rng=random.Random(7))
    return body_of(items, coze_mode(new_chat("mock", 1)))


def typed(pieces: Iterable[bytes]) -> list[Message]:
    items = iter_typed(pieces, speed=1000, rng=random.Random(1))
    return [item for item in items if isinstance(item, Message)]


def test_typewriter_retypes_every_character_at_every_cut() -> None:
    text = "Hi, 你好。\nOk!"
    upstream = coze_upstream(text)
    for pieces in cuts(upstream):
        messages = typed(pieces)
        assert [m.text for m in messages[:-1]] == list(text)
        assert messages[-1].event == "end"
        assert messages[-1].data["content"] == text


@pytest.mark.parametrize(
    ("upstream", "reason"),
    [
        (b'event: conversation.message.delta\ndata: {"content": "ab"}\n\n', "upstream_broken"),
        (b"event: conversation.message.delta\ndata: {oops\n\n", "upstream_invalid"),
        (b'event: conversation.message.delta\ndata: {"content": 5}\n\n', "upstream_invalid"),
        (b'event: error\ndata: {"code": 1}\n\n', "upstream_error"),
    ],
)
def test_typewriter_errors(upstream: bytes, reason: str) -> None:
    messages = typed([upstream])
    assert messages[-1].event == "error"
    assert messages[-1].data["reason"] == reason


def test_typewriter_pauses_by_class() -> None:
    assert [pause_class(c) for c in ".!?\n。！？…"] == ["sentence"] * 8
    assert [pause_class(c) for c in ",;:，、；："] == ["clause"] * 7
    assert [pause_class(c) for c in "a字 1"] == ["base"] * 4
    assert BASE_PAUSE_S[1] < CLAUSE_PAUSE_S[0] < CLAUSE_PAUSE_S[1] < SENTENCE_PAUSE_S[0]
    rng = random.Random(3)
    for speed in (1.0, 10.0):
        draws = {c: pause_after(c, speed, rng) for c in "a，。"}
        assert draws["a"] < draws["，"] < draws["。"]
        assert BASE_PAUSE_S[0] / speed <= draws["a"] <= BASE_PAUSE_S[1] / speed
