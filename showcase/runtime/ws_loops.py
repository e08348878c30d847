"""What each WebSocket endpoint does with its accepted ``WSSession``, until the connection ends.

No Flask here: the views validate, accept and hand over plain values. Every loop registers
with ``lifecycle.STREAMS`` (``/healthz`` counts it; SIGTERM ends it with a 1001 close carrying
the jittered reconnect delay) and leaves it when the connection is over.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.lock import Semaphore
from greenlet import getcurrent

from showcase.chat.answer import count_tokens
from showcase.chat.request import ChatRequest
from showcase.hub.broker import Broker
from showcase.hub.event import HEARTBEAT_EVENT, HubEvent
from showcase.hub.room import Subscription
from showcase.hub.source import iter_room
from showcase.pure.message import Message, Pause
from showcase.pure.refusal import Refusal
from showcase.pure.ws_frames import (
    PROMPT,
    SEND,
    STOP,
    FrameRefused,
    decode_client_frame,
    delta_frame,
    done_frame,
    error_frame,
    event_frame,
    restart_reason,
)
from showcase.runtime import lifecycle
from showcase.runtime.lifecycle import STREAMS, SendTimeout, StopRequested
from showcase.runtime.ws_session import (
    GOING_AWAY,
    NORMAL,
    POLICY,
    SERVER_ERROR,
    Closed,
    PongMissing,
    WSSession,
)

YIELD_EVERY_MESSAGES = 64  # a stream that never pauses lets other greenlets run this often
FOREVER_S = 3600.0  # a wait for the client with nothing else due (keep_alive bounds it)

ChatAnswer = Callable[[ChatRequest], Iterable[Message | Pause]]
SendHandler = Callable[[dict[str, Any]], str]  # the ack frame, or an error frame


def restart_retry_ms() -> int:
    notice = lifecycle.RESTART
    return notice.retry_ms + random.randint(0, notice.jitter_ms)


def run_registered(
    session: WSSession, loop: Callable[[], None], stop_others: Callable[[], None] | None = None
) -> None:
    """Run ``loop`` with the session counted as an open stream, and end it as the other modes
    end: 1001 with ``{"retry_ms"}`` on SIGTERM, 1008 for a frame it cannot use, nothing more
    when the client left or a write missed the send deadline. ``stop_others``: ends the
    session's other greenlet before the close (only one may read the socket)."""
    STREAMS.enter(session, getcurrent())
    code: int | None = None
    reason = ""
    try:
        loop()
    except Closed:
        pass
    except FrameRefused as refused:
        code, reason = POLICY, str(refused)
    except PongMissing as missing:
        code, reason = SERVER_ERROR, str(missing)
    except StopRequested:
        code = GOING_AWAY
    except SendTimeout:
        STREAMS.send_timeouts += 1
        session.closed = True
    except OSError:  # a cut (StreamCut), or a write to a client that reset the connection
        session.closed = True
    finally:
        try:
            if stop_others is not None:
                stop_others()
            if code is None and STREAMS.stopping:
                code = GOING_AWAY
            if code == GOING_AWAY:
                reason = restart_reason(restart_retry_ms())
            if code is not None:
                session.close(code, reason)
        finally:
            STREAMS.leave(session)


def pause_until(session: WSSession, due: float, accepted: tuple[str, ...] = ()) -> list[Any]:
    """Wait until ``due`` (monotonic) answering the client's control frames and keeping the
    connection alive; the client frames (of ``accepted`` types) that came meanwhile end the
    wait early. StopRequested when the server stops."""
    while True:
        if STREAMS.stopping:
            raise StopRequested("server stopping")
        remaining = due - session.clock()
        if remaining <= 0:
            return []
        messages = session.receive(min(remaining, session.until_keep_alive()))
        if messages:
            return [decode_client_frame(data, accepted) for data in messages]
        session.keep_alive()


def run_stream(session: WSSession, items: Iterable[Message | Pause]) -> None:
    """One text frame per message (its payload JSON), paced as ``bodies.iter_body`` paces
    (each pause ends a pause after the previous one was due); 1000 after the last. A client
    message has no use here: 1008."""

    def loop() -> None:
        due: float | None = None
        unpaused = 0
        for item in items:
            if isinstance(item, Message):
                session.send_text(item.json_bytes)
                unpaused += 1
                if unpaused >= YIELD_EVERY_MESSAGES:
                    unpaused = 0
                    if session.receive(0):
                        raise FrameRefused("this endpoint takes no messages")
                    gevent.sleep(0)
                    if STREAMS.stopping:
                        raise StopRequested("server stopping")
                continue
            unpaused = 0
            now = session.clock()
            due = now + item.seconds if due is None else max(now, due + item.seconds)
            if pause_until(session, due):
                raise FrameRefused("this endpoint takes no messages")
        session.close(NORMAL)

    run_registered(session, loop)


def run_chat(
    session: WSSession,
    parse_prompt: Callable[[dict[str, Any]], ChatRequest],
    answer: ChatAnswer,
) -> None:
    """Prompts in, answers out, on one socket until the client closes: each ``prompt`` frame
    is answered with ``delta`` frames and a ``done``; ``stop`` ends the answer in flight
    (``finish_reason: "cancelled"``). A refused prompt gets an ``error`` frame (the POST's
    error body); the socket stays open."""

    def loop() -> None:
        while True:
            frames = pause_until(session, session.clock() + FOREVER_S, (PROMPT, STOP))
            for frame in frames:
                if frame["type"] == STOP:
                    continue  # nothing in flight: nothing to stop
                try:
                    chat = parse_prompt({k: v for k, v in frame.items() if k != "type"})
                except Refusal as error:
                    body = {"message": error.detail, "param": error.field, "code": error.code}
                    session.send_text(error_frame(error.status, {"error": body}))
                    continue
                send_answer(session, chat, answer(chat))

    run_registered(session, loop)


def send_answer(session: WSSession, chat: ChatRequest, items: Iterable[Message | Pause]) -> None:
    """``delta`` frames, then ``done``; a ``stop`` frame meanwhile ends it as ``cancelled``,
    a ``prompt`` gets a 409 ``error`` frame (one answer at a time)."""
    due: float | None = None
    sent = 0
    for item in items:
        if isinstance(item, Message):
            if item.event == "end":
                data = item.data
                done = done_frame(
                    data["finish_reason"], data["prompt_tokens"], data["completion_tokens"]
                )
                session.send_text(done)
                return
            session.send_text(delta_frame(item))
            sent += 1
            continue
        now = session.clock()
        due = now + item.seconds if due is None else max(now, due + item.seconds)
        for frame in pause_until(session, due, (PROMPT, STOP)):
            if frame["type"] == STOP:
                session.send_text(done_frame("cancelled", count_tokens(chat.prompt_chars), sent))
                return
            busy = {"message": "an answer is in flight: stop it first", "param": None}
            session.send_text(error_frame(409, {"error": {**busy, "code": "busy"}}))


def run_room(
    session: WSSession,
    broker: Broker,
    room: str,
    last_id: str | None,
    handle_send: SendHandler,
) -> None:
    """The room's events as frames (``iter_room``: replay from ``last_id``, ``reset`` when it
    fell out of the log, live messages, presence), while a reader greenlet takes the
    client's ``send`` frames and answers each with ``handle_send``'s frame (an ack or an
    error). A ping stands in for the hub's heartbeat. The room's own end (too slow, broker
    failed) closes with 1011 after its last words."""
    recorder = RecordingBroker(broker)
    session.write_lock = Semaphore()
    reader = gevent.spawn(read_sends, session, recorder, handle_send)
    items = iter_room(recorder, room, last_id, session.heartbeat_s)

    def loop() -> None:
        for item in items:
            if session.closed or reader.dead:
                return
            if isinstance(item, Pause):
                continue
            if item is HEARTBEAT_EVENT:
                session.keep_alive()
                continue
            assert isinstance(item, HubEvent)
            session.send_text(event_frame(item.event, item.data))
        if not STREAMS.stopping and not session.closed and not reader.dead:
            reader.kill()
            session.close(SERVER_ERROR, "the room's stream ended: reconnect with last_id")

    def stop_reader() -> None:
        reader.kill()
        items.close()  # leaves the room

    run_registered(session, loop, stop_reader)


def read_sends(session: WSSession, recorder: RecordingBroker, handle_send: SendHandler) -> None:
    """The room's reader: client frames in, an answer frame for each. When the connection
    ends, or a frame cannot be used (1008), the subscription is cut so the room loop ends."""
    try:
        while True:
            for data in session.receive(FOREVER_S):
                session.send_text(handle_send(decode_client_frame(data, (SEND,))))
    except FrameRefused as refused:
        session.close(POLICY, str(refused))
    except (Closed, OSError):
        pass
    finally:
        subscription = recorder.subscription
        if subscription is not None:
            subscription.cut("the client left")


class RecordingBroker:
    """The app's broker, keeping the subscription ``iter_room`` makes, so that the reader
    can end it."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.subscription: Subscription | None = None

    def publish(self, room: str, user: str, text: str) -> str:
        return self.broker.publish(room, user, text)

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        self.subscription = self.broker.subscribe(room, last_event_id)
        return self.subscription

    def oldest_id(self, room: str) -> str | None:
        return self.broker.oldest_id(room)

    def check_room(self, room: str) -> None:
        self.broker.check_room(room)

    def count_rooms(self) -> int:
        return self.broker.count_rooms()
