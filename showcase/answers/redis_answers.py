"""``RedisAnswers``: answer logs as Redis Streams, shared by every worker and host on one Redis.

Keys of answer A: ``showcase:answer:A`` (the stream: entry ``0-(n+1)`` is item n, fields
``e`` event and ``d`` its JSON), ``showcase:answer-meta:A`` (hash: ``meta`` JSON, ``state``
running|over) and ``showcase:answer-readers:A`` (hash: each process with readers of A and
when it last said so). Every key carries a TTL: ``RUNNING_KEEP_S`` from its creation,
refreshed every ``REFRESH_S`` by the process generating it (not per token), and
``SHOWCASE_ANSWER_TTL_S`` once the answer is over.

An append is one script: it refuses the item once the answer is over, so a generation stops
at its next token whatever else is lost. The appends of every answer this process generates
go together (``AppendBatcher``): one pipelined round trip per few ms for all of them, not one
per token and answer.
A cancel, on any worker, is one script that writes the cancelled last item (readers
everywhere get it at once, through the log) and PUBLISHes the id on one channel; the worker
generating it listens there (one subscription per process) and wakes the generation within
milliseconds, even in a pause. So the cancel costs nothing per token and arrives in about
one round trip; a lost message is caught by the append's check at the next token.

Readers: each process mirrors the answers it has readers of (``log.Answer``). What it
generates itself goes into the mirror as each append's reply comes: such a mirror is not
read back from Redis while the generation runs (only when it ends unfinished here, e.g.
cancelled elsewhere, is the log's tail read once). The others are followed with one blocking
XREAD (one thread, a greenlet under gevent), never one connection
per reader. The same thread writes, every ``SYNC_S``, which answers this process reads into
their readers hash, and reads those of the answers it generates with no local reader: an
answer read on any worker is no orphan. No Flask.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis

from showcase.answers.batcher import AppendBatcher
from showcase.answers.log import (
    LAST_EVENTS,
    OWN_ERROR_SEQ,
    Answer,
    AnswerMeta,
    AnswerStoreUnavailable,
    Follower,
    Peek,
)
from showcase.answers.memory import ANSWER_TTL_S, MAX_ANSWERS, answers_full
from showcase.chat.answer import error_message
from showcase.hub.redis_broker import connect
from showcase.pure.message import Message

logger = logging.getLogger(__name__)

STREAM_PREFIX = "showcase:answer:"
META_PREFIX = "showcase:answer-meta:"
READERS_PREFIX = "showcase:answer-readers:"
CANCEL_CHANNEL = "showcase:answer-cancel"
# A running answer's keys live this long past its latest item: more than any pause between
# two tokens (MAX_INTERVAL_MS times the longest pause factor), so a slow answer keeps them.
RUNNING_KEEP_S = 120.0
SYNC_S = 0.5  # readers written and read this often
REFRESH_S = RUNNING_KEEP_S / 4.0  # the running answers' keys kept this often
READERS_STALE_S = 2.0  # a process that has not said so for this long reads no more
READ_BLOCK_MS = 100
READ_BATCH = 1000
RETRY_S = 0.5

# ARGV: the ms both keys are to live from now ("0": left as they are; given with the first
# item, which makes the stream, and the last), "1" when the last item is among them, then
# (entry id, event, data) per item.
APPEND_SCRIPT = """
if redis.call('HGET', KEYS[2], 'state') ~= 'running' then return 0 end
for i = 3, #ARGV, 3 do
  redis.call('XADD', KEYS[1], ARGV[i], 'e', ARGV[i + 1], 'd', ARGV[i + 2])
end
if ARGV[2] == '1' then redis.call('HSET', KEYS[2], 'state', 'over') end
if ARGV[1] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1
"""
# The cancelled last item is built here, from the meta the answer started with: whoever
# cancels needs no other round trip, and nothing can slip in between the check and the write.
CANCEL_SCRIPT = """
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return 'unknown' end
if state ~= 'running' then return 'finished' end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 0
if #last > 0 then seq = tonumber(string.match(last[1][1], '^0%-(%d+)$')) end
local meta = cjson.decode(redis.call('HGET', KEYS[2], 'meta'))
local ts = tonumber(ARGV[1])
local data = cjson.encode({seq = seq, ts = ts, finish_reason = 'stop',
  prompt_tokens = meta['prompt_tokens'], completion_tokens = seq,
  started_ms = meta['started_ms'], content = '', cancelled = true})
redis.call('XADD', KEYS[1], '0-' .. (seq + 1), 'e', 'end', 'd', data)
redis.call('HSET', KEYS[2], 'state', 'over')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 'cancelled'
"""


def entry_id(seq: int) -> str:
    return f"0-{seq + 1}"


def parse_item(fields: dict[str, str]) -> Message:
    """The item of an entry this code wrote; ValueError for any other."""
    try:
        event, data = fields["e"], json.loads(fields["d"])
        return Message(
            seq=int(data["seq"]),
            ts=float(data["ts"]),
            event=event,
            data=data,
            text=str(data.get("token", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not an answer item: {error!r}") from None


class Generation:
    """An answer this process generates: how to stop it, and when it was last read."""

    __slots__ = ("stop", "unread_since", "refused")

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.refused = False  # the log refused an item of it: over
        self.unread_since = time.monotonic()  # a reader here or elsewhere, last seen


class RedisAnswers:
    """See the module docstring."""

    def __init__(
        self, url: str, *, ttl_s: float = ANSWER_TTL_S, max_running: int = MAX_ANSWERS
    ) -> None:
        self.client: Any = connect(url)
        self.ttl_ms = max(1, round(ttl_s * 1000.0))
        self.keep_ms = max(self.ttl_ms, round(RUNNING_KEEP_S * 1000.0))
        self.max_running = max_running
        self._appends = AppendBatcher(self.client, APPEND_SCRIPT)
        self._cancel = self.client.register_script(CANCEL_SCRIPT)
        self._lock = threading.Lock()
        self._running: dict[str, Generation] = {}
        self._written: dict[str, int] = {}  # generated here: the items its log holds
        self._mirrors: dict[str, Answer] = {}  # answers with readers here
        self._positions: dict[str, str] = {}  # mirror -> the last entry id read
        self._left: set[str] = set()  # mirrors dropped: their readers entry goes
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._closed = threading.Event()
        self._followed = threading.Event()  # set when a mirror is added: the XREAD takes it
        self._threads: list[threading.Thread] = []
        self._next_sync = 0.0
        self._next_refresh = time.monotonic() + REFRESH_S

    # -- the generation's side ----------------------------------------------------------

    def create(self, answer_id: str, meta: AnswerMeta) -> threading.Event:
        self._start_threads()
        with self._lock:
            if len(self._running) >= self.max_running:
                raise answers_full(self.max_running)
            generation = self._running[answer_id] = Generation()
            self._written[answer_id] = 0
        key = META_PREFIX + answer_id
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, mapping={"meta": json.dumps(meta.to_dict()), "state": "running"})
            pipe.pexpire(key, self.keep_ms)
            pipe.execute()
        except redis.RedisError as error:
            self.end_generation(answer_id)
            raise AnswerStoreUnavailable(f"redis: {error}") from None
        return generation.stop

    def append(self, answer_id: str, message: Message) -> bool:
        return self.extend(answer_id, (message,))

    def extend(self, answer_id: str, messages: Sequence[Message]) -> bool:
        if not messages:
            return True
        last = any(m.event in LAST_EVENTS for m in messages)
        keep_ms = self.ttl_ms if last else self.keep_ms if messages[0].seq == 0 else 0
        args: list[Any] = [keep_ms, "1" if last else "0"]
        for message in messages:
            args += [entry_id(message.seq), message.event, message.json_bytes]
        keys = [STREAM_PREFIX + answer_id, META_PREFIX + answer_id]
        with self._lock:
            generation = self._running.get(answer_id)
            if generation is not None and (generation.stop.is_set() or generation.refused):
                return False  # cancelled (here, or heard of), or the log refused an item
        failed = self._appends.failure(answer_id)
        if failed is not None:
            raise failed
        if last or generation is None:
            # The last item waits for its reply: what ends a generation is known stored.
            reply = self._appends.call(answer_id, keys, args)
            self._appended(answer_id, messages, reply)
            return bool(reply)
        # A token does not wait: a refusal (or a failure) stops the generation at its next
        # item, and the log refuses every item after a cancel anyway.
        self._appends.send(
            answer_id, keys, args, lambda reply: self._appended(answer_id, messages, reply)
        )
        return True

    def _appended(self, answer_id: str, messages: Sequence[Message], reply: Any) -> None:
        """The log's reply to an append: the items go to the readers here, or the generation
        learns the refusal."""
        if isinstance(reply, BaseException):
            return  # kept by the batcher: the generation's next append raises it
        with self._lock:
            if not reply:
                generation = self._running.get(answer_id)
                if generation is not None:
                    generation.refused = True
                return
            # Readers here (the request that started it, first of all) need not wait for
            # Redis to bring back what this process wrote: the log has it, so it is theirs.
            if answer_id in self._written:
                self._written[answer_id] = messages[-1].seq + 1
            mirror = self._mirrors.get(answer_id)
            if mirror is not None:
                self._add_items(mirror, messages)

    def end_generation(self, answer_id: str) -> None:
        """Its mirror here, if unfinished (cancelled elsewhere: the canceller wrote the last
        item), reads the log's tail once, and is followed from then on."""
        with self._lock:
            self._running.pop(answer_id, None)
            self._written.pop(answer_id, None)
            self._appends.forget(answer_id)
            mirror = self._mirrors.get(answer_id)
            if mirror is None or mirror.over or answer_id in self._positions:
                return
            position = entry_id(len(mirror.items) - 1)
        try:
            entries = self.client.xrange(STREAM_PREFIX + answer_id, min=f"({position}")
        except redis.RedisError as error:
            logger.warning("answers: the tail of %s was not read: %r", answer_id, error)
            entries = []
        with self._lock:
            if self._mirrors.get(answer_id) is not mirror or mirror.over:
                return
            self._add(mirror, entries)
            if not mirror.over and answer_id not in self._positions:
                self._positions[answer_id] = entry_id(len(mirror.items) - 1)
                self._followed.set()

    def is_orphan(self, answer_id: str, orphan_s: float) -> bool:
        """Local state only (no round trip): the sync thread keeps ``unread_since`` fresh
        while any process reads it."""
        with self._lock:
            generation = self._running.get(answer_id)
            if generation is None:
                return True
            mirror = self._mirrors.get(answer_id)
            if mirror is not None and mirror.readers:
                return False
            return time.monotonic() - generation.unread_since >= orphan_s

    def cancel(self, answer_id: str, reason: str = "cancelled") -> str | None:
        keys = [STREAM_PREFIX + answer_id, META_PREFIX + answer_id]
        args = [repr(time.time() * 1000.0), self.ttl_ms, CANCEL_CHANNEL, answer_id]
        try:
            status = str(self._cancel(keys=keys, args=args))
        except redis.RedisError as error:
            raise AnswerStoreUnavailable(f"redis: {error}") from None
        self._stop_local(answer_id)  # no need to wait for the message when it is ours
        return None if status == "unknown" else status

    def count_running(self) -> int:
        with self._lock:
            return len(self._running)

    def _stop_local(self, answer_id: str) -> None:
        with self._lock:
            generation = self._running.get(answer_id)
        if generation is not None:
            generation.stop.set()

    # -- the readers' side --------------------------------------------------------------

    def peek(self, answer_id: str) -> tuple[AnswerMeta, Peek] | None:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(META_PREFIX + answer_id, ["meta", "state"])
            pipe.xrevrange(STREAM_PREFIX + answer_id, count=1)
            (meta_text, state), last = pipe.execute()
        except redis.RedisError as error:
            raise AnswerStoreUnavailable(f"redis: {error}") from None
        if meta_text is None:
            return None
        try:
            meta = AnswerMeta.from_dict(json.loads(meta_text))
            last_seq = parse_item(last[0][1]).seq if last else -1
        except ValueError as error:  # keys this code did not write: no answer of ours
            logger.warning("answers: %s is not an answer: %s", answer_id, error)
            return None
        return meta, Peek(state != "running", last_seq)

    def follow(self, answer_id: str, after: int | None) -> Follower | None:
        self._start_threads()
        with self._lock:
            mirror = self._mirrors.get(answer_id)
            if mirror is not None:
                return Follower(mirror, after, self._left_mirror)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hget(META_PREFIX + answer_id, "meta")
            pipe.xrange(STREAM_PREFIX + answer_id)
            # Said at once, not at the next sync: a reader that moved here from the worker
            # generating the answer must count before that worker calls it an orphan.
            pipe.hset(READERS_PREFIX + answer_id, self._token, f"{time.time() * 1000.0:.0f}")
            pipe.pexpire(READERS_PREFIX + answer_id, self.keep_ms)
            meta_text, entries, _, _ = pipe.execute()
        except redis.RedisError as error:
            raise AnswerStoreUnavailable(f"redis: {error}") from None
        try:
            meta = AnswerMeta.from_dict(json.loads(meta_text)) if meta_text else None
        except ValueError as error:
            logger.warning("answers: %s is not an answer: %s", answer_id, error)
            meta = None
        if meta is None:
            return None
        with self._lock:
            mirror = self._mirrors.get(answer_id)
            if mirror is None:
                mirror = Answer(answer_id, meta, self._lock)
                self._mirrors[answer_id] = mirror
                self._left.discard(answer_id)
                self._add(mirror, entries)
                written = self._written.get(answer_id)
                # Generated here with nothing written past what was read: the appends
                # bring the rest. Else (or over already: not followed) the XREAD does.
                if not mirror.over and (written is None or written > len(mirror.items)):
                    self._positions[answer_id] = entry_id(len(mirror.items) - 1)
                    self._followed.set()
            return Follower(mirror, after, self._left_mirror)

    def _left_mirror(self, mirror: Answer) -> None:
        """The last reader here left (holding the lock): the mirror goes."""
        answer_id = mirror.id
        if self._mirrors.get(answer_id) is mirror:
            del self._mirrors[answer_id]
            self._positions.pop(answer_id, None)
            self._left.add(answer_id)
        generation = self._running.get(answer_id)
        if generation is not None:
            generation.unread_since = time.monotonic()

    def _add(self, mirror: Answer, entries: list[tuple[str, dict[str, str]]]) -> None:
        """Entries into ``mirror`` (holding the lock)."""
        items = []
        for entry, fields in entries:
            try:
                items.append(parse_item(fields))
            except ValueError as error:
                logger.warning("answers: skipped %s entry %s: %s", mirror.id, entry, error)
        self._add_items(mirror, items)

    def _add_items(self, mirror: Answer, items: Sequence[Message]) -> None:
        """Items into ``mirror`` in order (holding the lock): each only as the next one, so
        what both this process's writes and the XREAD bring is added once, and a write
        ahead of what the XREAD has brought waits for it."""
        for item in items:
            if item.seq == len(mirror.items):
                mirror.add(item)
            elif item.seq > len(mirror.items) and mirror.id not in self._positions:
                # An item missed (cannot happen by design): the XREAD fills the gap.
                self._positions[mirror.id] = entry_id(len(mirror.items) - 1)
                self._followed.set()
                break
        if mirror.over:
            self._positions.pop(mirror.id, None)

    # -- the thread that follows, syncs readers and hears cancels -----------------------

    def _start_threads(self) -> None:
        if self._threads or self._closed.is_set():
            return
        with self._lock:
            if self._threads:
                return
            for target, name in ((self._follow_forever, "follow"), (self._hear_cancels, "cancel")):
                thread = threading.Thread(target=target, name=f"answers-{name}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def close(self) -> None:
        self._closed.set()
        self._followed.set()
        self._appends.close()
        for thread in self._threads:
            thread.join(5.0)
        self.client.close()

    def _follow_forever(self) -> None:
        while not self._closed.is_set():
            try:
                if time.monotonic() >= self._next_sync:
                    self._sync_readers()
                self._read_once()
            except Exception as error:  # Redis gone, or a bug: readers here end, and resume
                logger.warning("answers: the Redis follower failed: %r", error)
                self._fail_mirrors(f"answer log unavailable: {type(error).__name__}")
                self._closed.wait(RETRY_S)

    def _read_once(self) -> None:
        with self._lock:
            streams = {STREAM_PREFIX + a: p for a, p in self._positions.items()}
        if not streams:
            self._followed.wait(SYNC_S)
            self._followed.clear()
            return
        result = self.client.xread(streams, count=READ_BATCH, block=READ_BLOCK_MS)
        with self._lock:
            for key, entries in result or []:
                answer_id = key[len(STREAM_PREFIX) :]
                mirror = self._mirrors.get(answer_id)
                if mirror is None or answer_id not in self._positions:
                    continue
                self._positions[answer_id] = str(entries[-1][0])
                self._add(mirror, entries)

    def _sync_readers(self) -> None:
        """Say which answers this process reads; learn which of those it generates with no
        reader here are read elsewhere. One pipelined round trip."""
        self._next_sync = time.monotonic() + SYNC_S
        now_ms = time.time() * 1000.0
        refresh = time.monotonic() >= self._next_refresh
        if refresh:
            self._next_refresh = time.monotonic() + REFRESH_S
        with self._lock:
            running = self._running
            read_here = {a for a, m in self._mirrors.items() if m.readers}
            # Only the process generating an answer reads its readers hash, and one
            # generated here is gone only with this process: neither is asked of those.
            read = [a for a in read_here if a not in running]
            followed = [a for a, m in self._mirrors.items() if not m.over and a not in running]
            left, self._left = self._left - read_here, set()
            unread = [a for a in running if a not in read_here]
            kept = list(running) if refresh else []
        if not (read or left or unread or kept or followed):
            return
        pipe = self.client.pipeline(transaction=False)
        for answer_id in kept:  # no PEXPIRE per token: a timer keeps what runs here
            pipe.pexpire(STREAM_PREFIX + answer_id, self.keep_ms)
            pipe.pexpire(META_PREFIX + answer_id, self.keep_ms)
        for answer_id in left:
            pipe.hdel(READERS_PREFIX + answer_id, self._token)
        for answer_id in read:
            pipe.hset(READERS_PREFIX + answer_id, self._token, f"{now_ms:.0f}")
            pipe.pexpire(READERS_PREFIX + answer_id, self.keep_ms)
        for answer_id in followed:
            pipe.exists(META_PREFIX + answer_id)
        for answer_id in unread:
            pipe.hgetall(READERS_PREFIX + answer_id)
        replies = pipe.execute(raise_on_error=False)[2 * len(kept) + len(left) + 2 * len(read) :]
        gone = [a for a, held in zip(followed, replies, strict=False) if held == 0]
        if gone:
            self._end_gone(gone)
        replies = replies[len(followed) :]
        seen = []
        for answer_id, fields in zip(unread, replies, strict=True):
            if isinstance(fields, Exception):
                continue
            for token, value in fields.items():
                fresh = value.isdigit() and now_ms - int(value) <= READERS_STALE_S * 1000.0
                if token != self._token and fresh:
                    seen.append(answer_id)
                    break
        now = time.monotonic()
        with self._lock:
            for answer_id in seen:
                generation = self._running.get(answer_id)
                if generation is not None:
                    generation.unread_since = now

    def _end_gone(self, answer_ids: list[str]) -> None:
        """Answers followed here whose keys expired unfinished (the worker generating them
        died): their readers get an error item and end, rather than wait for ever."""
        with self._lock:
            for answer_id in answer_ids:
                mirror = self._mirrors.get(answer_id)
                if mirror is not None and not mirror.over:
                    detail = "the answer's log expired before it ended"
                    mirror.add(error_message(OWN_ERROR_SEQ, "answer_expired", detail))
                    self._positions.pop(answer_id, None)

    def _fail_mirrors(self, reason: str) -> None:
        """The log cannot be followed: every reader here gets an error item and ends (its
        client resumes from the log once Redis is back)."""
        with self._lock:
            for mirror in list(self._mirrors.values()):
                if not mirror.over:
                    mirror.add(error_message(OWN_ERROR_SEQ, "log_unavailable", reason))
            self._positions.clear()

    def _hear_cancels(self) -> None:
        """Wake the generations this process runs when a cancel for one comes from anywhere."""
        while not self._closed.is_set():
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CANCEL_CHANNEL)
                try:
                    while not self._closed.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self._stop_local(str(message["data"]))
                finally:
                    pubsub.close()
            except Exception as error:
                logger.warning("answers: the cancel subscription failed: %r", error)
                self._closed.wait(RETRY_S)
