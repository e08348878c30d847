"""``MemoryAnswers``: answer logs in this process (one gunicorn worker). Pure: no I/O.

Answers that ended wait in one heap by when their log expires; any call that makes an answer,
looks one up or counts them drops those due: no timer per answer.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence

from showcase.answers.log import (
    Answer,
    AnswerMeta,
    AnswersFull,
    Follower,
    Peek,
    cancelled_end,
)
from showcase.pure.message import Message

ANSWER_TTL_S = 600.0
ANSWER_ORPHAN_S = 30.0
MAX_ANSWERS = 1000  # generations one worker runs at once
# Logs one worker holds at most, running or ended, per answer it may run: past it the ended
# log due to expire first goes early, so a burst of short answers cannot grow the worker.
STORED_PER_RUNNING = 10


def answers_full(max_running: int) -> AnswersFull:
    return AnswersFull(f"this worker generates its limit of {max_running} answers; try later")


class MemoryAnswers:
    """One lock for every answer: appends, reads and cancels run under it, and nothing under
    it waits, so under gevent it is never contended across a switch."""

    def __init__(
        self,
        *,
        ttl_s: float = ANSWER_TTL_S,
        max_running: int = MAX_ANSWERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_running = max_running
        self.max_stored = max_running * STORED_PER_RUNNING
        self.clock = clock
        self._lock = threading.Lock()
        self._answers: dict[str, Answer] = {}
        self._running: dict[str, threading.Event] = {}
        self._expiry: list[tuple[float, str]] = []  # (when its log goes, id): ended answers

    # -- the generation's side ----------------------------------------------------------

    def create(self, answer_id: str, meta: AnswerMeta) -> threading.Event:
        with self._lock:
            self._drop_expired()
            if len(self._running) >= self.max_running:
                raise answers_full(self.max_running)
            while len(self._answers) >= self.max_stored and self._expiry:
                _, oldest = heapq.heappop(self._expiry)
                self._answers.pop(oldest, None)
            if len(self._answers) >= self.max_stored:
                raise answers_full(self.max_running)
            answer = Answer(answer_id, meta, self._lock)
            answer.unread_since = self.clock()
            self._answers[answer_id] = answer
            stop = self._running[answer_id] = threading.Event()
            return stop

    def append(self, answer_id: str, message: Message) -> bool:
        return self.extend(answer_id, (message,))

    def extend(self, answer_id: str, messages: Sequence[Message]) -> bool:
        with self._lock:
            answer = self._answers.get(answer_id)
            if answer is None:
                return False
            for message in messages:
                if not answer.add(message):
                    return False
            if answer.over:
                self._ended(answer)
            return True

    def end_generation(self, answer_id: str) -> None:
        with self._lock:
            self._running.pop(answer_id, None)

    def is_orphan(self, answer_id: str, orphan_s: float) -> bool:
        with self._lock:
            answer = self._answers.get(answer_id)
            if answer is None:
                return True
            return answer.readers == 0 and self.clock() - answer.unread_since >= orphan_s

    def cancel(self, answer_id: str, reason: str = "cancelled") -> str | None:
        with self._lock:
            self._drop_expired()
            answer = self._answers.get(answer_id)
            if answer is None:
                return None
            if answer.over:
                return "finished"
            answer.add(cancelled_end(len(answer.items), answer.meta))
            self._ended(answer)
            stop = self._running.get(answer_id)
            if stop is not None:
                stop.set()
            return "cancelled"

    def count_running(self) -> int:
        with self._lock:
            return len(self._running)

    # -- the readers' side --------------------------------------------------------------

    def peek(self, answer_id: str) -> tuple[AnswerMeta, Peek] | None:
        with self._lock:
            self._drop_expired()
            answer = self._answers.get(answer_id)
            if answer is None:
                return None
            return answer.meta, Peek(answer.over, len(answer.items) - 1)

    def follow(self, answer_id: str, after: int | None) -> Follower | None:
        with self._lock:
            answer = self._answers.get(answer_id)
            if answer is None:
                return None
            return Follower(answer, after, self._left)

    def _left(self, answer: Answer) -> None:
        answer.unread_since = self.clock()

    # -- expiry (each holding the lock) -------------------------------------------------

    def _ended(self, answer: Answer) -> None:
        heapq.heappush(self._expiry, (self.clock() + self.ttl_s, answer.id))

    def _drop_expired(self) -> None:
        expiry, now = self._expiry, self.clock()
        while expiry and expiry[0][0] <= now:
            _, answer_id = heapq.heappop(expiry)
            self._answers.pop(answer_id, None)
