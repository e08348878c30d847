"""Long polling's schedule and answer: which messages are due when. Pure: no Flask, no I/O.

The server keeps nothing between polls. A stream's messages are due on a fixed schedule
from its ``start`` (Unix epoch ms, chosen by the first poll and echoed by the client in the
next ones): message k is due at ``start + offset_ms(k)``, the sum of the pauses the source
puts before it. So any server, before or after a restart, answers a poll ``after=n`` with
the messages n + 1 … that are due, and a client polling with the ``next`` it was given gets
every message exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from showcase.pure.message import Message
from showcase.pure.params import (
    MAX_COUNT,
    StreamParams,
    parse_float,
    parse_int,
    parse_stream_params,
)
from showcase.pure.refusal import Refusal
from showcase.pure.sources import PAUSE_FACTORS, passage_tokens

DEFAULT_WAIT_MS = 25_000
MAX_WAIT_MS = 60_000
MAX_START_MS = 10_000_000_000_000.0  # year 2286: a start beyond is no Unix epoch ms of ours
# One answer carries every message due, up to this many bytes of payload (at least one
# message): ``done`` false and the rest in the next answer, which is due at once.
MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class PollParams:
    stream: StreamParams
    after: int  # the last seq the client has; -1: none yet
    wait_ms: int
    start_ms: float | None  # None: the first poll, the schedule starts now


def parse_poll_params(args: Mapping[str, str]) -> PollParams:
    """The stream parameters plus ``after`` (-1 … count - 1), ``wait`` (ms) and ``start``
    (epoch ms), or Refusal naming the field."""
    stream = parse_stream_params(args)
    after = parse_int(args, "after", -1, -1, MAX_COUNT - 1)
    if after >= stream.count:
        raise Refusal("after", f"must be below count ({stream.count}), got {after}")
    start = parse_float(args, "start", None, 0.0, MAX_START_MS)
    return PollParams(
        stream=stream,
        after=after,
        wait_ms=parse_int(args, "wait", DEFAULT_WAIT_MS, 0, MAX_WAIT_MS),
        start_ms=start,
    )


@cache
def text_pause_factors() -> tuple[tuple[float, ...], float]:
    """For the ``text`` source: the pause factor before token i (cumulative, i = 0 … n) of
    one pass through the passage, and one whole pass's sum."""
    tokens = passage_tokens()
    sums = [0.0]
    for token in tokens:
        sums.append(sums[-1] + PAUSE_FACTORS.get(token[-1], 1.0))
    return tuple(sums), sums[-1]


def offset_ms(source: str, seq: int, interval_ms: float) -> float:
    """When message ``seq`` is due, in ms after the stream's start: the pauses the source
    yields before it (``sources.iter_ticks``, ``sources.iter_text``)."""
    if seq <= 0 or interval_ms <= 0:
        return 0.0
    if source != "text":
        return seq * interval_ms
    # The pause before token k follows token k - 1: the factors of tokens 0 … seq - 1.
    sums, whole = text_pause_factors()
    passes, rest = divmod(seq, len(sums) - 1)
    return (passes * whole + sums[rest]) * interval_ms


def due_through(params: StreamParams, start_ms: float, now_ms: float) -> int:
    """The last seq due at ``now_ms`` (-1: none yet), at most ``count - 1``."""
    elapsed = now_ms - start_ms
    if elapsed < 0:
        return -1
    last = params.count - 1
    if params.interval_ms <= 0:
        return last
    if params.source != "text":
        seq = min(last, int(elapsed // params.interval_ms))
        # Floor division and the product in offset_ms may round apart: offset_ms decides.
        if seq < last and offset_ms("ticks", seq + 1, params.interval_ms) <= elapsed:
            seq += 1
        while seq >= 0 and offset_ms("ticks", seq, params.interval_ms) > elapsed:
            seq -= 1
        return seq
    low, high = 0, last  # the offsets grow with seq: the last one within elapsed
    if offset_ms("text", high, params.interval_ms) <= elapsed:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if offset_ms("text", middle, params.interval_ms) <= elapsed:
            low = middle
        else:
            high = middle - 1
    return low


def next_due_ms(params: StreamParams, start_ms: float, after: int) -> float | None:
    """When message ``after + 1`` is due (epoch ms); None when the stream has no more."""
    if after + 1 >= params.count:
        return None
    return start_ms + offset_ms(params.source, after + 1, params.interval_ms)


def encode_answer(
    messages: Iterable[Message], after: int, count: int, start_ms: float
) -> tuple[bytes, int]:
    """``{"messages": [payload, …], "next", "done", "start"}`` and ``next``: the last seq
    sent (``after`` when none), for the client's next ``after``; ``done`` once it is the
    stream's last. Stops after MAX_ANSWER_BYTES of payload (at least one message)."""
    parts: list[bytes] = []
    size = 0
    last = after
    for message in messages:
        data = message.json_bytes
        parts.append(data)
        last = message.seq
        size += len(data)
        if size >= MAX_ANSWER_BYTES:
            break
    done = b"true" if last >= count - 1 else b"false"
    body = b'{"messages":[%b],"next":%d,"done":%b,"start":%a}' % (
        b",".join(parts),
        last,
        done,
        start_ms,
    )
    return body, last
