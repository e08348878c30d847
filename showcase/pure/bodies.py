"""Turn a source's items into the byte chunks of a response body: pacing, heartbeats, flushing.

No Flask here. Waiting goes through ``wait(seconds) -> bool`` (False: the server is stopping,
end the stream cleanly); in the worker it is a ``lifecycle.Pacer``, one per stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from showcase.pure.message import Message, Pause
from showcase.pure.modes import Mode

# A coalesced write never grows past this: bounded memory, and the socket stays busy.
COALESCE_MAX_BYTES = 64 * 1024

# A producer that never pauses lets other greenlets run after this many writes, or this many
# bytes, whichever comes first: often enough to be fair, rarely enough that a switch per
# large message does not cost more than coalescing saves: a switch after every 64 KiB message
# made flush=auto slower than flush=each (``showcase bench throughput`` compares the two,
# docs/results/throughput.json).
YIELD_EVERY_WRITES = 64
YIELD_EVERY_BYTES = 1 << 20

Wait = Callable[[float], bool]


def wait_plain(seconds: float) -> bool:
    time.sleep(seconds)
    return True


def iter_body(
    items: Iterable[Message | Pause],
    mode: Mode,
    *,
    flush: str = "auto",
    heartbeat_s: float = 15.0,
    wait: Wait = wait_plain,
    ending: Callable[[], bytes] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bytes]:
    """The response body, one ``bytes`` per socket write.

    ``flush="each"``: one write per message, what a tutorial generator does.
    ``flush="auto"``: messages that are ready together (no pause between them) go out in one
    write of at most ``COALESCE_MAX_BYTES``; a batch is flushed before every pause, so a
    message is never held back waiting for the next one.
    Pauses keep a schedule: a pause of ``s`` ends ``s`` after the previous one was due to
    end, not ``s`` after this write (``clock`` reads the time), so each stream keeps its own
    phase (``lifecycle.PauseSlots`` says why). A stream that fell behind does not catch up
    in a burst: its schedule starts again from now.
    A stopping server ends the stream after what was already produced (SSE clients resume):
    when ``wait`` says so, the body's last write is ``ending()`` if given (an SSE stream's
    "server restarting" comment and ``retry:``), and the body ends.
    """
    # One generator, no nested ones: while a stream waits, its greenlet keeps a copy of the
    # C stack down to the wait, and every generator level in between adds to that copy
    # (RSS per held stream: docs/results/held_streams.json, ``showcase bench held_streams``).
    batch: list[bytes] = []
    batched = written = unpaused = 0  # written, unpaused: since the last pause or yield
    due: float | None = None  # when the last pause was due to end
    if mode.preamble:
        batch.append(mode.preamble)
        batched = len(mode.preamble)
    try:
        for item in items:
            if isinstance(item, Message):
                data = mode.encode(item)
                if flush == "each":
                    if batch:
                        yield b"".join(batch)
                        batch.clear()
                    yield data
                    sent = len(data)
                else:
                    batch.append(data)
                    batched += len(data)
                    if batched < COALESCE_MAX_BYTES:
                        continue
                    yield data if len(batch) == 1 else b"".join(batch)
                    batch.clear()
                    sent, batched = batched, 0
                written += 1
                unpaused += sent
                if written >= YIELD_EVERY_WRITES or unpaused >= YIELD_EVERY_BYTES:
                    written = unpaused = 0
                    if not wait(0):
                        if ending is not None:
                            yield ending()
                        return
                continue
            if batch:
                # A paced stream has one message here: send it as it is, no copy.
                yield batch[0] if len(batch) == 1 else b"".join(batch)
                batch.clear()
                batched = 0
            written = unpaused = 0
            now = clock()
            due = now + item.seconds if due is None else max(now, due + item.seconds)
            # The pause, in slices of at most heartbeat_s with a heartbeat after each full one.
            remaining = due - now
            while remaining > heartbeat_s:
                if not wait(heartbeat_s):
                    if ending is not None:
                        yield ending()
                    return
                remaining -= heartbeat_s
                if mode.heartbeat is not None:
                    yield mode.heartbeat
            if remaining > 0 and not wait(remaining):
                if ending is not None:
                    yield ending()
                return
    except ConnectionAbortedError:
        # Thrown into a source that waits by itself (a room's queue, an upstream read) rather
        # than through ``wait``: on a stopping server the stream ends as a paused one does.
        if wait(0):
            raise
        if ending is not None:
            yield ending()
        return
    if batch:
        yield b"".join(batch)
