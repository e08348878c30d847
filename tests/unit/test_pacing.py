"""Paced streams keep a schedule (bodies.iter_body) and wake in shared slots
(lifecycle.PauseSlots), so a worker's streams keep their own phases instead of clumping."""

from __future__ import annotations

import time

import gevent
import pytest

from showcase.pure.bodies import iter_body
from showcase.pure.message import Message, Pause
from showcase.pure.modes import MODES
from showcase.runtime.lifecycle import PACE_SLOT_S, Pacer, PauseSlots


class Clock:
    """A fake monotonic clock that the waits and the writes advance."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.now += seconds
        return True


def message(seq: int) -> Message:
    return Message(seq, 0.0, "tick", {"seq": seq}, str(seq))


def test_a_pause_ends_on_the_schedule_not_after_the_write() -> None:
    """Each write takes 0.3 s of a 1 s interval: the pauses are 0.7 s, not 1 s. A write that
    overruns the interval (1.5 s) is not made up with a burst: the schedule restarts."""
    clock = Clock()
    write_takes = iter([0.3, 0.3, 1.5, 0.3, 0.3])
    items: list[Message | Pause] = []
    for seq in range(5):
        items += [message(seq), Pause(1.0)]
    for _ in iter_body(iter(items), MODES["ndjson"], wait=clock.wait, clock=clock):
        clock.now += next(write_takes, 0.0)
    assert clock.waits[:2] == [1.0, 0.7]  # first pause from now; then on schedule
    assert 0.0 not in clock.waits  # the overrun left no zero-length wait
    assert clock.waits[2:] == [0.7, 0.7]  # 1.5 s late: no catch-up, a fresh schedule


def test_pauses_ending_in_one_slot_share_one_timer_and_all_wake() -> None:
    slots = PauseSlots(gevent.get_hub().loop)
    woke: list[tuple[str, float]] = []
    started = time.monotonic()
    for name in "abc":
        slots.add(0.02, lambda name=name: woke.append((name, time.monotonic() - started)))
    assert len(slots._waiting) <= 2  # one timer per slot, not per waiter
    gevent.sleep(0.05)
    assert [name for name, _ in woke] == ["a", "b", "c"]
    assert all(0.02 <= at < 0.02 + PACE_SLOT_S + 0.02 for _, at in woke)
    assert slots._waiting == {}


def test_a_cancelled_waiter_is_not_woken() -> None:
    slots = PauseSlots(gevent.get_hub().loop)
    woke: list[str] = []
    waiter = slots.add(0.01, lambda: woke.append("cancelled"))
    slots.add(0.01, lambda: woke.append("kept"))
    waiter[0] = None
    gevent.sleep(0.03)
    assert woke == ["kept"]


@pytest.mark.parametrize("seconds", [0.0, 0.015, 0.03])
def test_a_pacer_pauses_at_least_as_long_as_asked(seconds: float) -> None:
    pause = Pacer(gevent.get_hub()).pause
    took: list[float] = []

    def paced() -> None:
        started = time.monotonic()
        assert pause(seconds)
        took.append(time.monotonic() - started)

    gevent.spawn(paced).join(1.0)
    assert len(took) == 1 and seconds <= took[0] < seconds + PACE_SLOT_S + 0.05
