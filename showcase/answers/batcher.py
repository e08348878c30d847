"""``AppendBatcher``: every answer's appends of one process go to Redis together.

Each caller (a generation's greenlet) hands in one EVALSHA, tagged with its answer: ``call``
waits for the reply, ``send`` does not (its reply goes to a callback, in the writer). One
writer thread (a greenlet under gevent) gathers what every caller handed in for
``linger_s``, or until ``max_batch`` are waiting, and sends them in one pipeline: one round
trip for the appends of all the answers this process generates, not one per token and
answer. Flushes go one after the other, in the order of the calls, so one answer's items
keep their order; once a call of a tag failed, the later calls of that tag fail without
being sent (an item after a lost one would leave a hole in the log). The callers of one
flush wait on one shared event. The writer holds one connection of the pool and
writes the pipeline's bytes itself: redis-py's pipeline machinery costs more worker CPU per
command than the command's own bytes. No Flask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import redis

logger = logging.getLogger(__name__)

LINGER_S = 0.01  # a flush waits this long for more appends: tokens reach readers this late
MAX_BATCH = 512  # appends in one pipeline, at most: a fuller one is sent at once


def pack_command(args: Sequence[Any]) -> bytes:
    """One command in RESP (bytes as they are; str as UTF-8; int and the rest as their
    text)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


Reply = Callable[[Any], None]  # gets the reply, or the exception that stands for it
Call = tuple[str, Sequence[str], Sequence[Any], Reply | None]  # tag, keys, args, on reply


class Flush:
    """The appends sent together, and their replies (an exception for a failed one) once
    sent."""

    __slots__ = ("calls", "replies", "done")

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.replies: list[Any] = []
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
        self._failed: dict[str, BaseException] = {}  # tag -> why its calls fail now

    def failure(self, tag: str) -> BaseException | None:
        """Why ``tag``'s calls fail now (None: they do not)."""
        with self._lock:
            return self._failed.get(tag)

    def forget(self, tag: str) -> None:
        """``tag``'s calls are over: a failure of theirs is kept no more."""
        with self._lock:
            self._failed.pop(tag, None)

    def call(self, tag: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the script on ``keys`` and ``args`` in the next flush; its reply (raised
        when an exception)."""
        flush, index = self._enqueue((tag, keys, args, None))
        # No timeout: a timer per token costs as much as the rest; the writer always sets it.
        flush.done.wait()
        reply = flush.replies[index]
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def send(self, tag: str, keys: Sequence[str], args: Sequence[Any], on_reply: Reply) -> None:
        """As ``call``, but the caller goes on: ``on_reply`` gets the reply (in the writer).
        A full batch makes the caller wait for the flush before (bounded memory)."""
        while True:
            with self._lock:
                full = self._open if len(self._open.calls) >= self.max_batch else None
            if full is None:
                break
            full.done.wait()
        self._enqueue((tag, keys, args, on_reply))

    def _enqueue(self, call: Call) -> tuple[Flush, int]:
        with self._lock:
            closed = self._closed
            if not closed:
                self._start()
                flush = self._open
                index = len(flush.calls)
                flush.calls.append(call)
                if index == 0:
                    self._pending.set()
                if index + 1 >= self.max_batch:
                    self._full.set()
        if closed:  # no writer: the caller makes its own round trip
            flush, index = Flush(), 0
            flush.calls.append(call)
            self._write(flush)
        return flush, index

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
                self._write(flush)
            if closed:
                return

    def _write(self, flush: Flush) -> None:
        """Send ``flush`` (but the calls of failed tags), set its replies, wake its callers
        and give the others their replies."""
        replies: list[Any] = [None] * len(flush.calls)
        sent: list[int] = []
        with self._lock:
            for i, (tag, _, _, _) in enumerate(flush.calls):
                failed = self._failed.get(tag)
                if failed is None:
                    sent.append(i)
                else:
                    replies[i] = failed
        try:
            if sent:
                got = self._send([flush.calls[i][1:3] for i in sent])
                for i, reply in zip(sent, got, strict=True):
                    replies[i] = reply
        except Exception as error:  # Redis gone: every call of this flush learns it
            for i in sent:
                replies[i] = error
        finally:
            with self._lock:
                for (tag, _, _, _), reply in zip(flush.calls, replies, strict=True):
                    if isinstance(reply, BaseException):
                        self._failed[tag] = reply
            flush.replies = replies
            flush.done.set()
        for (tag, _, _, on_reply), reply in zip(flush.calls, replies, strict=True):
            if on_reply is not None:
                try:
                    on_reply(reply)
                except Exception as error:  # a bug: the other callers still get theirs
                    logger.warning("answers: the reply of %s failed: %r", tag, error)

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
