"""Resumable, cancellable answers against a real gunicorn + gevent server (memory log): resume
after the connection dropped (between events and mid-event), two readers, cancel, orphans,
expiry, refusals, NDJSON."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.pure.sources import passage_tokens
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.answer_reader import (
    AnswerReader,
    cancel,
    chunk_of,
    resume,
    running_answers,
    start_answer,
    token_events,
    wait_for,
)
from tests.integration.wire import SOCKET_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
TOKENS = list(passage_tokens())
ORPHAN_S = 1.0
TTL_S = 3.0


@pytest.fixture(scope="module")
def answers_server(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[RunningServer]:
    env = {
        "SHOWCASE_DATA_DIR": str(data_dir),
        "SHOWCASE_HEARTBEAT_S": "1",
        "SHOWCASE_ANSWER_ORPHAN_S": str(ORPHAN_S),
        "SHOWCASE_ANSWER_TTL_S": str(TTL_S),
    }
    running = start_server(tmp_path_factory.mktemp("answers") / "gunicorn.log", env=env)
    yield running
    running.stop()


@pytest.fixture
def url(answers_server: RunningServer) -> str:
    return answers_server.url


@pytest.fixture(scope="module")
def health() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_every_chunk_carries_its_seq_and_the_header_names_the_answer(url: str) -> None:
    reader = start_answer(url, 0, max_tokens=5)
    events = reader.events()
    reader.close()
    answer_id = reader.answer_id
    assert [e.id for e in events] == ["", "0", "1", "2", "3", "4", "5", "5"]
    assert [chunk_of(e)["id"] for e in events[:-1]] == [answer_id] * 7
    assert chunk_of(events[-2])["choices"][0]["finish_reason"] == "length"
    assert events[-1].data == "[DONE]"
    assert reader.raw.endswith(b'"length"}]}\n\ndata: [DONE]\n\n')  # [DONE] has no id


def test_resume_after_the_socket_closed_mid_answer(url: str) -> None:
    reader = start_answer(url, 10)
    first = token_events(reader.events(6))
    reader.close()
    assert [seq for seq, _ in first] == [0, 1, 2, 3, 4]
    rest = resume(url, reader.answer_id, headers={"Last-Event-ID": str(first[-1][0])})
    assert rest.status == 200
    events = rest.events()
    rest.close()
    tokens = first + token_events(events)
    assert [seq for seq, _ in tokens] == list(range(len(TOKENS)))
    assert [text for _, text in tokens] == TOKENS
    assert events[-1].data == "[DONE]"


def test_resume_after_a_cut_mid_event(url: str) -> None:
    """Half an event read, then the socket closed: the half is never dispatched, and the
    resume from the last whole one repeats nothing and loses nothing."""
    reader = start_answer(url, 10)
    marker = b"id: 7\ndata: {"
    reader.read_until(marker)
    # What the client took in: up to the middle of event 7 (the socket may hold more).
    events = reader.sse.feed(reader.raw[: reader.raw.index(marker) + len(marker)])
    reader.close()
    seen = token_events(events)
    assert seen[-1][0] == 6
    rest = resume(url, reader.answer_id, after=seen[-1][0])
    tokens = seen + token_events(rest.events())
    rest.close()
    assert [text for _, text in tokens] == TOKENS
    assert [seq for seq, _ in tokens] == list(range(len(TOKENS)))


def test_two_readers_follow_one_answer(url: str) -> None:
    first = start_answer(url, 5)
    second = resume(url, first.answer_id)
    assert second.status == 200
    got = [token_events(r.events()) for r in (first, second)]
    first.close()
    second.close()
    assert got[0] == got[1]
    assert [text for _, text in got[0]] == TOKENS


def test_cancel_ends_every_reader_within_100_ms(url: str, health: requests.Session) -> None:
    first = start_answer(url, 50)
    second = resume(url, first.answer_id)
    seen = [first.events(4), second.events(4)]
    # Timed from the cancel's answer: its own HTTP round trip is the client's, and on a
    # loaded machine alone takes longer than the stop.
    response = cancel(url, first.answer_id)
    started = time.monotonic()
    ends, rests = [], []
    try:
        for reader in (first, second):
            rests.append(reader.events())
            ends.append(time.monotonic() - started)
        wait_for(lambda: running_answers(url, health) == 0, timeout_s=5.0)
        stopped = time.monotonic() - started
    finally:
        first.close()
        second.close()
    for before, rest in zip(seen, rests, strict=True):
        events = before + rest
        assert events[-1].data == "[DONE]"
        last = chunk_of(events[-2])
        assert last["cancelled"] is True
        assert last["choices"][0]["finish_reason"] == "stop"
        tokens = token_events(events)
        assert [seq for seq, _ in tokens] == list(range(len(tokens)))
        assert events[-2].id == str(len(tokens))  # the last item's seq follows the tokens'
    assert response.status_code == 200
    assert response.json() == {
        "id": first.answer_id,
        "object": "chat.completion.cancellation",
        "status": "cancelled",
    }
    assert stopped < 0.1
    assert max(ends) < 0.1
    assert cancel(url, first.answer_id).json()["status"] == "finished"


def test_an_answer_nobody_reads_stops_after_the_orphan_time(
    url: str, health: requests.Session
) -> None:
    reader = start_answer(url, 100)  # 176 tokens: 17 s to the end
    reader.events(3)
    reader.close()
    closed = time.monotonic()
    wait_for(lambda: running_answers(url, health) == 0, timeout_s=ORPHAN_S + 1.0)
    assert time.monotonic() - closed < ORPHAN_S + 1.0
    replay = resume(url, reader.answer_id)
    events = replay.events()
    replay.close()
    assert chunk_of(events[-2])["cancelled"] is True
    assert len(token_events(events)) < len(TOKENS)


def test_a_finished_answer_is_replayed_then_expires(url: str) -> None:
    reader = start_answer(url, 0, max_tokens=3)
    events = reader.events()
    reader.close()
    over = resume(url, reader.answer_id, after=3)
    over.close()
    assert over.status == 204
    replay = resume(url, reader.answer_id, after=1)
    assert replay.status == 200
    assert [e.id for e in replay.events()] == ["2", "3", "3"]
    replay.close()
    assert events[-1].data == "[DONE]"
    time.sleep(TTL_S + 0.2)
    gone = requests.get(
        f"{url}/v1/chat/completions/{reader.answer_id}/stream", timeout=SOCKET_TIMEOUT_S
    )
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "answer_not_found"


@pytest.mark.parametrize(
    ("target", "headers", "status", "param"),
    [
        ("/v1/chat/completions/nope/stream", {}, 404, None),
        (f"/v1/chat/completions/chatcmpl-{'0' * 24}/stream", {}, 404, None),
        (f"/api/chat/chatcmpl-{'0' * 24}", {}, 404, None),
        ("/v1/chat/completions/ID/stream?after=-1", {}, 400, "after"),
        ("/v1/chat/completions/ID/stream?after=1.5", {}, 400, "after"),
        ("/v1/chat/completions/ID/stream?after=" + "9" * 20, {}, 400, "after"),
        ("/v1/chat/completions/ID/stream", {"Last-Event-ID": "x"}, 400, "Last-Event-ID"),
        ("/api/chat/ID?after=%C3%A9", {}, 400, "after"),
    ],
)
def test_bad_ids_and_positions_are_refused_as_json(
    url: str, target: str, headers: dict[str, str], status: int, param: str | None
) -> None:
    answer = start_answer(url, 0, max_tokens=1)
    answer.events()
    answer.close()
    target = target.replace("ID", answer.answer_id)
    response = requests.get(url + target, headers=headers, timeout=SOCKET_TIMEOUT_S)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    # Each API's error shape: OpenAI's object, or the NDJSON chat servers' flat one.
    assert (body["error"] if "/v1/" in target else body)["param"] == param


def test_cancel_of_an_unknown_answer_is_404(url: str) -> None:
    response = cancel(url, f"chatcmpl-{'1' * 24}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "answer_not_found"


def test_ndjson_lines_carry_id_and_seq_and_resume(url: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    reader = AnswerReader(url, "POST", "/api/chat", {**body, "options": {"interval": 10}})
    assert reader.status == 200
    first = reader.lines(4)
    reader.close()
    answer_id = reader.headers["x-answer-id"]
    assert [(line["id"], line["seq"]) for line in first] == [(answer_id, n) for n in range(4)]
    rest = AnswerReader(url, "GET", f"/api/chat/{answer_id}?after=3")
    assert rest.status == 200
    lines = first + rest.lines()
    rest.close()
    assert [line["seq"] for line in lines] == list(range(len(TOKENS) + 1))
    assert "".join(line["message"]["content"] for line in lines) == "".join(TOKENS)
    assert lines[-1]["done"] is True
    done = requests.get(f"{url}/api/chat/{answer_id}?after={len(TOKENS)}", timeout=10)
    assert done.status_code == 204
    assert json.dumps(lines[-1]).count('"id"') == 1
