"""EventSource-like clients for the restart benchmark: asyncio sockets, each reading one SSE
stream, reconnecting after the server's last ``retry:`` (a default before it sent one) with
``Last-Event-ID``, as WHATWG HTML §9.2 says; spread over a few forked processes.

Each client keeps every id it received, the moments it connected (TCP established and the
response head read) and whether its streams ended with the ``: server restarting`` notice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load.wire import raise_fd_limit
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, ChunkedError
from showcase.pure.framing.sse import SSEParser

RESTART_NOTICE = b": server restarting"
CONNECT_TIMEOUT_S = 10.0
HEAD_BYTES = 16 * 1024


@dataclass(frozen=True)
class Follow:
    """What every client of one process does: where, which stream, until when."""

    host: str
    port: int
    path: str
    count: int  # the stream's messages: a client stops after id count − 1
    clients: int
    ramp_s: float
    deadline_s: float  # monotonic: every client gives up then
    default_retry_ms: int
    seed: int


@dataclass
class ClientLog:
    """One client's history: ids in arrival order; per connection, its connect time, head
    time, end time (monotonic s) and events, and the retry waited after it; the streams
    that ended with the restart notice."""

    ids: list[int] = field(default_factory=list)
    connected_at: list[float] = field(default_factory=list)
    head_at: list[float] = field(default_factory=list)
    ended_at: list[float] = field(default_factory=list)
    waited_ms: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)  # per connection
    notices: int = 0
    errors: list[str] = field(default_factory=list)
    finished: bool = False  # received id count − 1 (or an answer other than 200)

    def check(self, count: int) -> dict[str, int | bool]:
        """Lost and repeated messages against the expected ids 0 … count − 1."""
        seen: set[int] = set()
        repeats = 0
        for seq in self.ids:
            repeats += seq in seen
            seen.add(seq)
        return {
            "exact": self.ids == list(range(count)),
            "lost": count - len(seen & set(range(count))),
            "repeated": repeats,
            "out_of_order": sum(b <= a for a, b in zip(self.ids, self.ids[1:], strict=False)),
        }


async def read_head(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > HEAD_BYTES:
        raise ValueError("response head too large")
    return int(head.split(b" ", 2)[1])


async def one_connection(follow: Follow, log: ClientLog, parser: SSEParser) -> bool:
    """Read one connection's events into ``log``; True when nothing is left to read."""
    headers = f"GET {follow.path} HTTP/1.1\r\nHost: {follow.host}:{follow.port}\r\n"
    headers += "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
    if parser.last_event_id:
        headers += f"Last-Event-ID: {parser.last_event_id}\r\n"
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(follow.host, follow.port), CONNECT_TIMEOUT_S
    )
    log.connected_at.append(time.monotonic())
    before = len(log.ids)
    try:
        writer.write((headers + "\r\n").encode())
        status = await read_head(reader)
        log.head_at.append(time.monotonic())
        if status == 204:
            return True  # §9.2.3: nothing left after Last-Event-ID
        if status != 200:
            log.errors.append(f"status {status}")
            return True
        decoder = ChunkedDecoder()
        tail = b""
        while data := await reader.read(65536):
            tail = (tail + data)[-64:]
            for piece in decoder.feed(data):
                if isinstance(piece, Chunk):
                    for event in parser.feed(piece.data):
                        log.ids.append(int(event.id))
            if log.ids and log.ids[-1] == follow.count - 1:
                return True
            if decoder.done:
                break
        log.notices += RESTART_NOTICE in tail
        parser.close()
        return False
    finally:
        log.ended_at.append(time.monotonic())
        log.events.append(len(log.ids) - before)
        writer.close()


async def follow_stream(follow: Follow, log: ClientLog, start_at: float) -> None:
    """Connect at ``start_at``, then read and reconnect until done or the deadline."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    parser = SSEParser()
    while time.monotonic() < follow.deadline_s:
        try:
            if await one_connection(follow, log, parser):
                log.finished = True
                return
        except (OSError, asyncio.IncompleteReadError, ChunkedError, ValueError) as error:
            log.errors.append(type(error).__name__)
            parser.close()
        except TimeoutError:
            log.errors.append("connect timeout")
        wait_ms = follow.default_retry_ms if parser.retry is None else parser.retry
        log.waited_ms.append(wait_ms)
        await asyncio.sleep(wait_ms / 1000.0)


async def run_clients(follow: Follow) -> list[ClientLog]:
    logs = [ClientLog() for _ in range(follow.clients)]
    rng = random.Random(follow.seed)
    now = time.monotonic()
    tasks = [
        asyncio.ensure_future(follow_stream(follow, log, now + rng.uniform(0, follow.ramp_s)))
        for log in logs
    ]
    remaining = follow.deadline_s - time.monotonic() + 1.0
    done, pending = await asyncio.wait(tasks, timeout=max(0.1, remaining))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return logs


def run_in_process(follow: Follow) -> list[dict[str, Any]]:
    raise_fd_limit()
    logs = asyncio.run(run_clients(follow))
    return [{**vars(log), **log.check(follow.count)} for log in logs]


def start_clients(
    follow: Follow, processes: int
) -> tuple[concurrent.futures.ProcessPoolExecutor, list[concurrent.futures.Future[Any]]]:
    """Fork ``processes`` client processes sharing ``follow.clients`` between them; the
    caller collects the futures (each a list of client records) and shuts the pool down."""
    context = multiprocessing.get_context("fork")
    pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context)
    futures = []
    for index in range(processes):
        share = follow.clients // processes + (index < follow.clients % processes)
        if share:
            mine = Follow(**{**vars(follow), "clients": share, "seed": follow.seed + index})
            futures.append(pool.submit(run_in_process, mine))
    return pool, futures
