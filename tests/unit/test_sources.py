"""Sources: deterministic apart from ts, resumable at any seq, paced by Pause items."""

from __future__ import annotations

import itertools

import pytest

from showcase.pure.message import Message, Pause
from showcase.pure.sources import PAUSE_FACTORS, iter_text, iter_ticks, make_source, passage_tokens


def fixed_clock() -> float:
    return 1_700_000_000.123456


def messages(items: list[Message | Pause]) -> list[Message]:
    return [item for item in items if isinstance(item, Message)]


def test_ticks_payload_and_text() -> None:
    items = list(iter_ticks(3, 50.0, 4, clock=fixed_clock))
    assert [isinstance(item, Message) for item in items] == [True, False, True, False, True]
    assert all(isinstance(item, Pause) for item in items[1::2])
    first = items[0]
    assert isinstance(first, Message)
    assert first.data == {"seq": 0, "ts": 1_700_000_000_123.456, "pad": "xxxx"}
    assert list(first.data) == ["seq", "ts", "pad"]  # seq and ts lead the payload
    assert first.event == "ticks"
    assert first.text == "tick 0 1700000000123.456 xxxx\n"
    assert items[1] == Pause(0.05)


def test_rendered_forms_match_the_generic_encoders() -> None:
    """The sources' templated JSON and text are byte for byte what the generic paths give."""
    import json

    for item in [*iter_ticks(3, 0.0, 5), *iter_text(40, 0.0)]:
        assert isinstance(item, Message)
        generic = json.dumps(item.data, separators=(",", ":"), ensure_ascii=False).encode()
        assert item.json_bytes == generic
        assert item.text_bytes == item.text.encode()


def test_ticks_interval_zero_never_pauses() -> None:
    assert all(isinstance(item, Message) for item in iter_ticks(100, 0.0, 0))


@pytest.mark.parametrize("source", ["ticks", "text"])
@pytest.mark.parametrize("start", [0, 1, 7, 19])
def test_resume_at_any_seq_matches_the_full_stream(source: str, start: int) -> None:
    full = messages(list(make_source(source, 20, 10.0, 3, start=0)))
    resumed = messages(list(make_source(source, 20, 10.0, 3, start=start)))
    assert [m.seq for m in resumed] == list(range(start, 20))
    strip = [({k: v for k, v in m.data.items() if k != "ts"}, m.event) for m in full[start:]]
    assert [({k: v for k, v in m.data.items() if k != "ts"}, m.event) for m in resumed] == strip


def test_resume_past_the_end_is_empty() -> None:
    assert list(iter_ticks(5, 10.0, 0, start=5)) == []


def test_ts_is_stamped_when_the_consumer_asks() -> None:
    ticks = itertools.count(1000.0, 1.0)
    items = iter_ticks(2, 10.0, 0, clock=lambda: next(ticks))
    first = next(items)
    assert isinstance(first, Message) and first.ts == 1_000_000.0
    next(items)  # the Pause: the consumer waits here
    second = next(items)
    assert isinstance(second, Message) and second.ts == 1_001_000.0


def test_text_tokens_rebuild_the_passage() -> None:
    tokens = passage_tokens()
    text = "".join(tokens)
    assert text.startswith("Streaming is the art of saying something")
    assert "\n\n" in tokens
    assert len(tokens) > 100


def test_text_pauses_longer_after_punctuation_and_paragraphs() -> None:
    tokens = passage_tokens()
    count = len(tokens) + 2
    items = list(iter_text(count, 10.0, clock=fixed_clock))
    previous: Message | None = None
    for item in items:
        if isinstance(item, Message):
            previous = item
            continue
        assert previous is not None
        expected = 10.0 * PAUSE_FACTORS.get(previous.data["token"][-1], 1.0) / 1000.0
        assert item.seconds == pytest.approx(expected)
    seen = {item.seconds for item in items if isinstance(item, Pause)}
    assert {0.01, 0.03, 0.06, 0.08} <= {round(s, 3) for s in seen}


def test_text_cycles_and_renders_the_bare_token() -> None:
    tokens = passage_tokens()
    items = messages(list(iter_text(len(tokens) + 1, 0.0)))
    assert items[-1].data["token"] == tokens[0]
    assert all(m.text == m.data["token"] and m.event == "text" for m in items)
