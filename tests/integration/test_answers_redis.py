"""Resumable answers on Redis Streams: two servers share one redis-server; an answer started
on one is resumed, followed, cancelled and kept from orphanhood on the other."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks.infra.hub_redis import RedisServer
from showcase.answers.log import AnswerMeta
from showcase.answers.redis_answers import META_PREFIX, STREAM_PREFIX, RedisAnswers
from showcase.pure.message import Message
from showcase.pure.sources import passage_tokens
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.answer_reader import (
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
ORPHAN_S = 1.5
TTL_S = 3.0


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, redis_server: RedisServer
) -> Iterator[tuple[str, str]]:
    env = {
        "SHOWCASE_DATA_DIR": str(data_dir),
        "SHOWCASE_HEARTBEAT_S": "1",
        "SHOWCASE_BROKER": redis_server.url,
        "SHOWCASE_ANSWER_ORPHAN_S": str(ORPHAN_S),
        "SHOWCASE_ANSWER_TTL_S": str(TTL_S),
    }
    logs = tmp_path_factory.mktemp("answers-redis")
    servers: list[RunningServer] = []
    try:
        servers.append(start_server(logs / "first.log", env=env))
        servers.append(start_server(logs / "second.log", env=env))
        yield servers[0].url, servers[1].url
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def health() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_resume_on_the_other_server_after_the_socket_closed(pair: tuple[str, str]) -> None:
    first, second = pair
    reader = start_answer(first, 10)
    seen = token_events(reader.events(6))
    reader.close()
    rest = resume(second, reader.answer_id, headers={"Last-Event-ID": str(seen[-1][0])})
    assert rest.status == 200
    events = rest.events()
    rest.close()
    tokens = seen + token_events(events)
    assert [seq for seq, _ in tokens] == list(range(len(TOKENS)))
    assert [text for _, text in tokens] == TOKENS
    assert events[-1].data == "[DONE]"


def test_resume_on_the_other_server_after_a_cut_mid_event(pair: tuple[str, str]) -> None:
    first, second = pair
    reader = start_answer(first, 10)
    marker = b"id: 9\ndata: {"
    reader.read_until(marker)
    seen = token_events(reader.sse.feed(reader.raw[: reader.raw.index(marker) + len(marker)]))
    reader.close()
    assert seen[-1][0] == 8
    rest = resume(second, reader.answer_id, after=8)
    tokens = seen + token_events(rest.events())
    rest.close()
    assert [text for _, text in tokens] == TOKENS
    assert [seq for seq, _ in tokens] == list(range(len(TOKENS)))


def test_readers_on_both_servers_follow_one_answer(pair: tuple[str, str]) -> None:
    first, second = pair
    readers = [start_answer(first, 5)]
    readers.append(resume(second, readers[0].answer_id))
    got = [token_events(reader.events()) for reader in readers]
    for reader in readers:
        reader.close()
    assert got[0] == got[1]
    assert [text for _, text in got[0]] == TOKENS


def test_a_cancel_sent_to_the_other_server_stops_it_within_100_ms(
    pair: tuple[str, str], health: requests.Session
) -> None:
    first, second = pair
    readers = [start_answer(first, 50)]
    readers.append(resume(second, readers[0].answer_id))
    seen = [reader.events(4) for reader in readers]
    assert running_answers(first, health) == 1
    # Timed from the cancel's answer: its own HTTP round trip is the client's, and on a
    # loaded machine alone takes longer than the stop.
    response = cancel(second, readers[0].answer_id)
    started = time.monotonic()
    ends, rests = [], []
    try:
        for reader in readers:
            rests.append(reader.events())
            ends.append(time.monotonic() - started)
        wait_for(lambda: running_answers(first, health) == 0, timeout_s=5.0)
        stopped = time.monotonic() - started
    finally:
        for reader in readers:
            reader.close()
    for before, rest in zip(seen, rests, strict=True):
        events = before + rest
        assert events[-1].data == "[DONE]"
        assert chunk_of(events[-2])["cancelled"] is True
        assert chunk_of(events[-2])["choices"][0]["finish_reason"] == "stop"
        tokens = token_events(events)
        assert [seq for seq, _ in tokens] == list(range(len(tokens)))
        assert events[-2].id == str(len(tokens))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert stopped < 0.1
    assert max(ends) < 0.1
    assert cancel(first, readers[0].answer_id).json()["status"] == "finished"


def test_a_reader_on_the_other_server_keeps_the_answer_from_orphanhood(
    pair: tuple[str, str],
) -> None:
    first, second = pair
    reader = start_answer(first, 20)  # 176 tokens: 3.5 s, past the orphan time
    reader.events(3)
    follower = resume(second, reader.answer_id)
    reader.close()
    events = follower.events()
    follower.close()
    assert [text for _, text in token_events(events)] == TOKENS
    assert "cancelled" not in chunk_of(events[-2])


def test_an_answer_nobody_reads_stops_after_the_orphan_time(
    pair: tuple[str, str], health: requests.Session
) -> None:
    first, _ = pair
    reader = start_answer(first, 100)
    reader.events(3)
    reader.close()
    closed = time.monotonic()
    wait_for(lambda: running_answers(first, health) == 0, timeout_s=ORPHAN_S + 1.0)
    assert time.monotonic() - closed < ORPHAN_S + 1.0


def test_the_log_expires_after_its_ttl(pair: tuple[str, str]) -> None:
    first, second = pair
    reader = start_answer(first, 0, max_tokens=3)
    reader.events()
    reader.close()
    replay = resume(second, reader.answer_id, after=0)
    assert replay.status == 200
    assert [e.id for e in replay.events()] == ["1", "2", "3", "3"]
    replay.close()
    time.sleep(TTL_S + 0.2)
    gone = requests.get(
        f"{second}/v1/chat/completions/{reader.answer_id}/stream", timeout=SOCKET_TIMEOUT_S
    )
    assert gone.status_code == 404


def test_a_reader_of_a_log_that_vanished_unfinished_ends_with_an_error(
    pair: tuple[str, str], redis_server: RedisServer
) -> None:
    """What a worker that died mid-answer leaves: a running log that nobody ends. Once its
    keys are gone (expired), a reader gets an error chunk and [DONE], not heartbeats for
    ever."""
    _, second = pair
    store = RedisAnswers(redis_server.url)
    answer_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    meta = AnswerMeta("m", 1, False, 1, time.time() * 1000.0)
    try:
        store.create(answer_id, meta)
        store.append(answer_id, Message(0, 0.0, "token", {"seq": 0, "ts": 0.0, "token": "a"}))
        reader = resume(second, answer_id)
        try:
            assert token_events(reader.events(2)) == [(0, "a")]
            store.client.delete(STREAM_PREFIX + answer_id, META_PREFIX + answer_id)
            events = reader.events()
        finally:
            reader.close()
    finally:
        store.close()
    assert chunk_of(events[-2])["error"]["code"] == "answer_expired"
    assert events[-1].data == "[DONE]"


def test_the_redis_log_refuses_items_once_cancelled(redis_server: RedisServer) -> None:
    """The append script's check is what stops a generation whose cancel message was lost."""
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    meta = AnswerMeta("m", 1, False, 4, 1000.0)
    try:
        stop = store.create(answer_id, meta)
        assert store.cancel(answer_id) == "cancelled"
        assert stop.is_set()
        assert not store.append(answer_id, Message(0, 0.0, "token", {"seq": 0, "ts": 0.0}))
        found = store.peek(answer_id)
        assert found is not None
        assert found[0] == meta
        assert (found[1].over, found[1].last_seq) == (True, 0)
        assert store.cancel(answer_id) == "finished"
        assert store.cancel("chatcmpl-" + "0" * 24) is None
        follower = store.follow(answer_id, None)
        assert follower is not None
        (end,) = follower.take(1.0)
        assert answer_id not in store._positions  # over: the XREAD does not follow it
        follower.close()
        assert (end.seq, end.event, end.data["cancelled"], end.data["prompt_tokens"]) == (
            0,
            "end",
            True,
            4,
        )
        assert 0 < store.client.pttl(STREAM_PREFIX + answer_id) <= TTL_S * 1000
    finally:
        store.close()


def test_a_stopping_server_ends_the_answers_it_generates(
    tmp_path: Path, data_dir: Path, redis_server: RedisServer, pair: tuple[str, str]
) -> None:
    """SIGTERM: the answers a server generates can go on nowhere; their readers on other
    servers get an error chunk and [DONE] then, not heartbeats until the log expires."""
    _, second = pair
    env = {"SHOWCASE_DATA_DIR": str(data_dir), "SHOWCASE_BROKER": redis_server.url}
    doomed = start_server(tmp_path / "doomed.log", env=env)
    try:
        reader = start_answer(doomed.url, 50)
        reader.events(3)
        follower = resume(second, reader.answer_id)
        try:
            follower.events(3)
            reader.close()
            stopped = time.monotonic()
            doomed.stop()
            events = follower.events()
        finally:
            follower.close()
    finally:
        doomed.stop()
    assert time.monotonic() - stopped < 5.0
    assert chunk_of(events[-2])["error"]["code"] == "server_restarting"
    assert events[-1].data == "[DONE]"
    assert events[-2].id  # the log's own last item: a resume after it gets 204


def test_keys_this_code_did_not_write_are_no_answer(
    pair: tuple[str, str], redis_server: RedisServer
) -> None:
    """Redis is shared: a meta hash of someone else's under an answer's name is a 404, not a
    500."""
    _, second = pair
    answer_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    store = RedisAnswers(redis_server.url)
    try:
        store.client.hset(META_PREFIX + answer_id, mapping={"meta": "[1]", "state": "over"})
        response = requests.get(
            f"{second}/v1/chat/completions/{answer_id}/stream", timeout=SOCKET_TIMEOUT_S
        )
        store.client.delete(META_PREFIX + answer_id)
    finally:
        store.close()
    assert response.status_code == 404
