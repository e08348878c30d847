"""``AppendBatcher``: every answer's appends of one process go to Redis together.

Each caller (a generation's greenlet) hands in one EVALSHA and waits; one writer thread (a
greenlet under gevent) gathers what every caller handed in for ``linger_s``, or until
``max_batch`` are waiting, and sends them in one pipeline: one round trip for the appends of
all the answers this process generates, not one per token and answer. A caller has at most
one append waiting (it waits for its reply), so one answer's items keep their order. The
callers of one flush wait on one shared event. The writer holds one connection of the pool and
writes the pipeline's bytes itself: redis-py's pipeline machinery costs more worker CPU per
command than the command's own bytes. No Flask.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import redis

LINGER_S = 0.005  # a flush waits this long for more appends: tokens come late by at most it
MAX_BATCH = 512  # appends in one pipeline, at most: a fuller one is sent at once


def pack_command(args: Sequence[Any]) -> bytes:
    """One command in RESP (bytes as they are; str as UTF-8; int and the rest as their
    text)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class Flush:
    """The appends sent together, and their replies once sent."""

    __slots__ = ("calls", "replies", "error", "done")

    def __init__(self) -> None:
        self.calls: list[tuple[Sequence[str], Sequence[Any]]] = []
        self.replies: list[Any] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class AppendBatcher:
    """See the module docstring. ``call`` returns the script's reply, or raises what
    ``redis`` raised for it."""

    def __init__(
        self,
        client: Any,
        script: str,
        *,
        linger_s: float = LINGER_S,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.client = client
        self.script = script
        self.sha = str(client.script_load(script))
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.flushes = 0  # round trips made (tests, benchmarks)
        self._lock = threading.Lock()
        self._open = Flush()
        self._pending = threading.Event()  # set when the open flush has its first call
        self._full = threading.Event()  # set when it has max_batch
        self._closed = False
        self._thread: threading.Thread | None = None
        self._connection: Any = None  # the writer's own, taken from the pool once

    def call(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script on ``keys`` and ``args`` in the next flush; its reply."""
        with self._lock:
            if self._closed:
                flush = None
            else:
                self._start()
                flush = self._open
                index = len(flush.calls)
                flush.calls.append((keys, args))
                if index == 0:
                    self._pending.set()
                if index + 1 >= self.max_batch:
                    self._full.set()
        if flush is None:  # closed: no writer, so the caller makes its own round trip
            return self._send([(keys, args)])[0]
        # No timeout: a timer per token costs as much as the rest; the writer always sets it.
        flush.done.wait()
        if flush.error is not None:
            raise flush.error
        reply = flush.replies[index]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self) -> None:
        """Send what waits, then stop the writer; later calls go one by one."""
        with self._lock:
            self._closed = True
            self._pending.set()
            self._full.set()
            thread = self._thread
        if thread is not None:
            thread.join(5.0)
        if self._connection is not None:
            self.client.connection_pool.release(self._connection)
            self._connection = None

    def _start(self) -> None:
        """(Holding the lock.)"""
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_forever, name="answers-write")
            self._thread.daemon = True
            self._thread.start()

    def _write_forever(self) -> None:
        while True:
            self._pending.wait()
            # Linger: the other generations' tokens of this moment join the same round trip.
            self._full.wait(self.linger_s)
            with self._lock:
                flush, self._open = self._open, Flush()
                self._pending.clear()
                self._full.clear()
                closed = self._closed
            if flush.calls:
                try:
                    flush.replies = self._send(flush.calls)
                except BaseException as error:  # Redis gone: every caller of it learns it
                    flush.error = error
                finally:
                    flush.done.set()
            if closed:
                return

    def _send(self, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        """One pipeline of EVALSHA; the script is loaded again when Redis lost it."""
        self.flushes += 1
        replies = self._pipeline(calls)
        missing = [
            i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)
        ]
        if missing:
            self.sha = str(self.client.script_load(self.script))
            again = self._pipeline([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    def _pipeline(self, calls: list[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        """Every call's reply (an error reply as its exception); raises when the connection
        fails (it is dropped, and made again by the next flush)."""
        if self._connection is None:
            self._connection = self.client.connection_pool.get_connection()
        connection = self._connection
        payload = b"".join(
            pack_command(("EVALSHA", self.sha, len(keys), *keys, *args)) for keys, args in calls
        )
        replies: list[Any] = []
        try:
            connection.send_packed_command([payload])
            for _ in calls:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as error:
                    replies.append(error)
        except BaseException:
            connection.disconnect()
            raise
        return replies
