"""The hub benchmark's subscribers: many ``GET /chat/events`` streams per client process, each
recording the id, latency (receive time − the message's ``ts``) and arrival of every message.

A lean asyncio protocol (on uvloop when installed), not ``wire.StreamProtocol``: it needs
each message's id (to count missing and duplicated deliveries) and the moment the subscriber
joined (its first ``presence`` event), and a burst of one message to 10,000 streams is timed
best with as little client work per delivery as possible: a read is kept with its time, and
parsed after the run. It reads the SSE lines out of the chunked body
without decoding the chunking: the hub writes whole events per chunk, so chunk-size lines
never fall inside an event's lines, and only ``data: {"id":…`` lines are parsed.

Processes report how many of their streams joined and how many messages they received in a
shared array, so the benchmark knows when every subscriber is in and when every message is
out, and stops them through a shared event; every loop is bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from benchmarks.load.wire import connect_protocol, cycle_sources, raise_fd_limit

HEADER_END = b"\r\n\r\n"
MESSAGE_LINE = b'data: {"id":"'
PRESENCE_LINE = b"event: presence"
ERROR_LINE = b"event: error"
TAIL_BYTES = max(len(MESSAGE_LINE), len(PRESENCE_LINE)) - 1
REPORT_PERIOD_S = 0.05  # how often a process publishes its counts to the benchmark
FIELDS = 3  # per process in the shared counts: joined, messages received, CPU µs used


@dataclass(slots=True)
class Subscriber:
    """What one subscription saw. Times are ``time.time()`` seconds; latencies in ms."""

    status: int = 0
    error: str | None = None
    t_connect: float = 0.0
    t_joined: float | None = None  # its first presence event: the server had joined it
    ids: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SubscriberPlan:
    """``count`` subscriptions to ``path`` on ``url``, opened evenly over ``ramp_s``, from
    ``source_hosts`` in turn; all closed at the stop signal or ``deadline_s`` after the start."""

    url: str
    path: str
    count: int
    ramp_s: float = 0.0
    deadline_s: float = 60.0
    max_connecting: int = 256
    source_hosts: tuple[str, ...] = ()


def parse_message(line: bytes) -> tuple[str, float]:
    """The id and ``ts`` of a hub message's data line: ``data: {"id":"7",…,"ts":1.5e12}``."""
    start = len(MESSAGE_LINE)
    end = line.index(b'"', start)
    ts_at = line.rindex(b'"ts":') + 5
    return line[start:end].decode(), float(line[ts_at : line.index(b"}", ts_at)])


@dataclass(slots=True)
class Tally:
    """One process's running counts, kept by its protocols as they read: reporting them costs
    nothing per subscriber (summing 10,000 records every REPORT_PERIOD_S stalled the loop)."""

    joined: int = 0
    messages: int = 0


class SubscriberProtocol(asyncio.Protocol):
    """Reads one hub SSE stream: the status line, then every message's id and latency.

    While the stream is read, a read is only kept with its arrival time and its messages
    counted (one C call): a fan-out to 10,000 streams is read by one client core, and parsing
    each line as it came cost more than the server's write of it. ``finish`` parses the kept
    reads after the run, each line timed by the read that completed it.
    """

    def __init__(self, request: bytes, record: Subscriber, tally: Tally | None = None) -> None:
        self.request = request
        self.record = record
        self.tally = tally if tally is not None else Tally()
        self.head = b""
        self.head_done = False
        self.reads: list[tuple[float, bytes]] = []
        self.tail = b""
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.head_done:
            self.head += data
            end = self.head.find(HEADER_END)
            if end < 0:
                return
            self.head_done = True
            try:
                self.record.status = int(self.head[9:12])
            except ValueError:
                self.record.error = "bad status line"
            data, self.head = self.head[end + 4 :], b""
        self.reads.append((now, data))
        # With the last bytes of the previous read, so a line cut between two reads is found;
        # one wholly in those bytes was counted with the previous read.
        seen = self.tail + data
        self.tally.messages += seen.count(MESSAGE_LINE) - self.tail.count(MESSAGE_LINE)
        if self.record.t_joined is None and PRESENCE_LINE in seen:
            self.record.t_joined = now
            self.tally.joined += 1
        self.tail = seen[-TAIL_BYTES:]

    def finish(self) -> None:
        """Parse the kept reads into the record (ids, latencies, arrival times, errors)."""
        record, carry = self.record, b""
        for now, data in self.reads:
            lines = (carry + data).split(b"\n")
            carry = lines.pop()
            for line in lines:
                if line.startswith(MESSAGE_LINE):
                    message_id, ts = parse_message(line)
                    record.ids.append(message_id)
                    record.latencies_ms.append(now * 1000.0 - ts)
                    record.received_at.append(now)
                elif line == ERROR_LINE:
                    record.error = "event: error"  # the broker failed; the data line says why
                elif line.startswith(b"data: ") and record.error == "event: error":
                    record.error = f"event: error {line[6:200].decode(errors='replace')}"
        self.reads = []

    def eof_received(self) -> bool | None:
        if self.record.error is None:
            self.record.error = "closed by the server"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def hold_subscribers(plan: SubscriberPlan, report: Any, stop: Any) -> list[Subscriber]:
    """Open the plan's subscriptions and hold them until ``stop`` is set or the deadline;
    ``report(joined, messages)`` is called every REPORT_PERIOD_S with this process's counts."""
    parts = urlsplit(plan.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    start = loop.time()
    gate = asyncio.Semaphore(plan.max_connecting)
    records = [Subscriber() for _ in range(plan.count)]
    tally = Tally()
    protocols: list[SubscriberProtocol] = []
    sources = cycle_sources(plan.source_hosts)
    request = (
        f"GET {plan.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    async def one(index: int, record: Subscriber) -> None:
        offset = plan.ramp_s * index / plan.count
        await asyncio.sleep(max(0.0, start + offset - loop.time()))
        protocol = SubscriberProtocol(request, record, tally)
        async with gate:
            record.t_connect = time.time()
            try:
                await connect_protocol(host, port, next(sources), protocol)
            except OSError as error:
                record.error = f"connect: {error}"
                return
        protocols.append(protocol)
        await protocol.closed

    tasks = [asyncio.ensure_future(one(i, r)) for i, r in enumerate(records)]
    while not stop.is_set() and loop.time() - start < plan.deadline_s:
        report(tally.joined, tally.messages)
        await asyncio.sleep(REPORT_PERIOD_S)
    for protocol in protocols:
        if protocol.transport is not None:
            protocol.transport.close()
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for protocol in protocols:
        protocol.finish()
    for record in records:
        if record.status == 0 and record.error is None:
            record.error = "no answer"
    return records


def loop_factory() -> Any:
    """uvloop's event loop when it is installed (the bench extra): its C read path costs a
    subscriber about half of what asyncio's does per delivery, and a fan-out to 10,000 streams
    is read by one client core; else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# Set in each client process by the pool's initializer: fork hands them down, they are never
# pickled (a shared array and an event cannot be).
_SHARED: dict[str, Any] = {}


def _init_process(counts: Any, stop: Any, cpus: tuple[int, ...] | None) -> None:
    _SHARED.update(counts=counts, stop=stop)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    raise_fd_limit()


def run_share(plan: SubscriberPlan, slot: int) -> tuple[list[Subscriber], float]:
    """One client process's subscriptions (``slot``: its place in the shared counts)."""
    counts, stop = _SHARED["counts"], _SHARED["stop"]

    def report(joined: int, messages: int) -> None:
        counts[FIELDS * slot] = joined
        counts[FIELDS * slot + 1] = messages
        counts[FIELDS * slot + 2] = int(time.process_time() * 1e6)

    # A full collection over many records would stall the loop and show up as latency.
    gc.collect()
    gc.disable()
    before = time.process_time()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            records = runner.run(hold_subscribers(plan, report, stop))
    finally:
        gc.enable()
    return records, time.process_time() - before


class SubscriberPool:
    """``processes`` client processes (fork), each holding its share of ``plan``; the counts
    they report, a stop for all of them, and their records (every wait bounded)."""

    def __init__(self, plan: SubscriberPlan, processes: int, cpus: tuple[int, ...] | None) -> None:
        context = multiprocessing.get_context("fork")
        processes = max(1, min(processes, plan.count))
        self.counts = context.Array("q", FIELDS * processes, lock=False)
        self.stop_event = context.Event()
        self.started = time.monotonic()
        self.deadline_s = plan.deadline_s
        self.pool = concurrent.futures.ProcessPoolExecutor(
            processes,
            mp_context=context,
            initializer=_init_process,
            initargs=(self.counts, self.stop_event, cpus),
        )
        shares = [plan.count // processes + (i < plan.count % processes) for i in range(processes)]
        self.futures = [
            self.pool.submit(run_share, share_plan(plan, count, processes), slot)
            for slot, count in enumerate(shares)
        ]

    def joined(self) -> int:
        return sum(self.counts[0::FIELDS])

    def received(self) -> int:
        return sum(self.counts[1::FIELDS])

    def cpu_s(self) -> float:
        """CPU seconds the client processes have used so far (as last reported)."""
        return float(sum(self.counts[2::FIELDS])) / 1e6

    def wait_for(self, check: Any, timeout_s: float, period_s: float = 0.05) -> bool:
        """Poll ``check()`` until true or ``timeout_s``; False on timeout or a failed process."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline or any(f.done() for f in self.futures):
                return bool(check())
            time.sleep(period_s)
        return True

    def close(self) -> tuple[list[Subscriber], float]:
        """Stop every subscription; their records and the client processes' CPU seconds."""
        self.stop_event.set()
        records: list[Subscriber] = []
        cpu_s = 0.0
        try:
            for future in self.futures:
                part, cpu = future.result(timeout=self.deadline_s + 30.0)
                records += part
                cpu_s += cpu
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return records, cpu_s


def share_plan(plan: SubscriberPlan, count: int, processes: int) -> SubscriberPlan:
    """One process's part: ``count`` subscriptions over the same ramp, with its share of the
    connecting limit (all processes together keep the plan's bound)."""
    return SubscriberPlan(
        url=plan.url,
        path=plan.path,
        count=count,
        ramp_s=plan.ramp_s,
        deadline_s=plan.deadline_s,
        max_connecting=max(1, plan.max_connecting // processes),
        source_hosts=plan.source_hosts,
    )
