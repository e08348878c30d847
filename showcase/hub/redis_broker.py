"""``RedisBroker``: rooms as Redis Streams, shared by every worker and host using the same Redis.

One stream per room (``showcase:hub:<room>``): XADD with an approximate MAXLEN is the log,
the stream entry id is the message id. Each process runs one reader (a thread: a greenlet
under gevent's monkey-patching) that XREADs every room with local subscribers and fans out to
them; never one Redis connection per subscriber. The same reader shares presence: once a
second it writes this process's subscriber count of each room and reads the other processes'
(``_sync_presence``), so a room's presence is its total over every worker and host. No Flask.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from typing import Any

import redis

from showcase.hub.broker import BrokerUnavailable
from showcase.hub.event import HubEvent, message_event, reset_event
from showcase.hub.memory import LOG_AGE_S, LOG_COUNT
from showcase.hub.room import QUEUE_LIMIT, Room, Subscription

KEY_PREFIX = "showcase:hub:"
COUNT_PREFIX = "showcase:hub-count:"
# Presence across processes: each process writes its subscriber count of every room it holds
# into the room's hash (field: the process, value: "count:ms") and reads the others' this
# often; a field not written for PRESENCE_STALE_S is a process that died, and is dropped.
PRESENCE_PREFIX = "showcase:hub-presence:"
PRESENCE_SYNC_S = 1.0
PRESENCE_STALE_S = 5.0
# The reader's XREAD waits at most this long, so a room joined meanwhile is read soon after.
READ_BLOCK_MS = 200
READ_BATCH = 1000
RETRY_S = 1.0  # after Redis failed, the reader tries again this often
CLOSE_WAIT_S = 10.0  # close() waits this long for the reader: its XREAD ends within 5 s
# Redis connections per process: the reader holds one; publishes and joins share the rest,
# waiting up to POOL_WAIT_S for a free one. redis-py's default pool refuses a 101st at once
# ("Too many connections"): a burst of joins ended most new streams with an error.
POOL_CONNECTIONS = 32
POOL_WAIT_S = 5.0
# XADD with a per-room count in field "n", in one atomic step: a reader that sees n jump knows
# MAXLEN trimmed entries before it could read them (it fell behind the log), and says so.
PUBLISH_SCRIPT = """
local n = redis.call('INCR', KEYS[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                  'n', n, 'user', ARGV[2], 'text', ARGV[3], 'ts', ARGV[4])
"""
ID_TEXT = re.compile(r"([0-9]{1,19})-([0-9]{1,19})")


def id_seq(entry_id: str) -> int:
    """A stream id ``ms-n`` as one increasing int (n stays far below 2**24 per ms)."""
    ms, n = entry_id.split("-")
    return int(ms) << 24 | int(n)


def parse_id(text: str) -> tuple[int, int] | None:
    match = ID_TEXT.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None


class RedisBroker:
    """Publish is one XADD; subscribe joins the local room first, then reads the log, and
    drops from its live queue what the replay already held (``Subscription.after_seq``)."""

    def __init__(
        self,
        url: str,
        *,
        log_count: int = LOG_COUNT,
        log_age_s: float = LOG_AGE_S,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        # Any: redis-py's stubs type replies for bytes and str at once (decode_responses is a
        # runtime choice), so every reply would need a cast; the shapes are documented here.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_S,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
        )
        self.client: Any = redis.Redis(connection_pool=pool)
        self.log_count = log_count
        self.log_age_s = log_age_s
        self.queue_limit = queue_limit
        self._lock = threading.Lock()
        self._rooms: dict[str, Room] = {}
        self._positions: dict[str, str] = {}  # room -> the last id the reader handed out
        self._counts: dict[str, int] = {}  # room -> the last "n" the reader handed out
        self._publish = self.client.register_script(PUBLISH_SCRIPT)
        self._reader: threading.Thread | None = None
        self._closed = threading.Event()
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._next_presence = 0.0
        self._left: set[str] = set()  # rooms this process no longer holds: its count goes

    # -- publishing ---------------------------------------------------------------------

    def publish(self, room: str, user: str, text: str) -> str:
        keys = [KEY_PREFIX + room, COUNT_PREFIX + room]
        try:
            entry_id = self._publish(
                keys=keys, args=[self.log_count, user, text, repr(time.time() * 1000.0)]
            )
        except redis.RedisError as error:
            raise BrokerUnavailable(f"redis: {error}") from None
        return str(entry_id)

    def oldest_id(self, room: str) -> str | None:
        try:
            first = self.client.xrange(KEY_PREFIX + room, count=1)
        except redis.RedisError as error:
            raise BrokerUnavailable(f"redis: {error}") from None
        return str(first[0][0]) if first else None

    # -- subscribing --------------------------------------------------------------------

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        self._start_reader()
        with self._lock:
            local = self._rooms.get(room)
            if local is None:
                local = self._rooms[room] = Room(room, self._lock)
            subscription = local.join([], self.queue_limit)
            followed = room in self._positions
        if not last_event_id and followed:
            # The reader already follows this room: a new subscriber starts live with what it
            # hands out next, and needs no Redis round trip (a join storm queued one each).
            return subscription
        try:
            replay, horizon = self._replay(room, last_event_id)
        except redis.RedisError as error:
            subscription.close()
            raise BrokerUnavailable(f"redis: {error}") from None
        with self._lock:
            # A room new to this process is read from here on: everything up to the horizon
            # is in the replay (or before a new subscriber's time).
            self._positions.setdefault(room, horizon)
        subscription.replay = replay
        subscription.after_seq = id_seq(horizon)
        return subscription

    def _replay(self, room: str, last_event_id: str | None) -> tuple[list[HubEvent], str]:
        """What follows ``last_event_id`` (a reset first when the log cannot say), and the
        last id it covers."""
        key = KEY_PREFIX + room
        try:
            info: dict[str, Any] = self.client.xinfo_stream(key)
        except redis.ResponseError:  # no such key: nothing was ever published here
            info = {"last-generated-id": "0-0"}
        last_generated = str(info["last-generated-id"])
        if not last_event_id:
            return [], last_generated
        seen = parse_id(last_event_id)
        if seen is None and last_event_id.isdigit():
            seen = (int(last_event_id), 0)
        oldest_ms = time.time() * 1000.0 - self.log_age_s * 1000.0
        last = parse_id(last_generated) or (0, 0)
        first_entry = info.get("first-entry")
        first = parse_id(str(first_entry[0])) if first_entry else None
        # MAXLEN trimming leaves no trace of which ids it dropped (max-deleted-entry-id counts
        # XDEL only): an id older than the first one held, once anything was trimmed, may have
        # missed messages. Said as a reset; the replay then repeats nothing all the same.
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        covered = not trimmed or (first is not None and seen is not None and seen >= first)
        if seen is not None and seen <= last and covered:
            after = f"{seen[0]}-{seen[1]}"
            entries = self.client.xrange(key, min="(" + after)
            events = [self._event(room, i, f) for i, f in entries]
            if not events or events[0].ts >= oldest_ms:
                return events, str(entries[-1][0]) if entries else after
        entries = self.client.xrange(key)
        events = [e for e in (self._event(room, i, f) for i, f in entries) if e.ts >= oldest_ms]
        oldest = events[0].id if events else None
        reset = reset_event(room, oldest, last_event_id, time.time() * 1000.0)
        return [reset, *events], str(entries[-1][0]) if entries else last_generated

    @staticmethod
    def _event(room: str, entry_id: str, fields: dict[str, str]) -> HubEvent:
        return message_event(
            id_seq(entry_id), entry_id, room, fields["user"], fields["text"], float(fields["ts"])
        )

    # -- the reader ---------------------------------------------------------------------

    def _start_reader(self) -> None:
        with self._lock:
            if self._reader is None:
                self._reader = threading.Thread(
                    target=self._read_forever, name="hub-redis-reader", daemon=True
                )
                self._reader.start()

    def close(self) -> None:
        """Stop the reader (after the XREAD in flight) and close the connections. A server's
        broker lives as long as its worker; a test or a script that makes one ends it here."""
        self._closed.set()
        reader = self._reader
        if reader is not None:
            reader.join(CLOSE_WAIT_S)
        self.client.close()

    def _read_forever(self) -> None:
        while not self._closed.is_set():
            try:
                self._read_once()
            except redis.RedisError as error:
                self._fail_all(f"redis: {error}")
                self._closed.wait(RETRY_S)

    def _read_once(self) -> None:
        with self._lock:
            for name in [n for n, r in self._rooms.items() if not r.subscribers]:
                del self._rooms[name]
                self._positions.pop(name, None)
                self._counts.pop(name, None)
                self._left.add(name)
            streams = {KEY_PREFIX + n: p for n, p in self._positions.items() if n in self._rooms}
        if time.monotonic() >= self._next_presence:
            self._sync_presence()
        if not streams:
            self._closed.wait(READ_BLOCK_MS / 1000.0)
            return
        result = self.client.xread(streams, count=READ_BATCH, block=READ_BLOCK_MS)
        # At most half a queue at a time, then a switch: a batch is queued without one, so a
        # larger slice would overflow (and cut) subscribers that keep up perfectly well.
        step = max(1, self.queue_limit // 2)
        for key, entries in result or []:
            room = key[len(KEY_PREFIX) :]
            for start in range(0, len(entries), step):
                self._hand_out(room, entries[start : start + step])
                time.sleep(0)

    def _sync_presence(self) -> None:
        """Write this process's subscriber count of each room it holds, read the other
        processes' counts (one pipelined round trip), and give each room the others' total."""
        self._next_presence = time.monotonic() + PRESENCE_SYNC_S
        now_ms = time.time() * 1000.0
        with self._lock:
            counts = {name: len(room.subscribers) for name, room in self._rooms.items()}
            left, self._left = self._left - counts.keys(), set()
        if not counts and not left:
            return
        pipe = self.client.pipeline(transaction=False)
        for name in left:
            pipe.hdel(PRESENCE_PREFIX + name, self._token)
        for name, count in counts.items():
            key = PRESENCE_PREFIX + name
            pipe.hset(key, self._token, f"{count}:{now_ms:.0f}")
            pipe.expire(key, round(PRESENCE_STALE_S * 4))  # gone with the room's last process
            pipe.hgetall(key)
        replies = pipe.execute()[len(left) :]
        others: dict[str, int] = {}
        stale = self.client.pipeline(transaction=False)
        for name, fields in zip(counts, replies[2::3], strict=True):
            total = 0
            for token, value in fields.items():
                count, _, written_ms = value.partition(":")
                if now_ms - float(written_ms or 0) > PRESENCE_STALE_S * 1000.0:
                    stale.hdel(PRESENCE_PREFIX + name, token)
                elif token != self._token:
                    total += int(count)
            others[name] = total
        if len(stale):
            stale.execute()
        with self._lock:
            for name, total in others.items():
                room = self._rooms.get(name)
                if room is not None:
                    room.set_others(total)

    def _hand_out(self, room: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        with self._lock:
            local = self._rooms.get(room)
            if local is None or room not in self._positions:
                return
            self._positions[room] = str(entries[-1][0])
            last = self._counts.get(room)
            for entry_id, fields in entries:
                n = int(fields.get("n", 0))
                if last is not None and n != last + 1:
                    # Trimmed before this reader read them: every local subscriber missed
                    # messages. End their streams; on reconnect the log says what it holds.
                    for subscription in list(local.subscribers):
                        subscription.cut("missed messages: reconnect to resume", error=True)
                    local.subscribers.clear()
                    self._counts.pop(room, None)
                    return
                last = n
                local.broadcast(self._event(room, entry_id, fields))
            if last is not None:
                self._counts[room] = last

    def _fail_all(self, reason: str) -> None:
        """Redis is gone: every local subscriber gets an error event and ends (its client
        reconnects and resumes from the log once Redis is back)."""
        with self._lock:
            for local in self._rooms.values():
                for subscription in list(local.subscribers):
                    subscription.cut(reason, error=True)
                local.subscribers.clear()
            self._rooms.clear()
            self._positions.clear()
            self._counts.clear()
