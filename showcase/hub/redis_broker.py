"""``RedisBroker``: rooms as Redis Streams, shared by every worker and host using the same Redis.

One stream per room (``showcase:hub:<room>``): XADD with an approximate MAXLEN is the log,
the stream entry id is the message id. Each process runs one reader (a thread: a greenlet
under gevent's monkey-patching) that XREADs every room with local subscribers and fans out to
them; never one Redis connection per subscriber. The same reader shares presence: once a
second it writes this process's subscriber count of each room and reads the other processes'
(``_sync_presence``), so a room's presence is its total over every worker and host.
Every key expires once its room is quiet for the log's age. No Flask.

Redis is shared: an entry or a presence value this code did not write is logged and skipped,
and a reader that fails for any reason is started again (``_supervise``).
"""

from __future__ import annotations

import logging
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
from showcase.hub.memory import LOG_AGE_S, LOG_COUNT, MAX_ROOMS, rooms_full
from showcase.hub.room import QUEUE_LIMIT, Room, Subscription

logger = logging.getLogger(__name__)

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
# A reader that failed otherwise (a bug, an entry no check foresaw) starts again after a
# pause that doubles, up to RESTART_MAX_S, while it keeps failing within RESTART_CALM_S.
RESTART_MIN_S = 0.1
RESTART_MAX_S = 10.0
RESTART_CALM_S = 60.0
CLOSE_WAIT_S = 10.0  # close() waits this long for the reader: its XREAD ends within 5 s
# Redis connections per process: the reader holds one; publishes and joins share the rest,
# waiting up to POOL_WAIT_S for a free one. redis-py's default pool refuses a 101st at once
# ("Too many connections"): a burst of joins ended most new streams with an error.
POOL_CONNECTIONS = 32
POOL_WAIT_S = 5.0
# XADD with a per-room count in field "n", in one atomic step: a reader that sees n jump knows
# MAXLEN trimmed entries before it could read them (it fell behind the log), and says so.
# Both keys expire together once the room is quiet for the log's age (ARGV[5], ms): the log
# holds nothing younger by then, and a room nobody uses leaves nothing behind in Redis.
PUBLISH_SCRIPT = """
local n = redis.call('INCR', KEYS[2])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                      'n', n, 'user', ARGV[2], 'text', ARGV[3], 'ts', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return id
"""
ID_TEXT = re.compile(r"([0-9]{1,19})-([0-9]{1,19})")
STREAM_TYPES = ("stream", "none")  # what TYPE may say of a room's key: none until a publish
PRESENCE_TEXT = re.compile(r"([0-9]{1,9}):([0-9]{1,16})")  # "count:ms", as _sync_presence writes


def connect(url: str) -> Any:
    """A client of ``url`` on a bounded pool (the hub's and the answers' setup)."""
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
    return redis.Redis(connection_pool=pool)


def id_seq(entry_id: str) -> int:
    """A stream id ``ms-n`` as one increasing int (n stays far below 2**24 per ms)."""
    ms, n = entry_id.split("-")
    return int(ms) << 24 | int(n)


def parse_id(text: str) -> tuple[int, int] | None:
    match = ID_TEXT.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None


def parse_entry(room: str, entry_id: str, fields: dict[str, str]) -> tuple[int, HubEvent]:
    """The count ``n`` and the message of an entry PUBLISH_SCRIPT wrote; ValueError for any
    other (a foreign XADD into the room's stream)."""
    try:
        n, user, text, ts = int(fields["n"]), fields["user"], fields["text"], float(fields["ts"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a hub message: {error!r}") from None
    return n, message_event(id_seq(entry_id), entry_id, room, user, text, ts)


def log_skipped(room: str, entry_id: str, error: ValueError) -> None:
    logger.warning("hub: skipped room %s entry %s: %s", room, entry_id, error)


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
        max_rooms: int = MAX_ROOMS,
    ) -> None:
        self.client = connect(url)
        self.log_count = log_count
        self.log_age_s = log_age_s
        self.queue_limit = queue_limit
        self.max_rooms = max_rooms
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
        if self._reader is not None:
            self._start_reader()  # if it ended, nothing here would hear this message
        keys = [KEY_PREFIX + room, COUNT_PREFIX + room]
        try:
            entry_id = self._publish(
                keys=keys,
                args=[
                    self.log_count,
                    user,
                    text,
                    repr(time.time() * 1000.0),
                    max(1, round(self.log_age_s * 1000.0)),
                ],
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

    def check_room(self, room: str) -> None:
        with self._lock:
            if room not in self._rooms and len(self._rooms) >= self.max_rooms:
                raise rooms_full(self.max_rooms)

    def count_rooms(self) -> int:
        with self._lock:
            return len(self._rooms)

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        self._start_reader()
        with self._lock:
            local = self._rooms.get(room)
            if local is None:
                if len(self._rooms) >= self.max_rooms:
                    raise rooms_full(self.max_rooms)
                local = self._rooms[room] = Room(room, self._lock, on_empty=self._free)
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
            # is in the replay (or before a new subscriber's time). Unless it was let go
            # meanwhile (Redis failed: every subscriber was cut).
            if self._rooms.get(room) is local:
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
        # So is an id older than the log's age that the stream does not hold: the stream may
        # have expired (a quiet room) and started again since.
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        held = first is not None and seen is not None and seen >= first
        covered = held or (not trimmed and seen is not None and seen[0] >= oldest_ms)
        if seen is not None and seen <= last and covered:
            after = f"{seen[0]}-{seen[1]}"
            entries = self.client.xrange(key, min="(" + after)
            events = self._events(room, entries)
            if not events or events[0].ts >= oldest_ms:
                return events, str(entries[-1][0]) if entries else after
        entries = self.client.xrange(key)
        events = [e for e in self._events(room, entries) if e.ts >= oldest_ms]
        oldest = events[0].id if events else None
        reset = reset_event(room, oldest, last_event_id, time.time() * 1000.0)
        return [reset, *events], str(entries[-1][0]) if entries else last_generated

    @staticmethod
    def _events(room: str, entries: list[tuple[str, dict[str, str]]]) -> list[HubEvent]:
        """The messages of ``entries``, any other entry skipped (and logged)."""
        events = []
        for entry_id, fields in entries:
            try:
                events.append(parse_entry(room, entry_id, fields)[1])
            except ValueError as error:
                log_skipped(room, entry_id, error)
        return events

    # -- the reader ---------------------------------------------------------------------

    def _start_reader(self) -> None:
        """Start the reader, or start it again if it ended while the broker is open."""
        reader = self._reader
        if (reader is not None and reader.is_alive()) or self._closed.is_set():
            return
        with self._lock:
            reader = self._reader
            if reader is not None and reader.is_alive():
                return
            if reader is not None:
                logger.warning("hub: the Redis reader had ended; starting it again")
            self._reader = threading.Thread(
                target=self._supervise, name="hub-redis-reader", daemon=True
            )
            self._reader.start()

    def _supervise(self) -> None:
        """Run the reader; whatever ends it short of ``close``, its subscribers are told
        (they resume from the log) and it starts again after a pause."""
        pause_s = RESTART_MIN_S
        while not self._closed.is_set():
            started = time.monotonic()
            try:
                self._read_forever()
            except Exception as error:
                if time.monotonic() - started > RESTART_CALM_S:
                    pause_s = RESTART_MIN_S
                logger.warning(
                    "hub: the Redis reader failed: %r; starting again in %.1f s", error, pause_s
                )
                self._fail_all(f"hub reader failed: {type(error).__name__}; reconnect to resume")
                self._closed.wait(pause_s)
                pause_s = min(pause_s * 2, RESTART_MAX_S)

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
            except redis.ResponseError as error:
                if not self._drop_foreign_keys():  # else it was no key's fault
                    self._fail_all(f"redis: {error}")
                    self._closed.wait(RETRY_S)
            except redis.RedisError as error:
                self._fail_all(f"redis: {error}")
                self._closed.wait(RETRY_S)

    def _drop_foreign_keys(self) -> bool:
        """After an XREAD refused: end the rooms whose key is not a stream (something else
        wrote it) with an error event, so the others read on. False when none is."""
        with self._lock:
            names = [n for n in self._positions if n in self._rooms]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.type(KEY_PREFIX + name)
        foreign = [n for n, t in zip(names, pipe.execute(), strict=True) if t not in STREAM_TYPES]
        with self._lock:
            for name in foreign:
                logger.warning("hub: room %s: its key is not a stream; ending its streams", name)
                local = self._rooms.get(name)
                if local is not None:
                    for subscription in list(local.subscribers):
                        subscription.cut(f"room {name}: its Redis key is not a stream", error=True)
                    local.subscribers.clear()
                    self._free(local)
        return bool(foreign)

    def _free(self, local: Room) -> None:
        """``local``'s last subscriber left (called holding the lock): this process lets the
        room go, and its count goes from the room's presence at the next sync."""
        name = local.name
        if self._rooms.get(name) is local:
            del self._rooms[name]
            self._positions.pop(name, None)
            self._counts.pop(name, None)
            self._left.add(name)

    def _read_once(self) -> None:
        with self._lock:
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
        # A key of another type (not this code's) fails its own commands, not the others'.
        replies = pipe.execute(raise_on_error=False)[len(left) :]
        others: dict[str, int] = {}
        stale = self.client.pipeline(transaction=False)
        for name, fields in zip(counts, replies[2::3], strict=True):
            if isinstance(fields, Exception):
                logger.warning("hub: skipped room %s presence: %s", name, fields)
                continue
            total = 0
            for token, value in fields.items():
                match = PRESENCE_TEXT.fullmatch(value)
                if match is None:  # not written by this code: skipped, and dropped
                    logger.warning("hub: skipped room %s presence %s: %.40r", name, token, value)
                    stale.hdel(PRESENCE_PREFIX + name, token)
                elif abs(now_ms - int(match[2])) > PRESENCE_STALE_S * 1000.0:
                    stale.hdel(PRESENCE_PREFIX + name, token)
                elif token != self._token:
                    total += int(match[1])
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
                try:
                    n, event = parse_entry(room, entry_id, fields)
                except ValueError as error:
                    log_skipped(room, entry_id, error)
                    continue
                # n == 1: the room's keys expired (it was quiet for the log's age) and it
                # started again, which misses nothing.
                if last is not None and n != last + 1 and n != 1:
                    # Trimmed before this reader read them: every local subscriber missed
                    # messages. End their streams; on reconnect the log says what it holds.
                    for subscription in list(local.subscribers):
                        subscription.cut("missed messages: reconnect to resume", error=True)
                    local.subscribers.clear()
                    self._free(local)
                    return
                last = n
                local.broadcast(event)
            if last is not None and self._rooms.get(room) is local:  # not freed meanwhile
                self._counts[room] = last

    def _fail_all(self, reason: str) -> None:
        """Redis is gone, or the reader failed: every local subscriber gets an error event
        and ends (its client reconnects and resumes from the log once Redis is back)."""
        with self._lock:
            self._left.update(self._rooms)
            for local in self._rooms.values():
                for subscription in list(local.subscribers):
                    subscription.cut(reason, error=True)
                local.subscribers.clear()
            self._rooms.clear()
            self._positions.clear()
            self._counts.clear()
