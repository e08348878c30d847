"""The answers benchmark's trials, each one answer: cut and resumed, or cancelled, or read
whole; and a bounded runner that keeps many at once (``answer_reader`` does the reading).
Every trial is bounded by ``LEG_DEADLINE_S`` per response, every batch by its deadline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from benchmarks.load.answer_reader import (
    CUTS,
    MAX_PARTIAL_BYTES,
    Leg,
    LoopLag,
    post_request,
    read_leg,
    resume_request,
    send_cancel,
)
from benchmarks.load.tokens import MODEL

PROMPT = "Tell me about streaming"  # no canned word: the bundled passage answers
EXACT_INTERVAL_MS = 10.0  # cut answers are quick, so that a thousand fit in seconds…
RESUME_WAIT_S = (0.1, 0.15)  # …and a reader away longer than the longest pause (8 × 10 ms)
# finds at least one item to replay: the time to it is a replay's, not the pace's
CANCEL_AFTER_TOKENS = (1, 5)
LEG_DEADLINE_S = 30.0  # one response read, at most


def chat_body(tokens: int, interval_ms: float) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "interval": interval_ms,
        "max_tokens": tokens,
    }


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def count_tokens(tokens: list[tuple[int, str]], expected: Sequence[str]) -> dict[str, int]:
    """What a reader assembled (seq, text) against the uninterrupted answer ``expected``:
    tokens lost (never received), repeated (received more than once), wrong (a text that is
    not the answer's at that seq) and whether the assembled text differs."""
    seqs = [seq for seq, _ in tokens]
    wrong = sum(1 for seq, text in tokens if seq >= len(expected) or expected[seq] != text)
    text = "".join(text for _, text in tokens)
    return {
        "lost": len(set(range(len(expected))) - set(seqs)),
        "repeated": len(seqs) - len(set(seqs)),
        "wrong": wrong,
        "text_unequal": int(text != "".join(expected)),
    }


async def cut_and_resume(
    start_url: str, other_url: str, index: int, rng: random.Random, expected: Sequence[str]
) -> dict[str, Any]:
    """Start one answer of ``len(expected)`` tokens on ``start_url``, cut it (FIN, RST,
    mid-event in turn) after a random number of tokens, wait a moment, resume it on
    ``other_url`` after its last whole event (``Last-Event-ID`` and ``?after=`` in turn);
    what the reader assembled against ``expected``, and the resume's times."""
    cut = CUTS[index % len(CUTS)]
    by_query = (index // len(CUTS)) % 2 == 1
    after_tokens = rng.randrange(len(expected))
    partial = rng.randint(1, MAX_PARTIAL_BYTES)
    wait_s = rng.uniform(*RESUME_WAIT_S)
    host, port = host_port(start_url)
    body = chat_body(len(expected), EXACT_INTERVAL_MS)
    first = await read_leg(
        host,
        port,
        post_request(host, port, body),
        LEG_DEADLINE_S,
        cut=cut,
        cut_after_tokens=after_tokens,
        partial_bytes=partial,
    )
    legs = [first]
    record: dict[str, Any] = {"cut": cut if first.cut else None, "after_tokens": after_tokens}
    record["resume_ms"] = None
    if first.cut and first.answer_id:
        await asyncio.sleep(wait_s)
        other_host, other_port = host_port(other_url)
        request = resume_request(other_host, other_port, first.answer_id, first.last_id, by_query)
        second = await read_leg(other_host, other_port, request, LEG_DEADLINE_S)
        legs.append(second)
        record["resume_status"] = second.status
        if second.t_first_item is not None and second.t_head is not None:
            record["resume_ms"] = (second.t_first_item - second.t_connect) * 1000.0
            record["resume_head_ms"] = (second.t_head - second.t_connect) * 1000.0
            if second.t_connected is not None:
                record["resume_connect_ms"] = (second.t_connected - second.t_connect) * 1000.0
    last = legs[-1]
    record["finished"] = last.done or (last.status == 204 and first.finish_reason is not None)
    record["errors"] = [leg.error for leg in legs if leg.error]
    if first.status != 200:
        record["errors"].append(f"start status {first.status}")
    if first.cut and not first.answer_id:
        record["errors"].append("no answer id before the cut")
    record.update(count_tokens([t for leg in legs for t in leg.tokens], expected))
    return record


async def start_and_cancel(
    start_url: str, other_url: str, rng: random.Random, tokens: int, interval_ms: float
) -> dict[str, Any]:
    """Start an answer of ``tokens`` tokens on ``start_url``; after a few tokens POST its
    cancel to ``other_url``; the time from that POST to the reader's cancelled chunk."""
    host, port = host_port(start_url)
    wanted = rng.randint(*CANCEL_AFTER_TOKENS)
    reached = asyncio.Event()
    seen: list[Leg] = []

    def on_token(leg: Leg) -> None:
        if len(leg.tokens) >= wanted and not seen:
            seen.append(leg)
            reached.set()

    body = chat_body(tokens, interval_ms)
    reader = asyncio.ensure_future(
        read_leg(host, port, post_request(host, port, body), LEG_DEADLINE_S, parser_hook=on_token)
    )
    waiter = asyncio.ensure_future(reached.wait())
    await asyncio.wait({reader, waiter}, timeout=LEG_DEADLINE_S, return_when="FIRST_COMPLETED")
    waiter.cancel()
    record: dict[str, Any] = {"errors": [], "cancel_ms": None}
    if not seen or seen[0].answer_id is None:
        leg = await reader
        record["errors"].append(leg.error or "the answer ended before the cancel")
        return record
    other_host, other_port = host_port(other_url)
    sent_at = time.time()
    try:
        status, answer = await send_cancel(other_host, other_port, seen[0].answer_id, 10.0)
    except (OSError, TimeoutError) as failure:
        status, answer = 0, None
        record["errors"].append(f"cancel: {type(failure).__name__}: {failure}")
    leg = await reader
    record["cancel_status"] = status
    record["cancel_answer"] = (answer or {}).get("status") if isinstance(answer, dict) else None
    if leg.cancelled_at is not None:
        record["cancel_ms"] = (leg.cancelled_at - sent_at) * 1000.0
    else:
        record["errors"].append("no cancelled chunk")
    if leg.error:
        record["errors"].append(leg.error)
    record["done"] = leg.done
    return record


async def read_answers(url: str, count: int, tokens: int, concurrency: int) -> list[Leg]:
    """``count`` answers of ``tokens`` tokens read whole, ``concurrency`` at a time."""
    host, port = host_port(url)
    request = post_request(host, port, chat_body(tokens, 1.0))
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Leg:
        async with gate:
            return await read_leg(host, port, request, LEG_DEADLINE_S)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def run_bounded(
    count: int,
    concurrency: int,
    one: Callable[[int], Any],
    deadline_s: float,
    note: Callable[[int], None],
) -> tuple[list[dict[str, Any]], list[float]]:
    """``one(i)`` for i < ``count``, ``concurrency`` at a time, all within ``deadline_s``
    (what is still running then is cancelled and recorded as an error); the results and the
    client loop's lags meanwhile (``LoopLag``)."""
    gate = asyncio.Semaphore(concurrency)
    results: list[dict[str, Any]] = []
    lag = LoopLag()

    async def guarded(index: int) -> None:
        async with gate:
            results.append(await one(index))
            note(len(results))

    tasks = [asyncio.ensure_future(guarded(i)) for i in range(count)]
    with lag:
        done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            results.append({"errors": [f"client: {task.exception()!r}"]})
    results += [{"errors": ["phase deadline"]} for _ in pending]
    return results, lag.lags_ms
