"""The Redis answer store's appends: every answer of a process in one round trip, in order,
with the keys' TTL set without a PEXPIRE per token; what it generates is not read back."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import redis

from benchmarks.infra.hub_redis import RedisServer
from showcase.answers.batcher import AppendBatcher, pack_command
from showcase.answers.log import AnswerMeta
from showcase.answers.redis_answers import (
    META_PREFIX,
    STREAM_PREFIX,
    RedisAnswers,
)
from showcase.chat.answer import end_message
from showcase.pure.message import Message

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
TTL_S = 3.0
META = AnswerMeta("m", 1, False, 4, 1000.0)


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def token(seq: int) -> Message:
    return Message(seq, 0.0, "token", {"seq": seq, "ts": 0.0, "token": f"t{seq} "}, f"t{seq} ")


def test_pack_command_writes_resp() -> None:
    assert (
        pack_command(("EVALSHA", 2, b"\xff")) == b"*3\r\n$7\r\nEVALSHA\r\n$1\r\n2\r\n$1\r\n\xff\r\n"
    )


def test_many_callers_appends_go_in_one_round_trip(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return ARGV[1]", linger_s=0.5)
    replies: dict[int, object] = {}

    def call(n: int) -> None:
        replies[n] = batcher.call(f"a{n}", [f"k{n}"], [n])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(40)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5.0)
        assert batcher.flushes == 1
        assert replies == {n: str(n) for n in range(40)}
    finally:
        batcher.close()
        client.close()


def test_a_full_batch_is_sent_without_waiting_for_the_linger(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return 1", linger_s=30.0, max_batch=4)
    threads = [threading.Thread(target=batcher.call, args=("a", [], [])) for _ in range(4)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5.0)
        assert time.monotonic() - started < 5.0
        assert batcher.flushes == 1
    finally:
        batcher.close()
        client.close()


def test_the_batcher_loads_its_script_again_after_a_script_flush(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return 7", linger_s=0.0)
    try:
        assert batcher.call("a", [], []) == 7
        client.script_flush()
        assert batcher.call("a", [], []) == 7
    finally:
        batcher.close()
        client.close()


def test_an_error_reply_is_raised_to_its_caller_only(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return redis.call('INCR', KEYS[1])", linger_s=0.3)
    key_text, key_count = "batch-text-" + new_id(), "batch-count-" + new_id()
    client.set(key_text, "not a number")
    outcomes: dict[str, object] = {}

    def call(key: str) -> None:
        try:
            outcomes[key] = batcher.call(key, [key], [])
        except redis.ResponseError as error:
            outcomes[key] = error

    threads = [threading.Thread(target=call, args=(k,)) for k in (key_text, key_count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5.0)
        assert isinstance(outcomes[key_text], redis.ResponseError)
        assert outcomes[key_count] == 1
    finally:
        batcher.close()
        client.close()


def test_a_failed_call_fails_its_tags_later_calls_unsent(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return redis.call('INCR', KEYS[1])", linger_s=0.0)
    key_text, key_count = "batch-text-" + new_id(), "batch-count-" + new_id()
    client.set(key_text, "not a number")
    replies: list[object] = []
    try:
        with pytest.raises(redis.ResponseError):
            batcher.call("a", [key_text], [])
        batcher.send("a", [key_count], [], replies.append)  # not sent: "a" failed
        assert batcher.call("b", [key_count], []) == 1
        assert isinstance(replies[0], redis.ResponseError)
        assert isinstance(batcher.failure("a"), redis.ResponseError)
        batcher.forget("a")
        assert batcher.failure("a") is None
        assert batcher.call("a", [key_count], []) == 2
    finally:
        batcher.close()
        client.close()


def test_sent_calls_reply_in_order_without_waiting(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batcher = AppendBatcher(client, "return redis.call('RPUSH', KEYS[1], ARGV[1])", linger_s=0.2)
    key = "batch-list-" + new_id()
    replies: list[object] = []
    try:
        started = time.monotonic()
        for n in range(10):
            batcher.send("a", [key], [n], replies.append)
        assert time.monotonic() - started < 0.1  # none of them waited for the flush
        assert batcher.call("a", [key], [10]) == 11
        assert replies == list(range(1, 11))
        assert client.lrange(key, 0, -1) == [str(n) for n in range(11)]
        assert batcher.flushes == 1
    finally:
        batcher.close()
        client.close()


def test_answers_appended_together_keep_their_order_and_ids(redis_server: RedisServer) -> None:
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    store._appends.linger_s = 0.05
    ids = [new_id() for _ in range(20)]
    tokens = 8
    refused: list[str] = []

    def generate(answer_id: str) -> None:
        for seq in range(tokens):
            if not store.append(answer_id, token(seq)):
                refused.append(answer_id)
        store.append(answer_id, end_message(tokens, 1000.0, "stop", 4))
        store.end_generation(answer_id)

    try:
        for answer_id in ids:
            store.create(answer_id, META)
        threads = [threading.Thread(target=generate, args=(a,)) for a in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10.0)
        assert refused == []
        # 20 answers × 9 items: far fewer round trips than appends.
        assert store._appends.flushes <= 2 * (tokens + 1)
        for answer_id in ids:
            entries = store.client.xrange(STREAM_PREFIX + answer_id)
            assert [e for e, _ in entries] == [f"0-{n + 1}" for n in range(tokens + 1)]
            assert [json.loads(f["d"])["seq"] for _, f in entries] == list(range(tokens + 1))
            assert store.client.hget(META_PREFIX + answer_id, "state") == "over"
            assert 0 < store.client.pttl(STREAM_PREFIX + answer_id) <= TTL_S * 1000
    finally:
        store.close()


def test_a_running_answers_keys_expire_though_no_token_refreshes_them(
    redis_server: RedisServer,
) -> None:
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = new_id()
    try:
        store.create(answer_id, META)
        assert store.append(answer_id, token(0))
        assert store.append(answer_id, token(1))
        deadline = time.monotonic() + 2.0  # a token's append does not wait for its reply
        while store.client.xlen(STREAM_PREFIX + answer_id) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        for key in (STREAM_PREFIX + answer_id, META_PREFIX + answer_id):
            assert 0 < store.client.pttl(key) <= store.keep_ms
    finally:
        store.close()


def test_an_answer_generated_here_reaches_its_readers_here_without_the_xread(
    redis_server: RedisServer,
) -> None:
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = new_id()
    try:
        store.create(answer_id, META)
        follower = store.follow(answer_id, None)
        assert follower is not None
        assert answer_id not in store._positions
        assert store.append(answer_id, token(0))
        assert [m.seq for m in follower.take(1.0)] == [0]
        assert store.append(answer_id, end_message(1, 1000.0, "stop", 4))
        assert [m.seq for m in follower.take(1.0)] == [1]
        assert follower.done
        follower.close()
    finally:
        store.close()


def test_an_answer_cancelled_on_another_server_ends_for_its_readers_here(
    redis_server: RedisServer,
) -> None:
    here = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    there = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = new_id()
    try:
        stop = here.create(answer_id, META)
        follower = here.follow(answer_id, None)
        assert follower is not None
        assert here.append(answer_id, token(0))
        assert [m.seq for m in follower.take(1.0)] == [0]
        started = time.monotonic()
        assert there.cancel(answer_id) == "cancelled"
        assert stop.wait(1.0)  # the PUBLISH reached the generating process
        assert not here.append(answer_id, token(1))  # refused: over
        here.end_generation(answer_id)
        (end,) = follower.take(1.0)
        assert time.monotonic() - started < 0.1
        assert (end.seq, end.event, end.data["cancelled"]) == (1, "end", True)
        assert follower.done
        follower.close()
    finally:
        here.close()
        there.close()


def test_a_late_reader_of_an_answer_generated_here_loses_no_item(
    redis_server: RedisServer,
) -> None:
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = new_id()
    try:
        store.create(answer_id, META)
        for seq in range(3):
            assert store.append(answer_id, token(seq))
        follower = store.follow(answer_id, 0)
        assert follower is not None
        assert store.append(answer_id, end_message(3, 1000.0, "stop", 4))
        seen: list[int] = []
        deadline = time.monotonic() + 2.0
        while not follower.done and time.monotonic() < deadline:
            seen += [m.seq for m in follower.take(0.5)]
        assert seen == [1, 2, 3]
        follower.close()
    finally:
        store.close()


def test_the_readers_sync_writes_nothing_for_an_answer_generated_and_read_here(
    redis_server: RedisServer,
) -> None:
    store = RedisAnswers(redis_server.url, ttl_s=TTL_S)
    answer_id = new_id()
    readers_key = "showcase:answer-readers:" + answer_id
    try:
        store.create(answer_id, META)
        follower = store.follow(answer_id, None)
        assert follower is not None
        store.client.delete(readers_key)  # what follow() said at once
        store._sync_readers()
        assert store.client.exists(readers_key) == 0
        assert not store.is_orphan(answer_id, 0.0)  # its reader here counts all the same
        follower.close()
    finally:
        store.close()
