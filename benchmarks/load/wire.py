"""A lean HTTP/1.1 stream client: asyncio protocols, httptools (C) for the response, raw bytes
counted as they come off the socket. Many streams per process, several processes if asked.

Per stream it records TTFB (request sent → first body byte), wire bytes (body bytes read,
chunk-size lines included), and per message the latency (receive time − the payload's ``ts``).

One process opens at most its open-file limit of connections, and one loopback source address
at most one ephemeral port range of them (per destination): a plan's ``source_hosts`` spreads
its connections over several addresses (127.0.0.2, …) and ``run_plan_split`` over processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import gc
import multiprocessing
import os
import random
import resource
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

HEADER_END = b"\r\n\r\n"
# Linux: bind() picks no port; connect() picks one unique for the whole 4-tuple. Without it a
# bound socket takes a port of the source address for every destination, TIME_WAIT included.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


@dataclass
class StreamRecord:
    """What one stream did. Times are ``time.time()`` seconds; latencies in ms."""

    path: str
    status: int = 0
    t_connect: float = 0.0  # the connect started (after the plan's gate let it through)
    t_request: float = 0.0
    ttfb_s: float | None = None
    t_first_message: float | None = None
    t_end: float | None = None
    wire_bytes: int = 0
    body_bytes: int = 0
    messages: int = 0
    complete: bool = False
    error: str | None = None
    source: str | None = None  # the local address the connection came from
    requests: int = 0  # HTTP requests sent: 1 for a stream, one per answer for a poll
    request_bytes: int = 0  # their bytes (request line and headers)
    head_bytes: int = 0  # the responses' heads, status line to the blank line
    latencies_ms: list[float] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)


def parse_ts(line: bytes) -> float | None:
    """The ``ts`` of one line of any mode: JSON (``"ts":``) or plain text (``tick seq ts``)."""
    at = line.find(b'"ts":')
    if at >= 0:
        end = at + 5
        stop = line.find(b",", end)
        if stop < 0:
            stop = line.find(b"}", end)
        return float(line[end:stop])
    if line.startswith(b"tick "):
        return float(line.split(b" ", 3)[2])
    return None


class RecordProtocol(asyncio.Protocol):
    """What ``run_plan`` needs of a client protocol: ``done`` once the connection is lost,
    ``transport`` to close at the hold's end, and the stream's ``record``."""

    record: StreamRecord
    done: asyncio.Future[None]
    transport: asyncio.Transport | None
    head: bytes  # the response head read so far (b"" once it is whole)
    head_done: bool

    def count_read(self, data: bytes) -> None:
        """Count a read's bytes: a response head's apart (``head_bytes``) until its blank
        line, everything after it as ``wire_bytes``. Set ``head_done = False`` for the next
        response on a kept-alive connection."""
        record = self.record
        if self.head_done:
            record.wire_bytes += len(data)
            return
        self.head += data
        end = self.head.find(HEADER_END)
        if end >= 0:
            self.head_done = True
            record.head_bytes += end + 4
            record.wire_bytes += len(self.head) - end - 4
            self.head = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.record.t_end is None:
            self.record.t_end = time.time()
        if not self.done.done():
            self.done.set_result(None)

    def fail(self, reason: str) -> None:
        self.record.error = reason
        if self.transport is not None:
            self.transport.abort()


class StreamProtocol(RecordProtocol):
    """Reads one response; with ``latency=True`` splits the body into lines and times each ts."""

    def __init__(self, request: bytes, record: StreamRecord, latency: bool, keep: bool) -> None:
        self.request = request
        self.record = record
        self.latency = latency
        self.keep = keep  # keep every latency (False: count messages only)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.parser = httptools.HttpResponseParser(self)
        self.head = b""
        self.head_done = False
        self.carry = b""
        self.now = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.record.t_request = time.time()
        self.record.requests += 1
        self.record.request_bytes += len(self.request)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.now = time.time()
        self.count_read(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.fail(f"bad HTTP: {error}")

    def on_headers_complete(self) -> None:
        self.record.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        record = self.record
        if record.ttfb_s is None:
            record.ttfb_s = self.now - record.t_request
        record.body_bytes += len(body)
        if not self.latency:
            return
        lines = (self.carry + body).split(b"\n")
        self.carry = lines.pop()
        for line in lines:
            ts = parse_ts(line) if line else None
            if ts is None:
                continue
            if record.messages == 0:
                record.t_first_message = self.now
            record.messages += 1
            if self.keep:
                record.latencies_ms.append(self.now * 1000.0 - ts)
                record.received_at.append(self.now)

    def on_message_complete(self) -> None:
        self.record.complete = True
        self.record.t_end = self.now
        if self.transport is not None:
            self.transport.close()


def open_stream(host: str, record: StreamRecord, plan: Plan) -> RecordProtocol:
    """The protocol reading one HTTP stream response (sse, ndjson, chunked, …)."""
    request = f"GET {record.path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    return StreamProtocol(request.encode(), record, plan.latency, plan.keep)


@dataclass(frozen=True, slots=True)
class Plan:
    """Streams to open: every ``path`` on ``url``, started ``ramp_s`` apart in all, each
    given up after ``deadline_s`` from the plan's start (or ``hold_s`` if it is still open)."""

    url: str
    paths: tuple[str, ...]
    ramp_s: float = 0.0
    deadline_s: float = 60.0
    hold_s: float | None = None  # close every stream this long after the last one opened
    # True: the hold starts when the last connect has finished (bounded by the deadline), so a
    # client that falls behind its ramp still holds every stream ``hold_s``. False: at
    # ``ramp_s`` + ``jitter_s`` after the start, as scheduled.
    hold_after_connects: bool = False
    latency: bool = True
    keep: bool = True
    max_connecting: int = 256
    # Added to each start, uniformly at random (seeded): spreads the streams' phases over the
    # interval. Evenly stepped starts whose step divides the interval would line streams up
    # into bursts that measure the client's queue instead of the server.
    jitter_s: float = 0.0
    # Local addresses to connect from, in turn (empty: the kernel's choice, 127.0.0.1).
    source_hosts: tuple[str, ...] = ()
    # (host:port, record, plan) → the protocol reading one stream: ``open_stream`` (HTTP),
    # ``ws.open_ws``, ``poll.open_poll``. A module-level function, so a plan pickles to a
    # client process.
    opener: Callable[[str, StreamRecord, Plan], RecordProtocol] = open_stream


def loopback_sources(count: int, first: int = 2) -> tuple[str, ...]:
    """``count`` loopback addresses from 127.0.0.<first> on (all of 127/8 is loopback on
    Linux), carrying over into the third octet: 127.0.0.2, …, 127.0.0.254, 127.0.1.1, …"""
    hosts = []
    for n in range(first, first + count):
        third, fourth = divmod(n - 1, 254)
        if third > 255:
            raise ValueError(f"more loopback addresses than 127.0.x.y holds: {count}")
        hosts.append(f"127.0.{third}.{fourth + 1}")
    return tuple(hosts)


def cycle_sources(hosts: tuple[str, ...]) -> Iterator[str | None]:
    """Source addresses in turn for successive connections; None for ever when there are none."""
    index = 0
    while True:
        yield hosts[index % len(hosts)] if hosts else None
        index += 1


async def connect_from(host: str, port: int, source: str | None) -> socket.socket:
    """A connected non-blocking TCP socket to ``host:port``, bound to ``source`` if given."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if source is not None:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_protocol(
    host: str, port: int, source: str | None, protocol: asyncio.Protocol
) -> socket.socket:
    """``connect_from``, then ``protocol`` reads and writes the connection; the socket."""
    sock = await connect_from(host, port, source)
    await asyncio.get_running_loop().create_connection(lambda: protocol, sock=sock)
    return sock


def raise_fd_limit() -> int:
    """Lift this process's soft RLIMIT_NOFILE to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def run_plan(plan: Plan) -> list[StreamRecord]:
    """Open the plan's streams and read them until each ends, the hold ends or the deadline."""
    parts = urlsplit(plan.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    start = loop.time()
    gate = asyncio.Semaphore(plan.max_connecting)
    records = [StreamRecord(path) for path in plan.paths]
    jitter = random.Random(len(records))
    offsets = [
        (plan.ramp_s * i / len(records) if len(records) > 1 else 0.0)
        + jitter.uniform(0.0, plan.jitter_s)
        for i in range(len(records))
    ]
    protocols: list[RecordProtocol] = []
    sources = cycle_sources(plan.source_hosts)
    pending_connects = len(records)
    connects_done = asyncio.Event()

    def connect_done() -> None:
        nonlocal pending_connects
        pending_connects -= 1
        if pending_connects == 0:
            connects_done.set()

    async def one(index: int, record: StreamRecord) -> None:
        if offsets[index]:
            await asyncio.sleep(max(0.0, start + offsets[index] - loop.time()))
        protocol = plan.opener(f"{host}:{port}", record, plan)
        async with gate:
            record.t_connect = time.time()
            source = next(sources)
            try:
                sock = await connect_protocol(host, port, source, protocol)
                record.source = "{}:{}".format(*sock.getsockname()[:2])
            except OSError as error:
                record.error = f"connect: {error}"
                return
            finally:
                connect_done()
        protocols.append(protocol)
        await protocol.done

    tasks = [asyncio.ensure_future(one(i, r)) for i, r in enumerate(records)]
    everything = asyncio.gather(*tasks)
    timeout = plan.deadline_s
    if plan.hold_s is not None and plan.hold_after_connects:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connects_done.wait(), plan.deadline_s)
        timeout = min(plan.deadline_s - (loop.time() - start), plan.hold_s)
    elif plan.hold_s is not None:
        timeout = min(timeout, plan.ramp_s + plan.jitter_s + plan.hold_s)
    try:
        await asyncio.wait_for(asyncio.shield(everything), max(0.0, timeout))
    except TimeoutError:
        closing = time.time()
        for record in records:
            if record.t_end is None:
                record.t_end = closing  # the hold (or deadline) ended here, not at teardown
        for protocol in protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(everything, return_exceptions=True)
    for record in records:
        if record.complete or record.error is not None:
            continue
        if plan.hold_s is None:
            record.error = "deadline"
        elif not record.t_request:  # still waiting to connect (or for a place to) at the close
            record.error = "not connected when the hold ended"
        elif not record.status:
            record.error = "no response when the hold ended"
    return records


def run_plan_in_process(
    plan: Plan, cpus: tuple[int, ...] | None
) -> tuple[list[StreamRecord], float]:
    """Run a plan in this process (pinned to ``cpus``); return records and CPU seconds used."""
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    raise_fd_limit()
    # A full collection over many records would stall the loop for milliseconds and show up
    # as latency that the server did not cause; the client's garbage is acyclic anyway.
    gc.collect()
    gc.disable()
    before = time.process_time()
    try:
        records = asyncio.run(run_plan(plan))
    finally:
        gc.enable()
    return records, time.process_time() - before


def run_plan_split(
    plan: Plan, processes: int, cpus: tuple[int, ...] | None
) -> tuple[list[StreamRecord], float]:
    """Run a plan across ``processes`` client processes (fork), each with its share of the
    paths and of ``max_connecting``; records grouped by process."""
    if processes <= 1:
        return run_plan_in_process(plan, cpus)
    shares = [plan.paths[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(run_plan_in_process, _share(plan, share, processes), cpus)
            for share in shares
            if share
        ]
        results = [future.result() for future in futures]
    records: list[StreamRecord] = []
    for part, _ in results:
        records += part
    return records, sum(cpu for _, cpu in results)


def _share(plan: Plan, paths: tuple[str, ...], processes: int) -> Plan:
    """One process's part of a plan: the same ramp window, interleaved with the others, and
    its share of the connecting limit (so all processes together keep the plan's bound)."""
    # replace(), not a new Plan field by field: a field added later cannot be left out.
    return dataclasses.replace(
        plan, paths=paths, max_connecting=max(1, plan.max_connecting // processes)
    )
