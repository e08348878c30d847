"""``iter_followed``: one reader of an answer's log as a source for ``bodies.iter_body``. No
Flask. It blocks on the log where other sources pause."""

from __future__ import annotations

from collections.abc import Generator

from showcase.answers.framing import HEARTBEAT
from showcase.answers.log import OWN_ERROR_SEQ, AnswerStore, AnswerStoreUnavailable, Bell
from showcase.chat.answer import error_message
from showcase.pure.message import Message, Pause

# Yielded before blocking: iter_body flushes what it has batched at a pause.
FLUSH = Pause(0.0)


def iter_followed(
    store: AnswerStore,
    answer_id: str,
    after: int | None,
    heartbeat_s: float,
    bell: Bell | None = None,
) -> Generator[Message | Pause, None, None]:
    """Follow ``answer_id`` from after ``after`` (joined at the first ``next()``: a body
    never iterated never counts as a reader): the items held, then the live ones up to the
    last; a HEARTBEAT after ``heartbeat_s`` of silence. An answer gone meanwhile (expired)
    ends the body; a log that cannot be reached ends it with an error item of no id.
    Closing the generator leaves. ``bell``: what the follower waits on (``Follower.bell``)."""
    try:
        follower = store.follow(answer_id, after)
    except AnswerStoreUnavailable as error:
        yield error_message(OWN_ERROR_SEQ, "log_unavailable", str(error)[:200])
        return
    if follower is None:
        return
    follower.bell = bell
    try:
        while not follower.done:
            items = follower.take(heartbeat_s)
            if not items:
                if not follower.done:
                    yield HEARTBEAT
                    yield FLUSH  # out now: the heartbeat tells a departed client from a reader
                continue
            yield from items
            yield FLUSH
    finally:
        follower.close()
