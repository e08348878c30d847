"""One measured batch of streams: the client's records plus the server's and client's CPU and
the server's RSS around it, read from /proc."""

from __future__ import annotations

import math
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from benchmarks.infra.harness import Target
from benchmarks.load.wire import Plan, StreamRecord, run_plan_split
from showcase.tools.launcher import wait_for_health, wait_for_open_streams

IDLE_TIMEOUT_S = 15.0
CPU_SAMPLE_S = 0.1  # server CPU is read this often; the steady window spans many samples


@dataclass
class Measurement:
    records: list[StreamRecord]
    wall_s: float
    server_cpu_s: float | None
    client_cpu_s: float
    server_rss_before: int | None
    server_rss_after: int | None
    server_cpu_clock: str | None = None

    def figures(self) -> dict[str, Any]:
        """The batch-level raw figures for the JSON."""
        # A WebSocket's accepted handshake is its 101: the stream's 200.
        ok = [r for r in self.records if r.status in (200, 101)]
        return {
            "streams": len(self.records),
            "status_200": len(ok),
            "complete": sum(r.complete for r in self.records),
            "errors": sorted({r.error for r in self.records if r.error}),
            "messages": sum(r.messages for r in self.records),
            "wire_bytes": sum(r.wire_bytes for r in self.records),
            "body_bytes": sum(r.body_bytes for r in self.records),
            "wall_s": self.wall_s,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_clock": self.server_cpu_clock,
            "client_cpu_s": self.client_cpu_s,
            "client_cpu_share": self.client_cpu_s / self.wall_s if self.wall_s else None,
            "server_rss_before": self.server_rss_before,
            "server_rss_after": self.server_rss_after,
        }


def stream_path(route: str, **params: Any) -> str:
    """``/stream/sse?count=…`` from a route and the contract's parameters."""
    return f"{route}?{urllib.parse.urlencode(params)}"


def measure_streams(
    target: Target, plan: Plan, cpus: tuple[int, ...] | None, processes: int = 1
) -> Measurement:
    """Run ``plan`` against ``target``; sample the server's /proc before and after."""
    before = target.sample()
    start = time.perf_counter()
    records, client_cpu = run_plan_split(plan, processes, cpus)
    wall = time.perf_counter() - start
    after = target.sample()
    return Measurement(
        records=records,
        wall_s=wall,
        server_cpu_s=after.cpu_s - before.cpu_s if before and after else None,
        client_cpu_s=client_cpu,
        server_rss_before=before.rss_bytes if before else None,
        server_rss_after=after.rss_bytes if after else None,
        server_cpu_clock=after.clock if after else None,
    )


def wait_idle(url: str, timeout_s: float = IDLE_TIMEOUT_S) -> bool:
    """Wait (bounded) until the worker reports no open stream; False if it never did."""
    try:
        return wait_for_open_streams(url, lambda count: count == 0, timeout_s) == 0
    except requests.RequestException:
        return False


def wait_for_connections(url: str, count: int, timeout_s: float) -> int:
    """Poll ``/healthz`` (bounded) until the worker holds at least ``count`` connections besides
    the poll's own: streams of any route, counted or not in ``open_streams``; the last count."""
    polled = wait_for_health(url, "open_connections", lambda n: n - 1 >= count, timeout_s)
    return polled - 1


class Sampler:
    """Samples the server's CPU seconds and RSS every ``period_s`` in a thread (bounded).

    The thread runs in the client's process: ``cpu_s`` is its own CPU time, to take out of
    a client CPU figure measured with ``time.process_time`` around it.
    """

    def __init__(self, target: Target, period_s: float = 0.25, limit: int = 10_000) -> None:
        import threading

        self.target = target
        self.period_s = period_s
        self.limit = limit
        self.samples: list[tuple[float, float, int]] = []  # (time, cpu_s, worker rss)
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.thread_time()
        while not self._stop.is_set() and len(self.samples) < self.limit:
            sample = self.target.worker_sample()
            if sample is not None:
                self.samples.append((time.time(), sample.cpu_s, sample.rss_bytes))
            self.cpu_s = time.thread_time() - started
            self._stop.wait(self.period_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def between(self, start: float, end: float) -> list[tuple[float, float, int]]:
        return [s for s in self.samples if start <= s[0] <= end]


def steady_cpu(sampler: Sampler, records: Sequence[Any], lo: float, hi: float) -> dict[str, Any]:
    """Server CPU while every client is connected and none has finished: per paced message
    (µs) and as a share of a core. Connecting and closing are left out on purpose: they are
    the connect-storm benchmark's business, and would blur the cost of one paced message."""
    window = sampler.between(lo, hi)
    if len(window) < 2:
        return {"steady_cpu_share": math.nan, "steady_cpu_us_per_message": math.nan}
    (t0, cpu0, _), (t1, cpu1, _) = window[0], window[-1]
    messages = sum(t0 <= at <= t1 for r in records for at in r.received_at)
    return {
        "steady_cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "steady_cpu_us_per_message": (cpu1 - cpu0) / messages * 1e6 if messages else math.nan,
        "steady_cpu_messages": messages,
    }
