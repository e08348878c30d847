"""Bodies: what goes out in which write, heartbeats in long pauses, a clean end on stop."""

from __future__ import annotations

import json

import pytest

from showcase.pure.bodies import COALESCE_MAX_BYTES, YIELD_EVERY_BYTES, iter_body
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSEParser
from showcase.pure.message import Message, Pause
from showcase.pure.modes import MODES, RETRY_MS
from showcase.pure.sources import iter_text, iter_ticks


class FakeWait:
    """Records the waits asked for; can report a stopping server after some of them."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[float] = []
        self.stop_after = stop_after

    def __call__(self, seconds: float) -> bool:
        self.calls.append(seconds)
        return self.stop_after is None or len(self.calls) <= self.stop_after


def clock() -> float:
    return 1_700_000_000.0


def test_sse_exact_bytes() -> None:
    body = b"".join(iter_body(iter_ticks(2, 0.0, 1, clock=clock), MODES["sse"], wait=FakeWait()))
    assert body == (
        f"retry: {RETRY_MS}\n\n".encode()
        + b'event: ticks\nid: 0\ndata: {"seq":0,"ts":1700000000000.0,"pad":"x"}\n\n'
        + b'event: ticks\nid: 1\ndata: {"seq":1,"ts":1700000000000.0,"pad":"x"}\n\n'
    )


def test_ndjson_and_chunked_exact_bytes() -> None:
    ndjson = b"".join(iter_body(iter_ticks(1, 0.0, 0, clock=clock), MODES["ndjson"]))
    assert ndjson == b'{"seq":0,"ts":1700000000000.0,"pad":""}\n'
    chunked = b"".join(iter_body(iter_ticks(1, 0.0, 2, clock=clock), MODES["chunked"]))
    assert chunked == b"tick 0 1700000000000.000 xx\n"
    text = b"".join(iter_body(iter_text(3, 0.0, clock=clock), MODES["chunked"]))
    assert text == b"Streaming is the"


def test_auto_flush_coalesces_what_is_ready_within_a_bound() -> None:
    writes = list(iter_body(iter_ticks(5000, 0.0, 16), MODES["sse"], wait=FakeWait()))
    assert 1 < len(writes) < 5000 / 10
    assert all(len(write) < COALESCE_MAX_BYTES + 1024 for write in writes)
    events = SSEParser().feed(b"".join(writes))
    assert [json.loads(e.data)["seq"] for e in events] == list(range(5000))


def test_auto_flush_never_holds_a_message_back_across_a_pause() -> None:
    writes = list(iter_body(iter_ticks(3, 10.0, 0), MODES["ndjson"], wait=FakeWait()))
    assert [len(NDJSONParser().feed(write)) for write in writes] == [1, 1, 1]


def test_flush_each_writes_one_message_per_write() -> None:
    writes = list(iter_body(iter_ticks(3, 0.0, 0), MODES["sse"], flush="each", wait=FakeWait()))
    assert writes[0] == f"retry: {RETRY_MS}\n\n".encode()
    assert [len(SSEParser().feed(write)) for write in writes[1:]] == [1, 1, 1]


@pytest.mark.parametrize(("mode", "beat"), [("sse", b": heartbeat\n\n"), ("ndjson", b"\n")])
def test_long_pause_is_filled_with_heartbeats(mode: str, beat: bytes) -> None:
    wait = FakeWait()
    items: list[Message | Pause] = list(iter_ticks(2, 3500.0, 0, clock=clock))
    writes = list(iter_body(iter(items), MODES[mode], heartbeat_s=1.0, wait=wait))
    assert writes.count(beat) == 3
    assert wait.calls == [1.0, 1.0, 1.0, 0.5]


def test_chunked_has_no_heartbeat_bytes() -> None:
    writes = list(
        iter_body(iter_ticks(2, 3500.0, 0), MODES["chunked"], heartbeat_s=1.0, wait=FakeWait())
    )
    assert len(writes) == 2 and all(w.startswith(b"tick ") for w in writes)


def test_stopping_server_ends_the_stream_after_what_was_sent() -> None:
    wait = FakeWait(stop_after=2)
    writes = list(iter_body(iter_ticks(10, 100.0, 0), MODES["sse"], wait=wait))
    events = SSEParser().feed(b"".join(writes))
    assert [e.id for e in events] == ["0", "1", "2"]


def test_closing_the_body_closes_the_source() -> None:
    closed: list[bool] = []

    def source() -> object:
        try:
            yield from iter_ticks(100, 10.0, 0)
        finally:
            closed.append(True)

    body = iter_body(source(), MODES["sse"], wait=FakeWait())  # type: ignore[arg-type]
    next(body)
    body.close()
    assert closed == [True]


@pytest.mark.parametrize("flush", ["auto", "each"])
def test_an_unpaused_producer_yields_to_others_by_bytes_not_per_large_message(flush: str) -> None:
    """64 KiB messages with no pause: a switch to the hub per megabyte, not one per message
    (that made flush=auto cost more than flush=each at 64 KiB), and never none at all."""
    wait = FakeWait()
    body = list(
        iter_body(iter_ticks(64, 0.0, 65536, clock=clock), MODES["ndjson"], flush=flush, wait=wait)
    )
    sent = sum(len(chunk) for chunk in body)
    assert wait.calls and set(wait.calls) == {0}
    assert len(wait.calls) <= sent // YIELD_EVERY_BYTES + 1
    assert len(wait.calls) >= sent // (YIELD_EVERY_BYTES + 70_000)


@pytest.mark.parametrize("stop_after", [0, 2])
def test_a_stopping_server_sends_the_ending_last_once(stop_after: int) -> None:
    """``ending`` is the body's last write when the server stops, whether the stop comes at a
    message's pause or inside a pause cut into heartbeats; never when the stream just ends."""
    last_words = b": server restarting\nretry: 1234\n\n"
    stopped = list(
        iter_body(
            iter_ticks(5, 10_000.0, 1, clock=clock),
            MODES["sse"],
            heartbeat_s=3.0,
            wait=FakeWait(stop_after=stop_after),
            ending=lambda: last_words,
        )
    )
    assert stopped[-1] == last_words and stopped.count(last_words) == 1
    whole = list(
        iter_body(
            iter_ticks(2, 0.0, 1, clock=clock),
            MODES["sse"],
            wait=FakeWait(),
            ending=lambda: last_words,
        )
    )
    assert last_words not in whole
