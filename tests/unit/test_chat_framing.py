"""The pure chat layers: framings round-trip through the project's parsers, the forwarding
hop and the typewriter read an upstream cut at every offset the same way, the pacing keeps
its order, and none of them imports the web stack."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable

import pytest

from showcase.chat.answer import CHINESE_ANSWER, answer_tokens, iter_answer, iter_deltas, tokenize
from showcase.chat.coze import coze_mode, new_chat
from showcase.chat.forward import SSEForwarder, UpstreamError, iter_relayed
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
from showcase.pure.bodies import iter_body
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSEError, SSEParser
from showcase.pure.message import Message, Pause
from showcase.pure.sources import passage_tokens

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


def relayed(reads: Iterable[bytes], **kwargs: object) -> bytes:
    return b"".join(iter_relayed(reads, **kwargs))  # type: ignore[arg-type]


def test_forwarding_passes_every_block_on_as_it_came_at_every_cut() -> None:
    for pieces in cuts(SSE_UPSTREAM):
        assert relayed(pieces) == SSE_UPSTREAM
    # A read that completes a block sends every block it completes, and only those.
    forwarder = SSEForwarder()
    assert forwarder.feed(b"data: a\n\ndata: b") == b"data: a\n\n"
    assert forwarder.feed(b"\n") == b""
    assert forwarder.feed(b"\nid: 3\n") == b"data: b\n\n"
    assert forwarder.feed(b"\n: heartbeat\n\n") == b"id: 3\n\n: heartbeat\n\n"


CRLF_UPSTREAM = SSE_UPSTREAM.replace(b"\n", b"\r\n")
CR_UPSTREAM = "\ufeff".encode() + SSE_UPSTREAM.replace(b"\n", b"\r")


@pytest.mark.parametrize("upstream", [CRLF_UPSTREAM, CR_UPSTREAM], ids=["CRLF", "CR+BOM"])
def test_forwarding_sends_lf_line_ends_and_no_bom_at_every_cut(upstream: bytes) -> None:
    """What a client's parser reads is unchanged; a CRLF cut between two reads is one line
    end, and a BOM cut anywhere is still dropped."""
    for pieces in cuts(upstream):
        assert relayed(pieces) == SSE_UPSTREAM


@pytest.mark.parametrize(
    "reads",
    [
        [b"data: a\n", b"data: b\n\n", b"data: c\n\n"],  # the event began in the last read
        [b"id: 3\n", b"\n", b"data: c\n\n"],  # an id with no data yet
        [b"data: \xe6\xb5", b"\x81\n\n", b"data: c\n\n"],  # a character cut in two
        [b"data: a\r\n\r\n", b"data: b\n\n"],  # CRLF: rebuilt with LF
        ["\ufeff".encode() + b"data: a\n\n", b"data: b\n\n"],  # a BOM is not sent on
        [b"\xef", b"\xbb", b"\xbfdata: a\n\n", b"data: b\n\n"],  # nor one cut in three
        [b"\xefdata: a\n\n", b"data: b\n\n"],  # a BOM's first byte alone is data
    ],
)
def test_forwarding_across_reads_keeps_what_a_client_reads(reads: list[bytes]) -> None:
    """State carried from read to read (an id in effect with no event yet, half an event,
    half a character) reaches the client; CR line ends and a BOM are not passed on."""
    forwarded = relayed(reads)
    assert sse(forwarded) == sse(b"".join(reads))
    assert b"\r" not in forwarded and not forwarded.startswith("\ufeff".encode())
    assert forwarded.endswith(b"data: c\n\n") or forwarded.endswith(b"data: b\n\n")


LINE_PARTS = [b"data: x", b"data", b"id: 5", b"id", b"event: e", b"retry: 10", b": c", "é".encode()]
LINE_ENDS = [b"\n", b"\r", b"\r\n"]


def test_forwarding_reads_as_the_upstream_for_random_streams_and_cuts() -> None:
    """Random lines, line ends (blank lines among them), a BOM or not, cut at random: a
    client's parser reads the forwarded bytes as it reads the upstream's."""
    rng = random.Random(9)
    for _ in range(500):
        lines = [rng.choice(LINE_PARTS) if rng.random() < 0.6 else b"" for _ in range(12)]
        upstream = b"".join(line + rng.choice(LINE_ENDS) for line in lines)
        if rng.random() < 0.3:
            upstream = "\ufeff".encode() + upstream
        at = sorted(rng.sample(range(1, len(upstream)), 4))
        reads = [upstream[a:b] for a, b in zip([0, *at], [*at, len(upstream)], strict=True)]
        forwarded = relayed(reads)
        assert sse(forwarded) == sse(upstream), reads
        assert b"\r" not in forwarded


def failing(pieces: list[bytes], error: UpstreamError) -> Iterable[bytes]:
    yield from pieces
    raise error


def test_forwarding_ends_with_the_error_event_after_the_whole_blocks() -> None:
    cut = SSE_UPSTREAM.index(b": heartbeat")
    pieces = [SSE_UPSTREAM[: cut + 3]]  # two whole blocks and the start of a third
    body = relayed(failing(pieces, UpstreamError("upstream_broken", "gone")))
    assert body.startswith(SSE_UPSTREAM[:cut])
    events = sse(body)
    assert [event for event, _, _ in events] == ["ticks", "error"]
    assert json.loads(events[-1][2]) == {"reason": "upstream_broken", "detail": "gone"}


def test_an_upstream_that_just_ends_drops_its_unterminated_block() -> None:
    assert relayed([b"data: a\n\ndata: half"]) == b"data: a\n\n"


def test_a_stopping_server_ends_the_relay_with_its_last_words() -> None:
    """The stop breaks the upstream read (or comes between two reads): the blocks already
    sent stay, what the read brought after the stop is not sent, the ending comes last."""
    last_words = b": server restarting\nretry: 1000\n\n"
    stop = {"now": False}

    def reads() -> Iterable[bytes]:
        yield b"id: 1\ndata: a\n\n"
        stop["now"] = True
        yield b"id: 2\ndata: b\n\n"

    def broken() -> Iterable[bytes]:
        yield b"id: 1\ndata: a\n\n"
        stop["now"] = True
        raise UpstreamError("upstream_broken", "stop thrown into the read")

    for upstream in (reads, broken):
        stop["now"] = False
        body = relayed(upstream(), stopping=lambda: stop["now"], ending=lambda: last_words)
        assert body == b"id: 1\ndata: a\n\n" + last_words


@pytest.mark.parametrize(
    "reads, limit",
    [
        ([b"data: " + b"x" * 60, b"x" * 60], "line longer than 100 bytes"),
        ([b"data: " + b"x" * 60 + b"\n", b"data: y\n" * 20], "event longer than 150 bytes"),
    ],
)
def test_a_block_past_the_limits_ends_the_relay_with_an_error(
    reads: list[bytes], limit: str
) -> None:
    with pytest.raises(SSEError, match=limit):
        forwarder = SSEForwarder(max_line_bytes=100, max_event_bytes=150)
        for read in reads:
            forwarder.feed(read)
    body = relayed([b"data: a\n\n", b"data: " + b"x" * (2 << 20)])
    events = sse(body)
    assert [event for event, _, _ in events] == ["message", "error"]
    assert json.loads(events[-1][2])["reason"] == "upstream_invalid"


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
        # A lone surrogate escape decodes, but no stream could encode it: refused at once.
        (
            b'event: conversation.message.delta\ndata: {"content": "0\\ud800"}\n\n',
            "upstream_invalid",
        ),
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


@pytest.mark.parametrize("where", ["a data line", "an event"])
def test_forwarding_refuses_a_whole_block_past_the_limits_in_one_read(where: str) -> None:
    """A block that arrives whole in one read is held to the limits as one that is held."""
    forwarder = SSEForwarder(max_line_bytes=100, max_event_bytes=150)
    if where == "a data line":
        block = b"data: " + b"x" * 200 + b"\n\n"
    else:
        block = b"data: " + b"x" * 80 + b"\ndata: " + b"y" * 80 + b"\n\n"
    with pytest.raises(SSEError):
        forwarder.feed(b"data: ok\n\n" + block)
    assert SSEForwarder(max_line_bytes=100, max_event_bytes=150).feed(b"data: ok\n\n") == (
        b"data: ok\n\n"
    )
