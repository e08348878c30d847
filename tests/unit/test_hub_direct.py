"""Direct writes: a publish writes to a parked subscriber's writer without waking it; what the
socket does not take, or a broken connection, wakes it. Framing is checked on the bytes."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from showcase.hub.direct import socket_writer
from showcase.hub.event import HUB_SSE, MESSAGE, HubEvent, message_event
from showcase.hub.memory import MemoryBroker
from showcase.hub.room import Subscription
from showcase.hub.source import iter_room, send_unsent
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder
from showcase.pure.framing.sse import SSEParser
from showcase.pure.message import Pause
from showcase.runtime.lifecycle import SendTimeout
from showcase.runtime.worker import ClientSocket


class FakeWriter:
    """Takes ``accept`` bytes of each write (all when None), or raises ``error``."""

    def __init__(self, accept: int | None = None) -> None:
        self.accept = accept
        self.error: OSError | None = None
        self.sent: list[bytes] = []
        self.rest: list[bytes] = []

    def send_now(self, event: HubEvent) -> bytes:
        if self.error is not None:
            raise self.error
        data = event.wire(("sse", True))
        taken = len(data) if self.accept is None else self.accept
        self.sent.append(data[:taken])
        return data[taken:]

    def send_rest(self, data: bytes) -> None:
        self.rest.append(data)


def wait_for(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


class Taker:
    """``take`` in a thread, as the stream's greenlet would: parked while it waits."""

    def __init__(self, subscription: Subscription, timeout_s: float = 5.0) -> None:
        self.result: list[HubEvent] | BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(subscription, timeout_s))
        self.thread.start()
        wait_for(lambda: subscription.parked)

    def _run(self, subscription: Subscription, timeout_s: float) -> None:
        try:
            self.result = subscription.take(timeout_s)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.result = error

    def join(self) -> Any:
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.result


def parked(broker: MemoryBroker, writer: FakeWriter) -> Subscription:
    subscription = broker.subscribe("r", None)
    assert [e.event for e in subscription.take(0)] == ["presence"]  # the first take reports
    subscription.writer = writer
    return subscription


def test_a_parked_subscriber_gets_the_message_written_and_stays_asleep() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    subscription = parked(broker, writer)
    taker = Taker(subscription, timeout_s=0.5)
    broker.publish("r", "ann", "one")
    broker.publish("r", "ann", "two")
    assert taker.thread.is_alive() and subscription.parked  # not woken by either
    assert taker.join() == []  # its wait ran to the end: the heartbeat timeout
    assert not subscription.parked and subscription.queue is None
    chunks = ChunkedDecoder().feed(b"".join(writer.sent))  # strict: framing errors raise
    events = SSEParser().feed(b"".join(c.data for c in chunks if isinstance(c, Chunk)))
    assert [(e.event, e.id, json.loads(e.data)["text"]) for e in events] == [
        ("message", "1", "one"),
        ("message", "2", "two"),
    ]


def test_what_the_socket_does_not_take_wakes_the_stream_to_send_it_first() -> None:
    broker, writer = MemoryBroker(), FakeWriter(accept=5)
    subscription = parked(broker, writer)
    taker = Taker(subscription)
    broker.publish("r", "ann", "one")
    assert taker.join() == [] and not subscription.parked
    whole = writer.sent[0] + subscription.unsent
    assert whole.endswith(b"\r\n") and b'"text":"one"' in whole
    broker.publish("r", "ann", "two")  # not parked: queued behind the unsent bytes
    assert writer.sent == [whole[:5]] and len(subscription.queue or ()) == 1
    assert send_unsent(subscription) and writer.rest == [whole[5:]]
    assert subscription.unsent == b""
    assert [e.data["text"] for e in subscription.take(0) if e.event == MESSAGE] == ["two"]


def test_a_broken_connection_leaves_the_room_and_take_raises_its_error() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    watcher = broker.subscribe("r", None)  # before: a join later would wake the other
    subscription = parked(broker, writer)
    taker = Taker(subscription)
    writer.error = BrokenPipeError(errno.EPIPE, "Broken pipe")
    broker.publish("r", "ann", "one")
    assert isinstance(taker.join(), BrokenPipeError)
    _, room = broker._room("r")
    assert room.subscribers == {watcher}
    assert broker.publish("r", "ann", "two") and writer.sent == []


def test_a_message_already_replayed_is_not_written_again() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    subscription = parked(broker, writer)
    event = message_event(3, "3", "r", "u", "old", 1.0)
    subscription.after_seq = 3
    subscription.parked = True  # as in take's wait
    assert subscription.deliver(event) and writer.sent == []


def test_cut_ends_direct_writes() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    subscription = parked(broker, writer)
    subscription.parked = True
    subscription.cut("too slow")
    assert not subscription.parked
    assert subscription.deliver(message_event(1, "1", "r", "u", "x", 1.0)) is False
    assert writer.sent == []


def test_the_source_attaches_the_writer_after_its_first_write() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    items = iter_room(broker, "r", None, heartbeat_s=0.05, writer=writer)
    assert next(items).seconds == 0.0  # FLUSH: nothing written yet (no replay)
    subscription = next(iter(broker._room("r")[1].subscribers))
    assert subscription.writer is None
    assert next(items).event == "presence"
    assert next(items).seconds == 0.0 and subscription.writer is None  # now flushed...
    assert next(items).event == "heartbeat"  # ...and attached for the wait that follows
    assert subscription.writer is writer
    items.close()
    assert broker._room("r")[1].subscribers == set()


@pytest.mark.parametrize("mode", ["sse", "ndjson"])
def test_wire_is_the_mode_bytes_in_one_chunk_or_bare(mode: str) -> None:
    event = message_event(7, "7", "r", "ann", "héllo\nworld", 1.5)
    plain = event.sse_bytes if mode == "sse" else event.ndjson_bytes
    assert event.wire((mode, False)) == plain
    (chunk,) = ChunkedDecoder().feed(event.wire((mode, True)))
    assert isinstance(chunk, Chunk) and chunk.data == plain
    assert event.wire((mode, True)) is event.wire((mode, True))  # built once


def test_socket_writer_only_where_the_wire_bytes_are_known() -> None:
    with ClientSocket() as tcp:  # gunicorn's plain TCP client socket, as the worker makes it
        get = {"gunicorn.socket": tcp, "REQUEST_METHOD": "GET"}
        chunked = socket_writer({**get, "SERVER_PROTOCOL": "HTTP/1.1"}, HUB_SSE.name)
        bare = socket_writer({**get, "SERVER_PROTOCOL": "HTTP/1.0"}, HUB_SSE.name)
        assert chunked is not None and chunked._framing == ("sse", True)
        assert bare is not None and bare._framing == ("sse", False)
        assert socket_writer({**get, "SERVER_PROTOCOL": "HTTP/2"}, "sse") is None
        head = {**get, "REQUEST_METHOD": "HEAD", "SERVER_PROTOCOL": "HTTP/1.1"}
        assert socket_writer(head, "sse") is None  # gunicorn drops a HEAD's body: write none
    with socket.socket() as plain:  # not gunicorn's ClientSocket (as a TLS socket is not)
        other = {"gunicorn.socket": plain, "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}
        assert socket_writer(other, "sse") is None
    assert socket_writer({"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}, "sse") is None


def test_a_held_back_count_goes_to_parked_subscribers_directly() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    subscription = parked(broker, writer)  # its join woke the room: the next one is held back
    taker = Taker(subscription, timeout_s=0.3)
    broker.subscribe("r", None)  # held back: it does not wake the parked one
    assert subscription.parked
    broker.publish("r", "ann", "one")  # carries the held-back count along
    assert taker.thread.is_alive() and subscription.parked  # written to, not woken
    assert taker.join() == []
    chunks = ChunkedDecoder().feed(b"".join(writer.sent))
    events = SSEParser().feed(b"".join(c.data for c in chunks if isinstance(c, Chunk)))
    assert [e.event for e in events] == ["message", "presence"]
    assert json.loads(events[1].data)["count"] == 2
    assert subscription.take(0) == []  # reported once: not again at the next take


def test_a_direct_write_past_the_deadline_cuts_the_stream_rather_than_ending_it() -> None:
    broker, writer = MemoryBroker(), FakeWriter()
    items = iter_room(broker, "r", None, heartbeat_s=5.0, writer=writer)
    flush, presence = next(items), next(items)
    assert isinstance(flush, Pause) and isinstance(presence, HubEvent)
    assert presence.event == "presence"
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(next(items))  # FLUSH and then the wait, parked
            outcome.append(next(items))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    subscription = next(iter(broker._room("r")[1].subscribers))
    wait_for(lambda: subscription.parked)
    writer.error = SendTimeout("the client acknowledged nothing for 30 s (TCP_USER_TIMEOUT)")
    broker.publish("r", "ann", "one")
    thread.join(10)
    assert isinstance(outcome[-1], SendTimeout)  # raised for the worker to count and cut
