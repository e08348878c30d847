"""``iter_room``: a subscription as a source, for ``bodies.iter_body``. Pure: no Flask.

It yields ``HubEvent``s and blocks on the subscription's queue where other sources pause.
"""

from __future__ import annotations

import time
from collections.abc import Generator

from showcase.hub.broker import Broker, BrokerUnavailable
from showcase.hub.event import HEARTBEAT_EVENT, hub_error_event, notice_event
from showcase.hub.room import Subscription, Writer
from showcase.pure.message import Message, Pause

# Yielded before blocking: iter_body flushes what it has batched at a pause, so a replay or a
# burst goes out in few writes and nothing waits in the batch while the queue is empty.
FLUSH = Pause(0.0)


def iter_room(
    broker: Broker,
    room: str,
    last_event_id: str | None,
    heartbeat_s: float,
    writer: Writer | None = None,
) -> Generator[Message | Pause, None, None]:
    """Join ``room`` at the first ``next()`` (a body never iterated never joins), replay,
    then live events; a heartbeat event after ``heartbeat_s`` of silence. A subscriber cut as
    too slow gets a notice saying why, then the stream ends; so does one cut while waiting
    (a stopping server). Closing the generator leaves the room.

    ``writer`` (hub/direct.py): once the response's first bytes are out, publishes write
    to the socket directly while the stream waits; whatever they leave unsent goes out
    here first, before anything else of the stream's."""
    try:
        subscription = broker.subscribe(room, last_event_id)
    except BrokerUnavailable as error:
        yield hub_error_event(str(error), time.time() * 1000.0)
        return
    try:
        written = bool(subscription.replay)  # a FLUSH then writes the headers and the replay
        for event in subscription.replay:
            yield event
        subscription.replay = []  # the log's events are shared: do not hold them longer
        wait_s = heartbeat_s
        while True:
            yield FLUSH
            if written and writer is not None:
                subscription.writer, writer = writer, None
            try:
                events = subscription.take(wait_s)
            except ConnectionAbortedError:
                if subscription.broken is not None:
                    raise  # a direct write's SendTimeout: the stream is cut, as by a write
                # lifecycle.StreamCut thrown into a waiting stream: the server is stopping.
                # End cleanly after what was sent, as a paused stream does; clients resume.
                send_unsent(subscription)
                return
            sent = send_unsent(subscription)
            if subscription.cut_reason is not None:
                last_words = hub_error_event if subscription.cut_error else notice_event
                yield last_words(subscription.cut_reason, time.time() * 1000.0)
                return
            written = True  # whatever comes next: the headers went out with the first
            if not events:
                # A heartbeat after heartbeat_s of silence; the writer's writes are not silence.
                quiet_s = subscription.room.clock() - subscription.written_at
                if sent or quiet_s < heartbeat_s:
                    wait_s = heartbeat_s - (0.0 if sent else quiet_s)
                else:
                    wait_s = heartbeat_s
                    yield HEARTBEAT_EVENT
                continue
            wait_s = heartbeat_s
            for event in events:
                yield event
    finally:
        subscription.close()


def send_unsent(subscription: Subscription) -> bool:
    """Send what a direct write left unsent (it must precede the stream's next bytes)."""
    unsent = subscription.unsent
    if not unsent or subscription.writer is None:
        return False
    subscription.unsent = b""
    subscription.writer.send_rest(unsent)
    return True
