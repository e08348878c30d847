"""``start_generation``: an answer generated in a greenlet of its own (a thread under gevent's
monkey-patching), apart from the request that asked for it: every item is appended to the
answer's log, which readers follow. No Flask.

The generation stops when the log refuses an item (the answer was cancelled: the canceller
wrote the last item), when its stop event is set (a cancel: it wakes a pause at once), or when
no reader followed it for ``orphan_s`` (it ends as a cancelled one does), or when the
server stops (``stopping()``: it can go on nowhere, so its log ends with an error item and
its readers, on any server, learn it at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from showcase.answers.log import LAST_EVENTS, AnswerStore
from showcase.chat.answer import error_message
from showcase.pure.message import Message, Pause

logger = logging.getLogger(__name__)

# A pause longer than this is waited in slices, to look for orphans between them.
ORPHAN_CHECK_S = 0.25
# Items ready together are appended in one call (one Redis round trip) of at most this many,
# and a generation that never pauses lets other greenlets run after each.
BATCH_ITEMS = 64


def start_generation(
    store: AnswerStore,
    answer_id: str,
    items: Iterator[Message | Pause],
    stop: threading.Event,
    orphan_s: float,
    stopping: Callable[[], bool] = lambda: False,
    pause: Callable[[float], bool] | None = None,
) -> threading.Thread:
    """Run ``items`` into the log of ``answer_id`` (made by ``store.create``) in the background."""
    thread = threading.Thread(
        target=run_generation,
        args=(store, answer_id, items, stop, orphan_s, stopping, pause),
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
    stopping: Callable[[], bool] = lambda: False,
    pause: Callable[[float], bool] | None = None,
) -> None:
    """See the module docstring. A generation that fails ends its log with an error item.
    ``pause(s)`` waits up to ``s``, True at once when ``stop`` is set (``stop.wait`` when
    None; a gevent worker passes ``alarm.stop_pause(stop)``: no ``Timeout`` per token)."""
    if pause is None:
        pause = stop.wait
    seq = 0
    check_at = time.monotonic() + ORPHAN_CHECK_S  # looked for at most this often
    batch: list[Message] = []

    def check() -> bool:
        return stopping() or must_end(store, answer_id, orphan_s)

    try:
        for item in items:
            if isinstance(item, Message):
                # Items ready together (no pause between them) go into the log at once.
                batch.append(item)
                if len(batch) < BATCH_ITEMS and item.event not in LAST_EVENTS:
                    continue
            if batch:
                if stop.is_set() or not store.extend(answer_id, batch):
                    break
                seq = batch[-1].seq + 1
                batch = []
                if time.monotonic() >= check_at:
                    check_at = time.monotonic() + ORPHAN_CHECK_S
                    if stopping():
                        end_stopped(store, answer_id, seq)
                        break
                    if must_end(store, answer_id, orphan_s):
                        break
            if isinstance(item, Pause):
                if wait_stop(pause, item.seconds, check) or stopping():
                    if stopping():  # else cancelled, or orphaned: the log has its end
                        end_stopped(store, answer_id, seq)
                    break
            else:
                time.sleep(0)  # a generation that never pauses lets the others run
        else:
            if batch and not stop.is_set():
                store.extend(answer_id, batch)
    except Exception as error:  # a bug or a broken store: readers must not wait for ever
        logger.warning("answer %s: generation failed: %r", answer_id, error)
        try:
            if batch and store.extend(answer_id, batch):  # what it made before it failed
                seq = batch[-1].seq + 1
            store.append(answer_id, error_message(seq, "generation_failed", type(error).__name__))
        except Exception as failed:
            logger.warning("answer %s: could not end its log: %r", answer_id, failed)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
        store.end_generation(answer_id)


def must_end(store: AnswerStore, answer_id: str, orphan_s: float) -> bool:
    """True (the log ended here, as a cancelled one) when nobody read it for ``orphan_s``."""
    if store.is_orphan(answer_id, orphan_s):
        store.cancel(answer_id, "orphaned")
        return True
    return False


def end_stopped(store: AnswerStore, answer_id: str, seq: int) -> None:
    detail = "the server generating this answer stopped; ask again"
    store.append(answer_id, error_message(seq, "server_restarting", detail))


def wait_stop(pause: Callable[[float], bool], seconds: float, check: Callable[[], bool]) -> bool:
    """Pause ``seconds`` (``pause(s)``: True when cancelled); True when the generation must
    stop: cancelled, or ``check()``
    (looked at after each whole ORPHAN_CHECK_S slice) says so."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        slice_s = min(remaining, ORPHAN_CHECK_S)
        if pause(slice_s):
            return True
        # Only after a whole slice: short pauses are covered by the check after appends.
        if slice_s == ORPHAN_CHECK_S and check():
            return True
