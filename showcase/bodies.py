"""Turn a source's items into the byte chunks of a response body: pacing, heartbeats, flushing.

No Flask here. Waiting goes through ``wait(seconds) -> bool`` (False: the server is stopping,
end the stream cleanly); in the worker it is ``lifecycle.wait_unless_stopping``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from showcase.message import Message, Pause
from showcase.modes import Mode

# A coalesced write never grows past this: bounded memory, and the socket stays busy.
COALESCE_MAX_BYTES = 64 * 1024

# With flush=each and no pauses, let other greenlets run after this many writes.
YIELD_EVERY_WRITES = 64

Wait = Callable[[float], bool]


def wait_plain(seconds: float) -> bool:
    time.sleep(seconds)
    return True


class Stopped(Exception):
    """The wait function said the server is stopping."""


def iter_paused(seconds: float, heartbeat_s: float, wait: Wait) -> Iterator[None]:
    """Wait ``seconds``, yielding once each time ``heartbeat_s`` of silence has passed."""
    remaining = seconds
    while remaining > heartbeat_s:
        if not wait(heartbeat_s):
            raise Stopped
        remaining -= heartbeat_s
        yield None
    if remaining > 0 and not wait(remaining):
        raise Stopped


def iter_body(
    items: Iterable[Message | Pause],
    mode: Mode,
    *,
    flush: str = "auto",
    heartbeat_s: float = 15.0,
    wait: Wait = wait_plain,
) -> Iterator[bytes]:
    """The response body, one ``bytes`` per socket write.

    ``flush="each"``: one write per message, what a tutorial generator does.
    ``flush="auto"``: messages that are ready together (no pause between them) go out in one
    write of at most ``COALESCE_MAX_BYTES``; a batch is flushed before every pause, so a
    message is never held back waiting for the next one.
    A stopping server ends the stream after what was already produced (SSE clients resume).
    """
    try:
        yield from _iter_writes(items, mode, flush, heartbeat_s, wait)
    except Stopped:
        return


def _iter_writes(
    items: Iterable[Message | Pause], mode: Mode, flush: str, heartbeat_s: float, wait: Wait
) -> Iterator[bytes]:
    batch: list[bytes] = []
    batched = written = 0
    if mode.preamble:
        batch.append(mode.preamble)
        batched = len(mode.preamble)
    for item in items:
        if isinstance(item, Message):
            data = mode.encode(item)
            if flush == "each":
                if batch:
                    yield b"".join(batch)
                    batch.clear()
                yield data
                written += 1
                if written % YIELD_EVERY_WRITES == 0 and not wait(0):
                    return
                continue
            batch.append(data)
            batched += len(data)
            if batched >= COALESCE_MAX_BYTES:
                yield b"".join(batch)
                batch.clear()
                batched = 0
                # A producer that never pauses must still let other greenlets run.
                if not wait(0):
                    return
        else:
            if batch:
                yield b"".join(batch)
                batch.clear()
                batched = 0
            for _ in iter_paused(item.seconds, heartbeat_s, wait):
                if mode.heartbeat is not None:
                    yield mode.heartbeat
    if batch:
        yield b"".join(batch)
