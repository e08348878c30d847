"""``iter_room``: a subscription as a source, for ``bodies.iter_body``. Pure: no Flask.

It yields ``HubEvent``s and blocks on the subscription's queue where other sources pause.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from showcase.hub.broker import Broker, BrokerUnavailable
from showcase.hub.event import HEARTBEAT_EVENT, error_event, notice_event
from showcase.message import Message, Pause

# Yielded before blocking: iter_body flushes what it has batched at a pause, so a replay or a
# burst goes out in few writes and nothing waits in the batch while the queue is empty.
FLUSH = Pause(0.0)


def iter_room(
    broker: Broker, room: str, last_event_id: str | None, heartbeat_s: float
) -> Iterator[Message | Pause]:
    """Join ``room`` at the first ``next()`` (a body never iterated never joins), replay,
    then live events; a heartbeat event after ``heartbeat_s`` of silence. A subscriber cut as
    too slow gets a notice saying why, then the stream ends; so does one cut while waiting
    (a stopping server). Closing the generator leaves the room."""
    try:
        subscription = broker.subscribe(room, last_event_id)
    except BrokerUnavailable as error:
        yield error_event(str(error), time.time() * 1000.0)
        return
    try:
        for event in subscription.replay:
            yield event
        subscription.replay = []  # the log's events are shared: do not hold them longer
        while True:
            yield FLUSH
            try:
                events = subscription.take(heartbeat_s)
            except ConnectionAbortedError:
                # lifecycle.StreamCut thrown into a waiting stream: the server is stopping.
                # End cleanly after what was sent, as a paused stream does; clients resume.
                return
            if subscription.cut_reason is not None:
                last_words = error_event if subscription.cut_error else notice_event
                yield last_words(subscription.cut_reason, time.time() * 1000.0)
                return
            if not events:
                yield HEARTBEAT_EVENT
                continue
            for event in events:
                yield event
    finally:
        subscription.close()
