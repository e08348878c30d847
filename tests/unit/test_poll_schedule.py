"""The poll schedule (showcase/pure/poll.py): message k is due at start + the pauses before it."""

from __future__ import annotations

import json
import time

import pytest

from showcase.pure.message import Message, Pause
from showcase.pure.params import StreamParams
from showcase.pure.poll import (
    DEFAULT_WAIT_MS,
    MAX_ANSWER_BYTES,
    due_through,
    encode_answer,
    next_due_ms,
    offset_ms,
    parse_poll_params,
)
from showcase.pure.refusal import Refusal
from showcase.pure.sources import make_source


def pauses_before(source: str, count: int, interval_ms: float) -> list[float]:
    """The offsets as the source itself paces them: the sum of its Pauses before each message."""
    offsets, elapsed = [], 0.0
    for item in make_source(source, count, interval_ms, 0):
        if isinstance(item, Pause):
            elapsed += item.seconds * 1000.0
        else:
            offsets.append(elapsed)
    return offsets


@pytest.mark.parametrize("source", ["ticks", "text"])
@pytest.mark.parametrize("interval_ms", [0.0, 7.5, 100.0])
def test_offsets_match_the_pauses_the_source_yields(source: str, interval_ms: float) -> None:
    count = 600  # more than one pass through the passage
    expected = pauses_before(source, count, interval_ms)
    got = [offset_ms(source, seq, interval_ms) for seq in range(count)]
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("source", ["ticks", "text"])
def test_due_through_is_the_last_seq_whose_offset_has_passed(source: str) -> None:
    params = StreamParams(count=300, interval_ms=10.0, source=source)
    for seq in range(0, 300, 7):
        at = offset_ms(source, seq, 10.0)
        assert due_through(params, 1000.0, 1000.0 + at) >= seq
        if seq:
            assert due_through(params, 1000.0, 1000.0 + at - 0.001) == seq - 1
    assert due_through(params, 1000.0, 999.0) == -1
    assert due_through(params, 1000.0, 1e12) == 299


def test_zero_interval_is_all_due_at_the_start() -> None:
    params = StreamParams(count=50, interval_ms=0.0)
    assert due_through(params, 500.0, 500.0) == 49


def test_next_due_is_the_message_after_after_or_none_past_the_end() -> None:
    params = StreamParams(count=5, interval_ms=100.0)
    assert next_due_ms(params, 1000.0, -1) == 1000.0
    assert next_due_ms(params, 1000.0, 2) == 1300.0
    assert next_due_ms(params, 1000.0, 4) is None


def test_polls_that_echo_next_and_start_get_every_message_exactly_once() -> None:
    params = StreamParams(count=200, interval_ms=3.0, source="text")
    after, seen = -1, []
    for now in range(1000, 100_000, 37):  # polls at arbitrary times, on any server
        last = due_through(params, 1000.0, float(now))
        seen.extend(range(after + 1, last + 1))
        after = max(after, last)
    assert seen == list(range(200))


def messages(seqs: range, size: int = 0) -> list[Message]:
    return [
        m
        for m in make_source("ticks", seqs.stop, 0.0, size, start=seqs.start)
        if isinstance(m, Message)
    ]


def test_answer_holds_the_payloads_next_done_and_start() -> None:
    sent = messages(range(3, 6))
    body, last = encode_answer(sent, 2, 6, 1234.5)
    answer = json.loads(body)
    assert answer["messages"] == [json.loads(message.json_bytes) for message in sent]
    assert (answer["next"], answer["done"], answer["start"], last) == (5, True, 1234.5, 5)


def test_empty_answer_keeps_next_at_after() -> None:
    answer = json.loads(encode_answer([], 7, 20, 1.0)[0])
    assert answer == {"messages": [], "next": 7, "done": False, "start": 1.0}


def test_answer_stops_at_its_byte_budget_and_the_rest_follows() -> None:
    size = 200_000
    body, last = encode_answer(messages(range(0, 20), size), -1, 20, 1.0)
    answer = json.loads(body)
    assert 1 <= len(answer["messages"]) < 20
    assert last == answer["next"] == len(answer["messages"]) - 1
    assert answer["done"] is False
    assert len(body) < MAX_ANSWER_BYTES + 2 * size


def test_poll_params_defaults_and_bounds() -> None:
    params = parse_poll_params({})
    assert (params.after, params.wait_ms, params.start_ms) == (-1, DEFAULT_WAIT_MS, None)
    start = time.time() * 1000.0
    parsed = parse_poll_params({"after": "3", "wait": "0", "start": f"{start:.3f}", "count": "9"})
    assert (parsed.after, parsed.wait_ms, parsed.stream.count) == (3, 0, 9)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"after": "-2"}, "after"),
        ({"after": "20"}, "after"),
        ({"wait": "60001"}, "wait"),
        ({"wait": "1e3"}, "wait"),
        ({"start": "-5"}, "start"),
        ({"count": "0"}, "count"),
    ],
)
def test_poll_params_refused_name_their_field(args: dict[str, str], field: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_poll_params(args)
    assert refused.value.field == field
