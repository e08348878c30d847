"""A room's SSE stream read over a real socket, event by event, for the hub's live tests."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

from showcase.pure.framing.sse import ServerSentEvent, SSEParser

READ_TIMEOUT_S = 10.0  # heartbeats come every second on the test servers
MAX_EVENTS = 5000


class RoomReader:
    """``GET /chat/events?room=…`` held open; ``until`` reads events in arrival order."""

    def __init__(self, base_url: str, room: str, last_event_id: str | None = None) -> None:
        headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
        self.response = requests.get(
            f"{base_url}/chat/events",
            params={"room": room},
            headers=headers,
            stream=True,
            timeout=(5, READ_TIMEOUT_S),
        )
        assert self.response.status_code == 200, self.response.text
        self.chunks = self.response.iter_content(chunk_size=None)
        self.parser = SSEParser()
        self.pending: deque[ServerSentEvent] = deque()

    def next_event(self, deadline: float | None = None) -> ServerSentEvent:
        """The next event; AssertionError past ``deadline`` (monotonic), heartbeats or not."""
        while not self.pending:
            if deadline is not None and time.monotonic() > deadline:
                raise AssertionError("no event before the deadline")
            self.pending.extend(self.parser.feed(next(self.chunks)))
        return self.pending.popleft()

    def until(
        self, done: Callable[[ServerSentEvent], bool], timeout_s: float = 30.0
    ) -> list[ServerSentEvent]:
        """Every event up to and including the first for which ``done`` is true."""
        events: list[ServerSentEvent] = []
        deadline = time.monotonic() + timeout_s
        while len(events) < MAX_EVENTS and time.monotonic() < deadline:
            event = self.next_event(deadline)
            events.append(event)
            if done(event):
                return events
        raise AssertionError(f"not seen in {len(events)} events: {events[-5:]}")

    def until_count(self, count: int) -> list[ServerSentEvent]:
        return self.until(lambda e: e.event == "presence" and data(e)["count"] == count)

    def until_id(self, message_id: str) -> list[ServerSentEvent]:
        return self.until(lambda e: e.event == "message" and e.id == message_id)

    def close(self) -> None:
        self.response.close()


def data(event: ServerSentEvent) -> Any:
    return json.loads(event.data)


def messages(events: list[ServerSentEvent]) -> list[tuple[str, str]]:
    """(id, text) of the message events, in order."""
    return [(e.id, data(e)["text"]) for e in events if e.event == "message"]


def post(
    session: requests.Session, base_url: str, room: str, text: str, token: str | None = None
) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = session.post(
        f"{base_url}/chat/send",
        json={"room": room, "user": "tester", "text": text},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    message_id: str = response.json()["id"]
    return message_id
