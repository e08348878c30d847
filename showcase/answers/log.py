"""``Answer``: one answer's items as this process holds them, its readers and their positions;
``AnswerMeta``: what a reader needs to frame it; the store's interface and its refusals.

Pure: no Flask, no I/O. Item n of an answer has seq n: its tokens 0 … k-1, then one last item
(``end``, or ``error``) with seq k. A reader that saw n reads from n + 1.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from showcase.chat.answer import end_message
from showcase.pure.message import Message
from showcase.pure.refusal import Refusal

LAST_EVENTS = ("end", "error")  # the item that closes an answer
# The seq of an error a reader gets when the log cannot be followed: not an item of the log,
# so it carries no id (a resume after it must not skip the log's item of that seq).
OWN_ERROR_SEQ = -1
POSITION_TEXT = re.compile(r"[0-9]{1,19}")
ANSWER_ID_TEXT = re.compile(r"chatcmpl-[0-9a-f]{24}")


class AnswersFull(RuntimeError):
    """This worker generates its limit of answers: a new one is refused (503) before any byte."""


class AnswerStoreUnavailable(RuntimeError):
    """The shared log cannot be reached (Redis down): refused with 503."""


@dataclass(frozen=True, slots=True)
class AnswerMeta:
    """What every reader of an answer needs besides its items, fixed when it starts."""

    model: str
    created: int  # Unix s: the OpenAI chunks' ``created``
    include_usage: bool
    prompt_tokens: int
    started_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerMeta:
        """ValueError for anything this code did not write."""
        try:
            return cls(
                model=str(data["model"]),
                created=int(data["created"]),
                include_usage=bool(data["include_usage"]),
                prompt_tokens=int(data["prompt_tokens"]),
                started_ms=float(data["started_ms"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not an answer's meta: {error!r}") from None


def parse_position(query: str | None, header: str | None) -> int | None:
    """The last seq a reader saw: ``?after=n`` wins over ``Last-Event-ID: n``; neither, or
    an empty one, is None (from the start). Refusal (400) unless 0–19 decimal digits (the
    header's blanks around them aside)."""
    for raw, field in ((query, "after"), (header, "Last-Event-ID")):
        if raw is None:
            continue
        text = raw.strip(" \t") if field == "Last-Event-ID" else raw
        if text == "":
            return None
        if not POSITION_TEXT.fullmatch(text):
            raise Refusal(
                field,
                f"expected the seq of an item seen (0 to 19 decimal digits), got {raw[:40]!r}",
                code="invalid_value",
            )
        return int(text)
    return None


def check_answer_id(answer_id: str) -> None:
    """Refusal (404) for an id this server could never have made: no store is asked."""
    if not ANSWER_ID_TEXT.fullmatch(answer_id):
        raise unknown_answer(answer_id)


def unknown_answer(answer_id: str) -> Refusal:
    return Refusal(
        None,
        f"No answer with id {answer_id[:64]!r}: unknown, or expired.",
        status=404,
        code="answer_not_found",
    )


def cancelled_end(seq: int, meta: AnswerMeta, clock: Callable[[], float] = time.time) -> Message:
    """The last item of a cancelled (or orphaned) answer: ``finish_reason: "stop"`` and
    ``cancelled: true``."""
    end = end_message(seq, meta.started_ms, "stop", meta.prompt_tokens, clock=clock)
    end.data["cancelled"] = True
    return end


class Answer:
    """One answer as this process holds it. Callers hold ``lock`` (the store's) around every
    method. Readers with nothing to read wait on one shared ``threading.Event`` made when the
    first of them waits; an append sets it only then. (``threading.Condition`` costs a switch
    per notify under gevent: its ownership check tries the held lock without blocking, and
    gevent's lock yields to the hub when that fails.)"""

    __slots__ = (
        "id",
        "meta",
        "items",
        "over",
        "readers",
        "unread_since",
        "lock",
        "_wake",
        "_bells",
    )

    def __init__(self, answer_id: str, meta: AnswerMeta, lock: threading.Lock) -> None:
        self.id = answer_id
        self.meta = meta
        self.items: list[Message] = []
        self.over = False  # the last item is in
        self.readers = 0  # this process's
        self.unread_since = time.monotonic()  # when the last reader here left
        self.lock = lock
        self._wake: threading.Event | None = None
        self._bells: list[Bell] = []  # followers' own, rung by the next append

    def add(self, message: Message) -> bool:
        """Append ``message`` (its seq the next); False when the answer is over already."""
        if self.over:
            return False
        self.items.append(message)
        self.over = message.event in LAST_EVENTS
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()
        bells = self._bells
        if bells:
            self._bells = []
            for bell in bells:
                bell.ring()
        return True

    def ring_on_add(self, bell: Bell) -> None:
        """Ring ``bell`` at the next append (once)."""
        self._bells.append(bell)

    def forget_bell(self, bell: Bell) -> None:
        if bell in self._bells:
            self._bells.remove(bell)

    def wake_event(self) -> threading.Event:
        """What a reader waits on for the next item (the readers' shared one)."""
        wake = self._wake
        if wake is None:
            wake = self._wake = threading.Event()
        return wake


class Bell(Protocol):
    """What a follower may wait on instead of the answer's shared Event (``runtime.alarm``:
    a reused timer, no ``Timeout`` and no ``Event`` per wake-up)."""

    def wait(self, seconds: float) -> bool: ...

    def ring(self) -> None: ...

    def clear(self) -> None: ...


class Follower:
    """One reader of an answer: the items after its position, waiting for more (on ``bell``
    when one is set, else on the answer's shared Event)."""

    __slots__ = ("answer", "next", "bell", "_left", "_on_leave")

    def __init__(
        self, answer: Answer, after: int | None, on_leave: Callable[[Answer], None]
    ) -> None:
        self.answer = answer
        self.next = 0 if after is None else after + 1
        self.bell: Bell | None = None
        self._left = False
        self._on_leave = on_leave
        answer.readers += 1  # the caller holds the lock

    @property
    def done(self) -> bool:
        """Every item read, the last among them."""
        answer = self.answer
        return answer.over and self.next >= len(answer.items)

    def take(self, timeout_s: float) -> list[Message]:
        """The items after the position, waiting up to ``timeout_s`` for one; [] on timeout
        or when done."""
        answer = self.answer
        with answer.lock:
            if len(answer.items) > self.next or answer.over:
                return self._read()
            bell = self.bell
            if bell is None:
                wake = answer.wake_event()
            else:
                answer.ring_on_add(bell)
        if bell is None:
            wake.wait(timeout_s)
            with answer.lock:
                return self._read()
        rung = bell.wait(timeout_s)
        with answer.lock:
            if not rung:
                answer.forget_bell(bell)
            bell.clear()  # a ring after the time ran out: what it announced is read here
            return self._read()

    def _read(self) -> list[Message]:
        items = self.answer.items
        if len(items) <= self.next:
            return []
        read = items[self.next :]
        self.next = len(items)
        return read

    def close(self) -> None:
        """Leave (idempotent): the answer counts one reader fewer."""
        if self._left:
            return
        self._left = True
        with self.answer.lock:
            self.answer.readers -= 1
            if self.answer.readers == 0:
                self.answer.unread_since = time.monotonic()
                self._on_leave(self.answer)


@dataclass(frozen=True, slots=True)
class Peek:
    """An answer's state for a view's decision before any byte: over, and its last seq."""

    over: bool
    last_seq: int  # -1: no item yet


class AnswerStore(Protocol):
    def create(self, answer_id: str, meta: AnswerMeta) -> threading.Event:
        """Make the answer's log (raise AnswersFull past the worker's limit); the Event is
        set when the generation must stop (cancelled, orphaned)."""
        ...

    def append(self, answer_id: str, message: Message) -> bool:
        """Store the next item; False when the answer is over (cancelled): stop generating."""
        ...

    def extend(self, answer_id: str, messages: Sequence[Message]) -> bool:
        """Store the next items at once (one round trip); False as ``append``."""
        ...

    def end_generation(self, answer_id: str) -> None:
        """The generation of ``answer_id`` ended (whatever the reason): it counts no more."""
        ...

    def is_orphan(self, answer_id: str, orphan_s: float) -> bool:
        """No reader anywhere for ``orphan_s``."""
        ...

    def peek(self, answer_id: str) -> tuple[AnswerMeta, Peek] | None:
        """None for an unknown or expired answer."""
        ...

    def follow(self, answer_id: str, after: int | None) -> Follower | None:
        """A reader from after ``after`` (None: from the start); None when unknown."""
        ...

    def cancel(self, answer_id: str, reason: str = "cancelled") -> str | None:
        """Stop it: ``"cancelled"``, ``"finished"`` (over already), None (unknown)."""
        ...

    def count_running(self) -> int:
        """The generations this worker runs."""
        ...
