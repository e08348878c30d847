"""A chain of SSE relay servers for the relay benchmark, and what it measures on one: the
origin, then relay k reading relay k−1 through ``SHOWCASE_RELAY_SSE_URL``, one gevent worker
each on a free port (stopped by PID); paced streams through k hops and one hop at interval 0.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.infra import procfs
from benchmarks.infra.harness import RESULTS_DIR, SERVER_CPU, Target, client_cpus, pinning_wanted
from benchmarks.infra.measure import (
    CPU_SAMPLE_S,
    Sampler,
    measure_streams,
    steady_cpu,
    stream_path,
    wait_idle,
)
from benchmarks.load.wire import Plan
from benchmarks.report.conditions import NEW_STREAMS_CONNECTING, RAMP_CLIENTS_PER_S
from benchmarks.report.stats import summarize

HOP_ROUTE = "/relay/stream/sse"


@dataclass(frozen=True, slots=True)
class Hop:
    """Where a client reads through ``hops`` relays: ``url`` + ``route``; ``servers`` are
    the worker PIDs of each server of the chain up to it, origin first."""

    hops: int
    url: str
    route: str
    servers: tuple[tuple[int, ...], ...]
    relay: str = "showcase"  # or "bare": benchmarks/reference/bare_relay.py, the stack's own floor

    @property
    def key(self) -> str:
        """How its figures are keyed: ``"1"``, or ``"1-bare"`` for the bare relay."""
        return str(self.hops) if self.relay == "showcase" else f"{self.hops}-{self.relay}"

    @property
    def pids(self) -> list[int]:
        return sorted({pid for server in self.servers for pid in server})


@contextmanager
def open_chain(
    args: argparse.Namespace, depth: int, chat_interval_ms: float
) -> Iterator[tuple[list[Hop], dict[str, Any]]]:
    """The hops 0 … ``depth`` and the server settings; our own servers stopped by PID."""
    if args.url:
        url, pids = args.url.rstrip("/"), tuple(args.server_pid)
        given = [Hop(0, url, "/stream/sse", (pids,)), Hop(1, url, HOP_ROUTE, (pids,))]
        yield given[: depth + 1], {"own": False, "url": url, "chain": "one server"}
        return
    from showcase.tools.launcher import start_server

    cpu = SERVER_CPU if pinning_wanted(args) else None
    logs = RESULTS_DIR / "logs"
    stamp = f"{os.getpid()}-{time.time_ns()}"
    hops: list[Hop] = []
    upstreams: list[str] = []
    with ExitStack() as stack:
        for hop in range(depth + 1):
            env = {"SHOWCASE_CHAT_INTERVAL_MS": str(chat_interval_ms)}
            if hop:
                upstreams.append(hops[-1].url + hops[-1].route)
                env["SHOWCASE_RELAY_SSE_URL"] = upstreams[-1]
            server = start_server(logs / f"relay-{hop}-{stamp}.log", env=env, cpu=cpu)
            stack.callback(server.stop)
            route = HOP_ROUTE if hop else "/stream/sse"
            servers = (
                (*hops[-1].servers, tuple(server.worker_pids))
                if hops
                else (tuple(server.worker_pids),)
            )
            hops.append(Hop(hop, server.url, route, servers))
        yield (
            hops,
            {
                "own": True,
                "workers": 1,
                "worker_class": "gevent",
                "server_cpu": cpu,
                "client_cpu": 1 if cpu is not None else None,
                "chain": [hop.url + hop.route for hop in hops],
                "relay_upstreams": upstreams,
                "chat_interval_ms": chat_interval_ms,
            },
        )


@contextmanager
def open_bare_relay(args: argparse.Namespace, chain: Sequence[Hop]) -> Iterator[Hop | None]:
    """One hop through ``benchmarks/reference/bare_relay.py`` reading the chain's origin, on
    the same core and gunicorn settings; None with ``--no-bare``, ``--url`` or a chain of no
    relay."""
    if not args.bare or args.url or len(chain) < 2:
        yield None
        return
    from showcase.tools.launcher import start_server

    origin = chain[0]
    log = RESULTS_DIR / "logs" / f"bare-relay-{os.getpid()}-{time.time_ns()}.log"
    cpu = SERVER_CPU if pinning_wanted(args) else None
    env = {"BARE_RELAY_UPSTREAM": origin.url + origin.route}
    server = start_server(log, env=env, cpu=cpu, app="benchmarks.reference.bare_relay:app")
    try:
        servers = (*origin.servers, tuple(server.worker_pids))
        yield Hop(1, server.url, HOP_ROUTE, servers, relay="bare")
    finally:
        server.stop()


def measure_hop(hop: Hop, args: argparse.Namespace) -> dict[str, Any]:
    """``args.clients`` streams at ``args.interval`` through ``hop``: latency (receive − the
    origin's ts) and the server CPU of every hop's worker per event while all are open."""
    clients, interval = args.clients, args.interval
    ramp_s = (clients - 1) / RAMP_CLIENTS_PER_S
    count = max(2, math.ceil((args.duration + ramp_s) * 1000.0 / interval))
    plan = Plan(
        url=hop.url,
        paths=(stream_path(hop.route, count=count, interval=interval, size=0),) * clients,
        ramp_s=ramp_s,
        jitter_s=interval / 1000.0 if clients > 1 else 0.0,
        deadline_s=ramp_s + args.duration * 3 + 10.0,
    )
    target = Target(hop.url, hop.pids, {"own": False})
    with Sampler(target, CPU_SAMPLE_S) as sampler:
        measured = measure_streams(target, plan, client_cpus(args))
    records = measured.records
    latencies = [lat for r in records for lat in r.latencies_ms]
    firsts = [r.t_first_message for r in records if r.t_first_message is not None]
    ends = [r.t_end for r in records if r.t_end is not None]
    lo, hi = (max(firsts), min(ends)) if firsts and ends else (0.0, 0.0)
    steady = [
        lat
        for r in records
        for lat, at in zip(r.latencies_ms, r.received_at, strict=True)
        if lo < at < hi
    ]
    cpu = steady_cpu(sampler, records, lo, hi)
    ttfbs = [r.ttfb_s * 1000.0 for r in records if r.ttfb_s is not None]
    return {
        "hops": hop.hops,
        "relay": hop.relay,
        "key": hop.key,
        "clients": clients,
        "interval_ms": interval,
        "count": count,
        "expected_messages": count * clients,
        **measured.figures(),
        "latency_ms": summarize(latencies),
        "steady_latency_ms": summarize(steady),
        "steady_window_s": max(0.0, hi - lo),
        "ttfb_ms": summarize(ttfbs),
        "cpu_us_per_event": cpu["steady_cpu_us_per_message"],
        "cpu_share": cpu["steady_cpu_share"],
        "raw_latency_ms": [round(x, 3) for x in latencies],
    }


def servers_cpu_s(hop: Hop) -> list[float]:
    """The CPU seconds so far of each server on ``hop``'s path (its workers), origin first."""
    return [procfs.sample(list(server)).cpu_s for server in hop.servers]


def measure_throughput(hop: Hop, events: int, args: argparse.Namespace) -> dict[str, Any]:
    """One client reads ``events`` at interval 0 through ``hop``: events/s end to end and
    each server's CPU µs per event (origin first)."""
    path = stream_path(hop.route, count=events, interval=0, size=16)
    plan = Plan(url=hop.url, paths=(path,), deadline_s=120.0, keep=False)
    target = Target(hop.url, hop.pids, {"own": False})
    before = servers_cpu_s(hop)
    measured = measure_streams(target, plan, client_cpus(args))
    after = servers_cpu_s(hop)
    record = measured.records[0]
    span = (record.t_end or 0.0) - record.t_request
    messages = record.messages
    return {
        "hops": hop.hops,
        "relay": hop.relay,
        "key": hop.key,
        "events": events,
        **measured.figures(),
        "events_per_s": messages / span if span > 0 else math.nan,
        "server_cpu_us_per_event": [
            (b - a) / messages * 1e6 if messages else math.nan
            for a, b in zip(before, after, strict=True)
        ],
    }


def measure_new_streams(hop: Hop, streams: int, args: argparse.Namespace) -> dict[str, Any]:
    """``streams`` one-event streams through ``hop``, at most ``NEW_STREAMS_CONNECTING`` at a
    time: what starting (and ending) a stream costs each server of the chain, in CPU µs per
    stream, origin first. Through a relay that is the client's request, the relay's upstream
    connection and the origin's request: the work a ramp of new clients puts on the core."""
    path = stream_path(hop.route, count=1, interval=0, size=0)
    plan = Plan(
        url=hop.url,
        paths=(path,) * streams,
        max_connecting=NEW_STREAMS_CONNECTING,
        latency=False,
        deadline_s=120.0,
    )
    target = Target(hop.url, hop.pids, {"own": False})
    before = servers_cpu_s(hop)
    measured = measure_streams(target, plan, client_cpus(args))
    idle([hop])  # the last streams' ends are part of their cost
    after = servers_cpu_s(hop)
    complete = sum(1 for r in measured.records if r.status == 200 and r.complete)
    return {
        "hops": hop.hops,
        "relay": hop.relay,
        "key": hop.key,
        "streams": streams,
        "complete": complete,
        "streams_per_s": streams / measured.wall_s if measured.wall_s > 0 else math.nan,
        "server_cpu_us_per_stream": [
            (b - a) / streams * 1e6 for a, b in zip(before, after, strict=True)
        ],
    }


def idle(hops: Sequence[Hop]) -> None:
    for url in dict.fromkeys(hop.url for hop in hops):
        wait_idle(url)


def warm_up(hops: Sequence[Hop], args: argparse.Namespace) -> None:
    """Unmeasured: every client through the longest chain for a moment (the relays' first
    connections and greenlets are made here, not in a measurement)."""
    last = hops[-1]
    path = stream_path(last.route, count=3, interval=args.interval, size=0)
    plan = Plan(url=last.url, paths=(path,) * args.clients, ramp_s=0.2, deadline_s=30.0)
    measure_streams(Target(last.url, []), plan, client_cpus(args))
    idle(hops)
