"""The hub's limits on a real server of their own: a 5-message log, 16-message queues, a
publish token and a 2 s send deadline. Too-old ids get a reset; a subscriber that stops
reading is cut while a fast one on the same worker receives every message."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.tools.launcher import RunningServer, start_server
from tests.integration.hub_reader import RoomReader, data, messages, post
from tests.integration.test_stalled_readers import health, wait_until
from tests.integration.wire import stalled_client

pytestmark = pytest.mark.integration

TOKEN = "hub-test-token"
LOG_COUNT = 5
QUEUE_LIMIT = 16
SEND_TIMEOUT_S = 2.0
BURST = 1200  # 4,000-byte texts: more than a stalled socket (up to 4 MiB) and its queue take


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("hub") / "gunicorn.log",
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
            "SHOWCASE_HUB_TOKEN": TOKEN,
            "SHOWCASE_HUB_LOG_COUNT": str(LOG_COUNT),
            "SHOWCASE_HUB_QUEUE_LIMIT": str(QUEUE_LIMIT),
        },
    )
    yield running
    running.stop()


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def test_publish_needs_the_token_and_stores_nothing_without_it(hub_server: RunningServer) -> None:
    room, url = new_room(), f"{hub_server.url}/chat/send"
    body = {"room": room, "user": "u", "text": "x"}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        refused = requests.post(url, json=body, headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["field"] == "Authorization"
    with requests.Session() as session:
        assert post(session, hub_server.url, room, "first", token=TOKEN) == "1"  # none before


def test_too_old_id_gets_a_reset_then_the_log(hub_server: RunningServer) -> None:
    room = new_room()
    with requests.Session() as session:
        ids = [post(session, hub_server.url, room, f"m{n}", token=TOKEN) for n in range(12)]
    reader = RoomReader(hub_server.url, room, last_event_id=ids[2])
    try:
        events = reader.until_id(ids[-1])
    finally:
        reader.close()
    assert events[0].event == "reset"
    assert data(events[0]) == {"room": room, "oldest": ids[-LOG_COUNT], "last_event_id": ids[2]}
    assert messages(events) == [(i, f"m{n}") for n, i in enumerate(ids) if n >= 12 - LOG_COUNT]


def test_a_stalled_subscriber_is_cut_and_a_fast_one_gets_everything(
    hub_server: RunningServer,
) -> None:
    room = new_room()
    fast = RoomReader(hub_server.url, room)
    fast.until_count(1)
    stalled = stalled_client(hub_server.url, f"/chat/events?room={room}")
    received: list[tuple[str, str]] = []
    counts: list[int] = []
    try:
        fast.until_count(2)

        def read_fast() -> None:
            while len(received) < BURST:
                event = fast.next_event()
                if event.event == "presence":
                    counts.append(data(event)["count"])
                elif event.event == "message":
                    received.append((event.id, data(event)["text"][:8]))

        reader = threading.Thread(target=read_fast, daemon=True)
        reader.start()
        with requests.Session() as session:
            ids = [
                post(session, hub_server.url, room, f"{n:08d}" + "x" * 3992, token=TOKEN)
                for n in range(BURST)
            ]
        reader.join(60)
        assert not reader.is_alive()
        assert received == [(i, f"{n:08d}") for n, i in enumerate(ids)]
        # The stalled one is dropped from the room: its queue filled, or (when the kernel's
        # send buffer took the whole burst) its blocked write hit the send deadline.
        if counts[-1:] != [1]:
            fast.until_count(1)
        # …and its stream ends at the send deadline: only the fast one is left open.
        assert wait_until(lambda: health(hub_server)["open_streams"] == 1, SEND_TIMEOUT_S + 8)
    finally:
        stalled.close()
        fast.close()
    assert "Traceback" not in hub_server.log()


def test_sigterm_ends_a_waiting_subscriber_cleanly(tmp_path: Path, data_dir: Path) -> None:
    """A subscriber blocked on its queue ends like a paused stream: after what it was sent,
    with the body's last chunk (so an SSE client resumes), not a cut connection."""
    server = start_server(
        tmp_path / "gunicorn.log",
        env={"SHOWCASE_DATA_DIR": str(data_dir), "SHOWCASE_HEARTBEAT_S": "30"},
    )
    try:
        reader = RoomReader(server.url, new_room())
        reader.until_count(1)
        server.process.send_signal(signal.SIGTERM)
        rest = list(reader.chunks)  # ChunkedEncodingError if the connection were cut
        assert b"".join(rest) == b""
        reader.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()
