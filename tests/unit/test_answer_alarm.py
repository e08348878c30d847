"""The answers' cheap waits: ``runtime.alarm`` and a ``Follower`` waiting on a bell."""

from __future__ import annotations

import threading
import time

import gevent
import gevent.event
import pytest
from gevent import get_hub

from showcase.answers.log import AnswerMeta
from showcase.answers.memory import MemoryAnswers
from showcase.answers.runner import run_generation
from showcase.chat.answer import iter_answer
from showcase.pure.message import Message
from showcase.runtime.alarm import Alarm, EventAlarm, stop_pause

ID = "chatcmpl-" + "a" * 24
META = AnswerMeta("m", 0, False, 1, 0.0)


def token(seq: int) -> Message:
    return Message(seq=seq, ts=0.0, event="token", data={}, text=f"t{seq}")


def test_alarm_wait_returns_false_when_the_time_runs_out() -> None:
    alarm = Alarm(get_hub())
    started = time.monotonic()
    rung = alarm.wait(0.03)
    assert rung is False
    assert time.monotonic() - started >= 0.02


def test_alarm_ring_from_another_greenlet_ends_the_wait_early() -> None:
    alarm = Alarm(get_hub())
    gevent.spawn_later(0.02, alarm.ring)
    started = time.monotonic()
    rung = alarm.wait(5.0)
    assert rung is True
    assert time.monotonic() - started < 1.0


def test_alarm_rung_before_the_wait_returns_at_once_then_waits_again() -> None:
    alarm = Alarm(get_hub())
    alarm.ring()
    assert alarm.wait(5.0) is True
    assert alarm.wait(0.01) is False  # the ring was used up


def test_alarm_clear_forgets_a_ring_nobody_waited_for() -> None:
    alarm = Alarm(get_hub())
    alarm.ring()
    alarm.clear()
    assert alarm.wait(0.01) is False


def test_alarm_reused_over_many_waits_times_each_one() -> None:
    alarm = Alarm(get_hub())
    for _ in range(5):
        started = time.monotonic()
        assert alarm.wait(0.01) is False
        assert time.monotonic() - started >= 0.005


def test_stop_pause_on_an_alarm_wakes_when_stop_is_set() -> None:
    stop = gevent.event.Event()
    pause = stop_pause(stop, Alarm(get_hub()))  # type: ignore[arg-type]
    assert pause(0.01) is False
    gevent.spawn_later(0.02, stop.set)
    started = time.monotonic()
    assert pause(5.0) is True
    assert time.monotonic() - started < 1.0
    assert pause(5.0) is True  # set stays set


def test_generation_pausing_on_an_alarm_stops_within_100_ms_of_a_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stop event as a gevent worker makes it (threading patched): it can rawlink.
    monkeypatch.setattr(threading, "Event", gevent.event.Event)
    store = MemoryAnswers()
    stop = store.create(ID, META)
    pause = stop_pause(stop, Alarm(get_hub()))
    items = iter_answer(["a", "b", "c"], interval_ms=5_000)
    runner = gevent.spawn(run_generation, store, ID, items, stop, 60.0, lambda: False, pause)
    gevent.sleep(0.05)
    started = time.monotonic()
    assert store.cancel(ID) == "cancelled"
    runner.join(2.0)
    assert runner.dead
    assert time.monotonic() - started < 0.1
    assert store.count_running() == 0


def test_follower_on_a_bell_times_out_empty_then_gets_the_next_item_at_once() -> None:
    store = MemoryAnswers()
    store.create(ID, META)
    follower = store.follow(ID, None)
    assert follower is not None
    follower.bell = EventAlarm()
    assert follower.take(0.02) == []
    store.append(ID, token(0))  # nobody waits: the bell was forgotten at the timeout
    started = time.monotonic()
    assert [m.seq for m in follower.take(5.0)] == [0]
    assert time.monotonic() - started < 0.5


def test_follower_on_a_bell_wakes_on_an_append_from_another_thread() -> None:
    store = MemoryAnswers()
    store.create(ID, META)
    follower = store.follow(ID, None)
    assert follower is not None
    follower.bell = EventAlarm()
    threading.Timer(0.03, store.append, (ID, token(0))).start()
    started = time.monotonic()
    assert [m.seq for m in follower.take(5.0)] == [0]
    assert time.monotonic() - started < 1.0
    # The ring was read with its item: the next wait is a whole one.
    started = time.monotonic()
    assert follower.take(0.03) == []
    assert time.monotonic() - started >= 0.02


def test_alarm_rung_then_thrown_out_of_its_wait_is_not_switched_in_later() -> None:
    alarm = Alarm(get_hub())
    outcome: list[str] = []

    def waiter() -> None:
        try:
            alarm.wait(5.0)
        except KeyError:
            outcome.append("thrown")
        gevent.sleep(0.05)  # a late switch from the ring would end this sleep early
        outcome.append("slept")

    started = time.monotonic()
    glet = gevent.spawn(waiter)
    gevent.sleep(0.01)

    def cut() -> None:
        alarm.ring()  # its switch is scheduled ...
        glet.throw(KeyError)  # ... but the wait ends otherwise first

    gevent.spawn(cut)
    glet.join(2.0)
    assert outcome == ["thrown", "slept"]
    assert time.monotonic() - started >= 0.05


def test_stop_pause_with_a_stop_that_cannot_rawlink_is_its_wait() -> None:
    stop = threading.Event()
    pause = stop_pause(stop, Alarm(get_hub()))
    assert pause == stop.wait
    stop.set()
    assert pause(5.0) is True
