"""The pure parts of resumable answers: positions, the framings with ids, the memory log
(replay, follow, cancel, expiry, limits) and the generation runner."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.answers.framing import HEARTBEAT, ndjson_answer_mode, openai_answer_mode
from showcase.answers.log import (
    OWN_ERROR_SEQ,
    AnswerMeta,
    AnswersFull,
    cancelled_end,
    parse_position,
)
from showcase.answers.memory import MemoryAnswers
from showcase.answers.runner import run_generation
from showcase.answers.source import iter_followed
from showcase.chat.answer import end_message, error_message, iter_answer
from showcase.chat.openai import Completion
from showcase.pure.bodies import iter_body
from showcase.pure.message import Message
from showcase.pure.refusal import Refusal

META = AnswerMeta(model="m", created=7, include_usage=False, prompt_tokens=3, started_ms=1000.0)
ID = "chatcmpl-" + "a" * 24


def token(seq: int, text: str = "x") -> Message:
    return Message(seq, 0.0, "token", {"seq": seq, "ts": 0.0, "token": text}, text=text)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, None),
        ("", "5", None),  # the query wins, even empty
        (None, "", None),
        (None, " 12 ", 12),
        ("3", "9", 3),
        ("0", None, 0),
        ("9" * 19, None, int("9" * 19)),
    ],
)
def test_a_position_is_the_query_else_the_header(
    query: str | None, header: str | None, expected: int | None
) -> None:
    assert parse_position(query, header) == expected


@pytest.mark.parametrize(
    ("query", "header", "field"),
    [
        ("-1", None, "after"),
        ("1.0", None, "after"),
        ("9" * 20, None, "after"),
        (" 1", None, "after"),
        ("١", None, "after"),  # an Arabic-Indic digit is not a decimal digit here
        (None, "abc", "Last-Event-ID"),
        (None, "1-0", "Last-Event-ID"),
    ],
)
def test_a_bad_position_is_refused_naming_its_field(
    query: str | None, header: str | None, field: str
) -> None:
    with pytest.raises(Refusal) as caught:
        parse_position(query, header)
    assert caught.value.status == 400
    assert caught.value.field == field


def test_openai_events_carry_the_seq_and_done_has_none() -> None:
    mode = openai_answer_mode(Completion(ID, 7, "m", include_usage=True), preamble=True)
    assert mode.preamble.startswith(b'data: {"id":"' + ID.encode())
    assert mode.encode(token(4, "hi")).startswith(b"id: 4\ndata: {")
    assert json.loads(mode.encode(token(4, "hi"))[12:])["choices"][0]["delta"] == {"content": "hi"}
    end = mode.encode(cancelled_end(5, META))
    first, usage, done, _ = end.split(b"\n\n")
    assert first.startswith(b"id: 5\ndata: ")
    assert json.loads(first[12:])["cancelled"] is True
    assert json.loads(first[12:])["choices"][0]["finish_reason"] == "stop"
    assert usage.startswith(b"id: 5\ndata: ")
    assert done == b"data: [DONE]"
    assert mode.encode(HEARTBEAT) == b": heartbeat\n\n"
    no_role = openai_answer_mode(Completion(ID, 7, "m"), preamble=False)
    assert no_role.preamble == b""
    plain_end = no_role.encode(end_message(2, 0.0, "stop", 1))
    assert b"cancelled" not in plain_end


def test_ndjson_lines_carry_the_answer_id_and_seq() -> None:
    mode = ndjson_answer_mode(ID, "m")
    line = json.loads(mode.encode(token(3, "a")))
    assert (line["id"], line["seq"], line["done"]) == (ID, 3, False)
    last = json.loads(mode.encode(cancelled_end(4, META)))
    assert (last["id"], last["seq"], last["done"], last["cancelled"]) == (ID, 4, True, True)
    assert mode.encode(HEARTBEAT) == b""


def test_a_follower_replays_after_its_position_then_follows() -> None:
    store = MemoryAnswers()
    store.create(ID, META)
    for seq in range(3):
        assert store.append(ID, token(seq))
    follower = store.follow(ID, 0)
    assert follower is not None
    assert [m.seq for m in follower.take(0)] == [1, 2]
    assert follower.take(0.01) == []
    store.append(ID, token(3))
    assert [m.seq for m in follower.take(0)] == [3]
    assert store.cancel(ID) == "cancelled"
    last = follower.take(0)
    assert [(m.seq, m.event, m.data["cancelled"]) for m in last] == [(4, "end", True)]
    assert follower.done
    assert not store.append(ID, token(4))  # the generation's next token is refused
    assert store.cancel(ID) == "finished"
    assert store.cancel("chatcmpl-" + "b" * 24) is None
    follower.close()


def test_a_cancel_sets_the_generations_stop() -> None:
    store = MemoryAnswers()
    stop = store.create(ID, META)
    assert not stop.is_set()
    store.cancel(ID)
    assert stop.is_set()


def test_an_ended_log_expires_on_the_next_call_after_its_ttl() -> None:
    clock = Clock()
    store = MemoryAnswers(ttl_s=10.0, clock=clock)
    store.create(ID, META)
    store.append(ID, end_message(0, 0.0, "stop", 1))
    store.end_generation(ID)
    clock.now += 9.9
    assert store.peek(ID) is not None
    clock.now += 0.2
    assert store.peek(ID) is None


def test_the_worker_limit_refuses_a_new_answer_and_frees_at_the_end() -> None:
    store = MemoryAnswers(max_running=1)
    store.create(ID, META)
    with pytest.raises(AnswersFull):
        store.create("chatcmpl-" + "b" * 24, META)
    store.end_generation(ID)
    store.create("chatcmpl-" + "b" * 24, META)
    assert store.count_running() == 1


def test_ended_logs_are_bounded_oldest_first() -> None:
    store = MemoryAnswers(max_running=1)  # holds 10 logs
    ids = [f"chatcmpl-{n:024x}" for n in range(12)]
    for answer_id in ids:
        store.create(answer_id, META)
        store.append(answer_id, end_message(0, 0.0, "stop", 1))
        store.end_generation(answer_id)
    assert [store.peek(a) is not None for a in ids] == [False] * 2 + [True] * 10


def test_orphan_counts_from_the_last_reader_leaving() -> None:
    clock = Clock()
    store = MemoryAnswers(clock=clock)
    store.create(ID, META)
    clock.now += 5
    assert store.is_orphan(ID, 5)
    follower = store.follow(ID, None)
    assert follower is not None
    clock.now += 60
    assert not store.is_orphan(ID, 5)
    follower.close()
    follower.close()  # idempotent: counted once
    clock.now += 4.9
    assert not store.is_orphan(ID, 5)
    clock.now += 0.1
    assert store.is_orphan(ID, 5)


def test_the_runner_stops_within_a_pause_when_cancelled() -> None:
    store = MemoryAnswers()
    stop = store.create(ID, META)
    follower = store.follow(ID, None)
    assert follower is not None
    items = iter_answer(["a", "b", "c"], interval_ms=10_000)
    thread = threading.Thread(target=run_generation, args=(store, ID, items, stop, 60.0))
    thread.start()
    assert [m.seq for m in follower.take(5)] == [0]
    started = time.monotonic()
    store.cancel(ID)
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 0.1
    assert store.count_running() == 0
    assert [m.event for m in follower.take(0)] == ["end"]
    follower.close()


def test_the_runner_ends_an_orphan_as_cancelled() -> None:
    store = MemoryAnswers()
    stop = store.create(ID, META)
    items = iter_answer(["a"] * 1000, interval_ms=20)
    started = time.monotonic()
    run_generation(store, ID, items, stop, 0.3)
    assert time.monotonic() - started < 0.3 + 0.5
    follower = store.follow(ID, None)
    assert follower is not None
    items_read = follower.take(0)
    assert items_read[-1].data["cancelled"] is True
    assert len(items_read) < 1000
    follower.close()


def test_the_runner_ends_the_log_with_an_error_when_generation_fails() -> None:
    def failing() -> Iterator[Message]:
        yield token(0)
        raise RuntimeError("boom")

    store = MemoryAnswers()
    stop = store.create(ID, META)
    run_generation(store, ID, failing(), stop, 60.0)
    follower = store.follow(ID, None)
    assert follower is not None
    assert [(m.seq, m.event) for m in follower.take(0)] == [(0, "token"), (1, "error")]
    follower.close()


def test_a_silent_answer_sends_a_heartbeat_before_its_next_token() -> None:
    store = MemoryAnswers()
    store.create(ID, META)
    mode = openai_answer_mode(Completion(ID, 7, "m"), preamble=False)
    body = iter_body(iter_followed(store, ID, None, 0.05), mode, heartbeat_s=0.05)
    timer = threading.Timer(0.5, store.append, (ID, token(0, "late")))
    timer.start()
    try:
        first = next(body)
    finally:
        timer.join()
        body.close()  # type: ignore[attr-defined]
    assert first == b": heartbeat\n\n"


def test_a_readers_own_error_has_no_id_so_a_resume_skips_nothing() -> None:
    own = error_message(OWN_ERROR_SEQ, "log_unavailable", "redis: gone")
    sse = openai_answer_mode(Completion(ID, 7, "m"), preamble=False).encode(own)
    assert sse.startswith(b"data: {")
    assert sse.endswith(b"data: [DONE]\n\n")
    line = json.loads(ndjson_answer_mode(ID, "m").encode(own))
    assert line == {"error": "redis: gone", "reason": "log_unavailable", "id": ID}
    logged = openai_answer_mode(Completion(ID, 7, "m"), preamble=False).encode(
        error_message(3, "generation_failed", "RuntimeError")
    )
    assert logged.startswith(b"id: 3\ndata: {")


def test_the_runner_finds_an_orphan_within_a_long_pause() -> None:
    store = MemoryAnswers()
    stop = store.create(ID, META)
    started = time.monotonic()
    run_generation(store, ID, iter_answer(["a", "b"], interval_ms=5_000), stop, 0.3)
    assert time.monotonic() - started < 0.3 + 0.5
    assert store.cancel(ID) == "finished"


def test_a_stopping_server_ends_the_log_with_an_error_item() -> None:
    store = MemoryAnswers()
    stop = store.create(ID, META)
    # Stopped from the start: seen at the first pause, after the first token.
    run_generation(store, ID, iter_answer(["a", "b", "c"], 10), stop, 60.0, lambda: True)
    follower = store.follow(ID, None)
    assert follower is not None
    items = follower.take(0)
    follower.close()
    assert [(m.seq, m.event) for m in items] == [(0, "token"), (1, "error")]
    assert items[-1].data["reason"] == "server_restarting"


@given(
    st.one_of(st.none(), st.text(max_size=30)),
    st.one_of(st.none(), st.text(alphabet=st.characters(codec="latin-1"), max_size=30)),
)
def test_any_position_text_is_a_seq_or_a_400(query: str | None, header: str | None) -> None:
    try:
        position = parse_position(query, header)
    except Refusal as refusal:
        assert refusal.status == 400
        assert refusal.field in ("after", "Last-Event-ID")
    else:
        assert position is None or 0 <= position < 10**19
