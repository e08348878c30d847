"""``GET /poll`` against real gunicorn + gevent servers: long and short polling, the
stateless schedule across many polls and across a server restart, SIGTERM, and many
waiting polls on one worker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.tools.launcher import RunningServer, start_server
from showcase.tools.ws_poll_client import iter_poll
from tests.integration.wire import open_raw, read_head

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

WAIT_S = 30.0  # a bound on waiting, not a speed target


def poll(base_url: str, **query: object) -> requests.Response:
    return requests.get(base_url + "/poll", params=query, timeout=WAIT_S)


def test_poll_answers_json_with_no_store_and_the_first_message(base_url: str) -> None:
    response = poll(base_url, count=3, interval=50, wait=10_000)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert [m["seq"] for m in answer["messages"]] == [0]
    assert (answer["next"], answer["done"]) == (0, False)
    assert isinstance(answer["start"], float)


def test_long_poll_waits_for_the_next_message_then_answers_with_it(base_url: str) -> None:
    first = poll(base_url, count=3, interval=300, wait=10_000).json()
    second = poll(base_url, count=3, interval=300, wait=10_000, after=0, start=first["start"])
    assert second.status_code == 200
    answer = second.json()
    assert [m["seq"] for m in answer["messages"]] == [1]
    assert answer["messages"][0]["ts"] >= first["start"] + 300


def test_long_poll_answers_empty_when_the_wait_expires(base_url: str) -> None:
    start = time.time() * 1000.0
    response = poll(base_url, count=2, interval=60_000, after=0, start=start, wait=200)
    assert response.status_code == 200
    assert response.json() == {"messages": [], "next": 0, "done": False, "start": start}


def test_every_message_due_at_once_comes_in_one_answer(base_url: str) -> None:
    start = time.time() * 1000.0 - 10_000.0  # the whole stream is due already
    answer = poll(base_url, count=40, interval=100, start=start, wait=0).json()
    assert [m["seq"] for m in answer["messages"]] == list(range(40))
    assert (answer["next"], answer["done"]) == (39, True)


@pytest.mark.parametrize("wait_ms", [25_000, 0])
def test_polling_with_next_gets_every_message_once(base_url: str, wait_ms: int) -> None:
    params = {"count": 30, "interval": 20, "source": "text"}
    if wait_ms == 0:  # short polling: many empty answers in between, none lost
        seqs = []
        for payload in iter_poll(base_url, params, wait_ms=0):
            seqs.append(payload["seq"])
    else:
        seqs = [payload["seq"] for payload in iter_poll(base_url, params, wait_ms=wait_ms)]
    assert seqs == list(range(30))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=-2", "after"),
        ("wait=60001", "wait"),
        ("start=abc", "start"),
        ("count=0", "count"),
        ("after=5&count=5", "after"),
        ("source=nope", "source"),
    ],
)
def test_poll_bad_parameters_get_400_json(base_url: str, query: str, field: str) -> None:
    response = requests.get(f"{base_url}/poll?{query}", timeout=WAIT_S)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_waiting_poll_counts_as_an_open_stream_until_its_client_leaves(
    server: RunningServer,
) -> None:
    assert server.wait_open_streams(0) == 0
    logged = len(server.log())
    start = time.time() * 1000.0
    target = f"/poll?count=2&interval=60000&after=0&start={start}&wait=60000"
    socks = [open_raw(server.url, target) for _ in range(5)]
    try:
        assert server.wait_open_streams(5) == 5
    finally:
        for sock in socks:
            sock.close()
    assert server.wait_open_streams(0) == 0  # long before the 60 s wait is over
    time.sleep(0.5)
    assert "Traceback" not in server.log()[logged:]  # a departure, not an error


def test_polling_across_a_server_restart_loses_and_repeats_nothing(tmp_path: Path) -> None:
    params = {"count": 40, "interval": 50}
    query: dict[str, object] = {**params, "wait": 10_000}
    seqs: list[int] = []
    for run in range(2):
        running = start_server(tmp_path / f"run{run}.log", env={"SHOWCASE_HEARTBEAT_S": "1"})
        try:
            for _ in range(5 if run == 0 else 1000):
                answer = poll(running.url, **query).json()
                seqs += [m["seq"] for m in answer["messages"]]
                query.update(after=answer["next"], start=answer["start"])
                if answer["done"]:
                    break
        finally:
            running.stop()
    assert seqs == list(range(40))


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "gunicorn.log", env={"SHOWCASE_HEARTBEAT_S": "1"})
    yield running
    running.stop()


def test_sigterm_answers_waiting_polls_with_what_is_due(own_server: RunningServer) -> None:
    start = time.time() * 1000.0
    target = f"/poll?count=2&interval=60000&after=0&start={start}&wait=60000"
    socks = [open_raw(own_server.url, target) for _ in range(5)]
    try:
        assert own_server.wait_open_streams(5) == 5
        os.kill(own_server.pid, signal.SIGTERM)
        for sock in socks:
            sock.settimeout(WAIT_S)
            status, _, body = read_head(sock)
            while piece := sock.recv(65536):
                body += piece
            assert status == 200
            assert b'"messages":[]' in body and b'"next":0' in body
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_worker_holds_10000_waiting_polls(own_server: RunningServer) -> None:
    start = time.time() * 1000.0
    target = f"/poll?count=2&interval=60000&after=0&start={start}&wait=60000"
    socks = []
    try:
        for _ in range(10_000):
            socks.append(open_raw(own_server.url, target))
        assert open_streams_once(own_server.url, 10_000) == 10_000
        assert poll(own_server.url, count=1, wait=0).status_code == 200  # still answering
    finally:
        for sock in socks:
            sock.close()
    assert open_streams_once(own_server.url, 0) == 0


def open_streams_once(url: str, expected: int, timeout_s: float = 120.0) -> int:
    """``/healthz``'s open streams once they are ``expected``, or the last count seen when
    time is up. 10,000 arrivals or departures at once keep the worker busy for a while on a
    loaded machine: a health check that times out is asked again, not a failure."""
    deadline = time.monotonic() + timeout_s
    count = -1
    while count != expected and time.monotonic() < deadline:
        try:
            count = requests.get(url + "/healthz", timeout=30).json()["open_streams"]
        except requests.RequestException:
            continue
        if count != expected:
            time.sleep(0.5)
    return count
