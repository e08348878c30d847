"""``start_generation``: an answer generated in a greenlet of its own (a thread under gevent's
monkey-patching), apart from the request that asked for it: every item is appended to the
answer's log, which readers follow. No Flask.

The generation stops when the log refuses an item (the answer was cancelled: the canceller
wrote the last item), when its stop event is set (a cancel: it wakes a pause at once), or when
no reader followed it for ``orphan_s`` (it ends as a cancelled one does).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from showcase.answers.log import AnswerStore
from showcase.chat.answer import error_message
from showcase.pure.message import Message, Pause

logger = logging.getLogger(__name__)

# A pause longer than this is waited in slices, to look for orphans between them.
ORPHAN_CHECK_S = 0.25


def start_generation(
    store: AnswerStore,
    answer_id: str,
    items: Iterator[Message | Pause],
    stop: threading.Event,
    orphan_s: float,
) -> threading.Thread:
    """Run ``items`` into the log of ``answer_id`` (made by ``store.create``) in the background."""
    thread = threading.Thread(
        target=run_generation,
        args=(store, answer_id, items, stop, orphan_s),
        name=f"answer-{answer_id}",
        daemon=True,
    )
    thread.start()
    return thread


def run_generation(
    store: AnswerStore,
    answer_id: str,
    items: Iterator[Message | Pause],
    stop: threading.Event,
    orphan_s: float,
) -> None:
    """See the module docstring. A generation that fails ends its log with an error item."""
    seq = 0
    try:
        for item in items:
            if isinstance(item, Pause):
                if wait_stop(stop, item.seconds, store, answer_id, orphan_s):
                    break
                continue
            if stop.is_set() or not store.append(answer_id, item):
                break
            seq = item.seq + 1
            if store.is_orphan(answer_id, orphan_s):
                store.cancel(answer_id, "orphaned")
                break
    except Exception as error:  # a bug or a broken store: readers must not wait for ever
        logger.warning("answer %s: generation failed: %r", answer_id, error)
        try:
            store.append(answer_id, error_message(seq, "generation_failed", type(error).__name__))
        except Exception as failed:
            logger.warning("answer %s: could not end its log: %r", answer_id, failed)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
        store.end_generation(answer_id)


def wait_stop(
    stop: threading.Event, seconds: float, store: AnswerStore, answer_id: str, orphan_s: float
) -> bool:
    """Pause ``seconds``; True when the generation must stop (cancelled, or orphaned: then
    its log is ended here)."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if stop.wait(min(remaining, ORPHAN_CHECK_S)):
            return True
        if store.is_orphan(answer_id, orphan_s):
            store.cancel(answer_id, "orphaned")
            return True
