"""The load generator's WebSocket and polling clients against the real server: what each
record holds (status, messages, requests, header bytes, errors). Never a timing threshold."""

from __future__ import annotations

import pytest

from benchmarks.load.poll import open_poll
from benchmarks.load.wire import Plan, run_plan_in_process
from benchmarks.load.ws import open_ws

pytestmark = pytest.mark.integration


def test_ws_records_every_message_and_a_normal_close(base_url: str) -> None:
    plan = Plan(url=base_url, paths=("/ws?count=5&interval=10",) * 3, opener=open_ws)
    records, _ = run_plan_in_process(plan, None)
    for record in records:
        assert record.status == 101
        assert record.error is None and record.complete
        assert record.messages == 5 and len(record.latencies_ms) == 5
        # Every text frame's payload counted; wire bytes add each frame's header and the close.
        assert 0 < record.body_bytes < record.wire_bytes
        assert record.requests == 1 and record.request_bytes > 0 and record.head_bytes > 0


def test_ws_refused_handshake_is_an_error_with_its_status(base_url: str) -> None:
    plan = Plan(url=base_url, paths=("/ws?count=0",), opener=open_ws)
    [record], _ = run_plan_in_process(plan, None)
    assert record.status == 400
    assert record.error is not None and record.error.startswith("handshake")
    assert not record.complete and record.messages == 0


@pytest.mark.parametrize("wait", [25_000, 0])
def test_polling_gets_every_message_once_on_one_connection(base_url: str, wait: int) -> None:
    path = f"/poll?count=6&interval=20&wait={wait}"
    plan = Plan(url=base_url, paths=(path,) * 2, opener=open_poll)
    records, _ = run_plan_in_process(plan, None)
    for record in records:
        assert record.status == 200
        assert record.error is None and record.complete
        assert record.messages == 6 and len(record.latencies_ms) == 6
        # One request per answer, each with its head: at least one answer, at most one a message
        # for long polling (an answer holds every message due), any number when short.
        assert record.requests >= 1 and record.head_bytes > 0
        assert record.request_bytes > record.requests * len("GET /poll HTTP/1.1\r\n")
        if wait:
            assert record.requests <= 6


def test_polling_refused_is_an_error_with_its_status(base_url: str) -> None:
    plan = Plan(url=base_url, paths=("/poll?count=0",), opener=open_poll)
    [record], _ = run_plan_in_process(plan, None)
    assert record.status == 400
    assert record.error is not None and record.error.startswith("status 400")
    assert record.messages == 0 and record.requests == 1
