"""The broadcast hub: one publisher POSTing ``/chat/send`` at a fixed rate to one room, N
subscribers on ``GET /chat/events?room=R``; per configuration publish-to-receive latency
p50/p99/max (receive time − the message's ``ts``), whether every subscriber received every
message (missing, duplicated), deliveries per second, server CPU per delivery and server RSS
per idle subscriber.

Configurations: the memory broker on one worker with 1,000 and 10,000 subscribers; the Redis
broker (a ``redis-server`` started here on a free 127.0.0.1 port, no persistence, stopped by
PID) with 4 workers and 20,000 subscribers, spread over several client processes (each may
open at most 20,000 files) and loopback source addresses.

    python -m benchmarks.hub [--quick] [--runs N] [--messages 20] [--rate 1]
        [--out results/latest/hub.json]

``ts`` is the publish time the server stamps (``time.time()`` in the worker, epoch ms) and
the receive time is the client's ``time.time()``: one machine, one clock (CLOCK_REALTIME).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.floor import CONNECTIONS as FLOOR_CONNECTIONS
from benchmarks.floor import measure_floor
from benchmarks.infra import procfs
from benchmarks.infra.harness import (
    CLIENT_CPU,
    RESULTS_DIR,
    SERVER_CPU,
    Target,
    add_common_args,
    client_cpus,
    pinning_wanted,
    progress,
    write_result,
)
from benchmarks.infra.hub_redis import run_redis
from benchmarks.load.hub_client import REPORT_PERIOD_S, Subscriber, SubscriberPlan, SubscriberPool
from benchmarks.load.wire import loopback_sources
from benchmarks.report.hub import print_tables, summarize_runs
from benchmarks.report.stats import percentile, summarize

__all__ = ["main", "Config", "CONFIGS", "QUICK_CONFIGS"]


@dataclass(frozen=True)
class Config:
    """One measured configuration: broker (``memory`` or ``redis``), workers, subscribers."""

    broker: str
    workers: int
    subscribers: int

    @property
    def label(self) -> str:
        return f"{self.broker}-{self.subscribers}x{self.workers}"


CONFIGS = (Config("memory", 1, 1000), Config("memory", 1, 10_000), Config("redis", 4, 20_000))
QUICK_CONFIGS = (Config("memory", 1, 200), Config("memory", 1, 500), Config("redis", 4, 1000))
MESSAGES = 20  # published per configuration and run
QUICK_MESSAGES = 5
RATE_PER_S = 1.0  # the publisher's fixed rate
QUICK_RATE_PER_S = 5.0
CONNECT_PER_S = 1000.0  # subscribers joining per second
QUICK_CONNECT_PER_S = 2000.0
SUBSCRIBERS_PER_CLIENT = 10_000  # per client process, under its 20,000 open files
SUBSCRIBERS_PER_SOURCE = 20_000  # per loopback source address, under its ephemeral ports
JOIN_SLACK_S = 20.0  # after the ramp, every subscriber must have joined within this
QUIET_SHARE = 0.05  # the workers count as settled below this share of a core…
QUIET_MAX_S = 30.0  # …or after this long
QUICK_QUIET_MAX_S = 3.0
DRAIN_S = 10.0  # after the last publish, every delivery must have arrived within this
PUBLISH_TIMEOUT_S = 10.0
FLOOR_ROUNDS = 10  # fan-outs of the kernel floor (benchmarks.floor), before the configs
QUICK_FLOOR_ROUNDS = 3
RAW_QUANTILES = 1001  # latency order statistics kept per point (the plot's CDF)
TEXT = "hub benchmark message {}"


@dataclass
class Published:
    index: int
    status: int
    id: str | None
    sent_at: float
    ack_ms: float
    error: str | None = None


def publish_messages(
    url: str,
    room: str,
    count: int,
    rate: float,
    note: Callable[[str], None] | None = None,
    timeout_s: float = PUBLISH_TIMEOUT_S,
) -> list[Published]:
    """POST ``count`` messages to ``room`` at ``rate`` a second over one keep-alive
    connection (reopened when the server closed it); each one's status, id and round trip.
    A failed publish (no answer within ``timeout_s``, a refused connection) is recorded
    with status 0 and its error, and the run goes on."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    headers = {"Content-Type": "application/json"}
    start = time.monotonic()
    published: list[Published] = []
    try:
        for index in range(count):
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            body = json.dumps({"room": room, "user": "publisher", "text": TEXT.format(index)})
            sent_at = time.time()
            status, message_id, error = 0, None, None
            for _ in range(2):  # once more on a fresh connection if the server closed this one
                try:
                    connection.request("POST", "/chat/send", body, headers)
                    response = connection.getresponse()
                    answer = response.read()
                except (http.client.HTTPException, OSError) as failure:
                    connection.close()  # the next request opens a new one
                    error = f"{type(failure).__name__}: {failure}"
                    if isinstance(failure, TimeoutError):
                        break  # it may have been stored: do not post it twice
                    continue
                status, error = response.status, None
                message_id = json.loads(answer).get("id") if status == 202 else None
                break
            ack_ms = (time.time() - sent_at) * 1000.0
            published.append(Published(index, status, message_id, sent_at, ack_ms, error))
            if note is not None:
                note(f"published {index + 1}/{count}")
    finally:
        connection.close()
    return published


def warm_up(url: str, workers: int) -> None:
    """A few subscriptions and publishes before the baseline, so that the first request's
    imports and caches (and the Redis broker's reader) are not counted per subscriber."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    room = f"warm-{uuid.uuid4().hex[:8]}"
    for _ in range(2 * workers):
        connection = http.client.HTTPConnection(host, port, timeout=5.0)
        try:
            connection.request("GET", f"/chat/events?room={room}")
            response = connection.getresponse()
            if response.status == 200:
                response.fp.readline()  # the retry preamble: the subscription has joined
        finally:
            connection.close()
    # The closed subscriptions are noticed at their next writes: two messages.
    publish_messages(url, room, 2, 20.0)


def worker_cpu(target: Target) -> float | None:
    sample = target.worker_sample()
    return sample.cpu_s if sample else None


def wait_quiet(target: Target, max_s: float, period_s: float = 0.25) -> float:
    """Wait (at most ``max_s``) until the workers use under QUIET_SHARE of a core: joining
    wakes every subscriber of the room (presence), and that settles after the last join."""
    start = time.monotonic()
    last = worker_cpu(target)
    while time.monotonic() - start < max_s:
        time.sleep(period_s)
        now = worker_cpu(target)
        if last is None or now is None or (now - last) / period_s < QUIET_SHARE:
            break
        last = now
    return time.monotonic() - start


def check_deliveries(records: list[Subscriber], ids: list[str]) -> dict[str, int]:
    """Per subscriber, against the acknowledged ``ids`` in publish order: complete (exactly
    those, in order, once each), missing, duplicated and out-of-order deliveries."""
    position = {message_id: index for index, message_id in enumerate(ids)}
    complete = missing = duplicated = out_of_order = unexpected = 0
    for record in records:
        got = record.ids
        seen = set(got)
        missing += len(position.keys() - seen)
        duplicated += len(got) - len(seen)
        unexpected += len(seen - position.keys())
        order = [position[i] for i in got if i in position]
        out_of_order += any(b < a for a, b in zip(order, order[1:], strict=False))
        complete += got == ids
    return {
        "subscribers_complete": complete,
        "missing": missing,
        "duplicated": duplicated,
        "out_of_order_subscribers": out_of_order,
        "unexpected": unexpected,
    }


def fanout_ms(records: list[Subscriber]) -> list[float]:
    """Per message: the latency of its last delivery (publish → every subscriber has it)."""
    last: dict[str, float] = {}
    for record in records:
        for message_id, latency in zip(record.ids, record.latencies_ms, strict=True):
            if latency > last.get(message_id, -math.inf):
                last[message_id] = latency
    return list(last.values())


def quantiles(values: list[float], keep: int = RAW_QUANTILES) -> list[float]:
    """``keep`` order statistics of ``values`` (min to max): the distribution, in a few KiB."""
    ordered = sorted(values)
    if len(ordered) <= keep:
        return ordered
    return [percentile(ordered, 100.0 * i / (keep - 1)) for i in range(keep)]


def measure_config(
    target: Target,
    config: Config,
    args: argparse.Namespace,
    redis_pid: int | None,
    note: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """Subscribe ``config.subscribers`` to a new room, let the joins settle, read idle RSS,
    publish ``args.messages`` at ``args.rate``, wait for every delivery (bounded), and read
    what it cost."""
    n = config.subscribers
    room = f"bench-{uuid.uuid4().hex[:12]}"
    warm_up(target.url, config.workers)
    baseline = target.worker_sample()
    ramp_s = n / args.connect_rate
    publish_s = args.messages / args.rate
    plan = SubscriberPlan(
        url=target.url,
        path=f"/chat/events?room={room}",
        count=n,
        ramp_s=ramp_s,
        deadline_s=ramp_s + 2 * JOIN_SLACK_S + args.quiet_max + publish_s + DRAIN_S + 30.0,
        max_connecting=256,
        source_hosts=loopback_sources(max(1, math.ceil(n / SUBSCRIBERS_PER_SOURCE))),
    )
    processes = max(args.processes, math.ceil(n / SUBSCRIBERS_PER_CLIENT))
    cpu_start = worker_cpu(target)
    pool = SubscriberPool(plan, processes, client_cpus(args))
    try:

        def joining() -> bool:
            note(f"{config.label}: {pool.joined():,}/{n:,} joined")
            return pool.joined() >= n

        pool.wait_for(joining, ramp_s + JOIN_SLACK_S)
        join_s = time.monotonic() - pool.started
        cpu_joined = worker_cpu(target)
        note(f"{config.label}: {pool.joined():,}/{n:,} joined, settling")
        settle_s = wait_quiet(target, args.quiet_max)
        # A loaded machine may still be answering the last joins (each one wakes the room).
        pool.wait_for(joining, JOIN_SLACK_S)
        joined = pool.joined()  # the subscribers in the room when the first message goes
        idle = target.worker_sample()
        cpu_before = worker_cpu(target)
        client_before = pool.cpu_s()
        redis_before = procfs.cpu_seconds(redis_pid) if redis_pid else None
        t_publish = time.time()
        published = publish_messages(
            target.url, room, args.messages, args.rate, lambda text: note(f"{config.label}: {text}")
        )
        ids = [p.id for p in published if p.id is not None]
        pool.wait_for(lambda: pool.received() >= joined * len(ids), DRAIN_S)
        t_drained = time.time()
        cpu_after = worker_cpu(target)
        time.sleep(2 * REPORT_PERIOD_S)  # the client processes' last CPU report
        client_window_s = pool.cpu_s() - client_before
        redis_after = procfs.cpu_seconds(redis_pid) if redis_pid else None
    finally:
        records, client_cpu = pool.close()
    latencies = [x for r in records for x in r.latencies_ms]
    deliveries = len(latencies)
    last_receive = max((t for r in records for t in r.received_at), default=t_drained)
    window_s = last_receive - t_publish
    cpu_s = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    redis_s = (
        redis_after - redis_before if redis_after is not None and redis_before is not None else None
    )
    growth = idle.rss_bytes - baseline.rss_bytes if idle and baseline else None
    per_message = fanout_ms(records)  # in publish order
    fanout = summarize(per_message)
    errors: dict[str, int] = {}
    for record in records:
        if record.error:
            errors[record.error] = errors.get(record.error, 0) + 1
    return {
        "config": config.label,
        "broker": config.broker,
        "workers": config.workers,
        "subscribers": n,
        "client_processes": processes,
        "source_addresses": len(plan.source_hosts),
        "connect_per_s": args.connect_rate,
        "rate_per_s": args.rate,
        "status_200": sum(r.status == 200 for r in records),
        "joined": joined,
        "join_s": join_s,
        "settle_s": settle_s,
        "server_cpu_ms_per_join": (cpu_joined - cpu_start) / max(1, joined) * 1000.0
        if cpu_joined is not None and cpu_start is not None
        else None,
        "published": len(published),
        "acknowledged": len(ids),
        "publish_ack_p50_ms": summarize([p.ack_ms for p in published])["p50"],
        "publish_errors": sorted({p.error for p in published if p.error}),
        "deliveries": deliveries,
        "expected_deliveries": n * len(ids),
        **check_deliveries(records, ids),
        "errors": errors,
        "latency_ms": summarize(latencies),
        "fanout_ms": fanout,
        "fanout_per_message_ms": [round(x, 1) for x in per_message],
        "delivered_per_s": deliveries / window_s if window_s > 0 else None,
        # How fast one message reached all subscribers: the fan-out's own rate.
        "fanout_per_s": n / (fanout["p50"] / 1000.0) if fanout["p50"] > 0 else None,
        "server_cpu_s": cpu_s,
        "server_cpu_us_per_delivery": cpu_s / deliveries * 1e6 if cpu_s and deliveries else None,
        "server_cpu_share": cpu_s / window_s if cpu_s is not None and window_s > 0 else None,
        "redis_cpu_us_per_message": redis_s / len(ids) * 1e6
        if redis_s is not None and ids
        else None,
        "server_rss_baseline": baseline.rss_bytes if baseline else None,
        "server_rss_idle": idle.rss_bytes if idle else None,
        "rss_per_subscriber_bytes": growth / joined if growth is not None and joined else None,
        "client_cpu_s": client_cpu,
        # The subscribers' own cost per delivery (CPU 1): a client slower than the server
        # would show up as latency the server did not cause.
        "client_cpu_us_per_delivery": client_window_s / deliveries * 1e6 if deliveries else None,
        "raw_latency_ms": quantiles(latencies),
    }


@contextmanager
def hub_server(args: argparse.Namespace, config: Config) -> Iterator[tuple[Target, int | None]]:
    """``--url`` as given, or ``showcase serve`` with the configuration's broker and workers
    on a free port, pinned to CPU 0 with its redis-server; both stopped by PID after."""
    if args.url:
        settings = {"own": False, "url": args.url}
        yield Target(args.url.rstrip("/"), list(args.server_pid), settings), None
        return
    from showcase.tools.launcher import start_server

    cpu = SERVER_CPU if pinning_wanted(args) else None
    name = f"hub-{config.label}-{os.getpid()}-{time.time_ns()}"
    with (
        tempfile.TemporaryDirectory(prefix="hub-redis-") as workdir,
        _redis(config, workdir, cpu) as redis,
    ):
        env = {"SHOWCASE_BROKER": redis.url if redis else "memory"}
        # Every worker's pool stops accepting below its open-file limit, so a full worker
        # leaves the next subscriber to another one instead of failing it with EMFILE.
        connections = min(20_000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 500)
        log_path = RESULTS_DIR / "logs" / f"{name}.log"
        server = start_server(
            log_path, workers=config.workers, worker_connections=connections, env=env, cpu=cpu
        )
        try:
            settings = {
                "own": True,
                "workers": config.workers,
                "worker_class": "gevent",
                "worker_connections": connections,
                "broker": "redis" if redis else "memory",
                "redis_version": redis.version if redis else None,
                "server_cpu": cpu,
                "client_cpu": CLIENT_CPU if cpu is not None else None,
                "redis_cpu": cpu if redis else None,
            }
            yield Target(server.url, [server.pid], settings), redis.pid if redis else None
        finally:
            server.stop()
            if log_path.exists() and log_path.stat().st_size == 0:
                log_path.unlink()


@contextmanager
def _redis(config: Config, workdir: str, cpu: int | None) -> Iterator[Any]:
    if config.broker != "redis":
        yield None
        return
    with run_redis(Path(workdir), cpu) as redis:
        yield redis


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench hub", description=__doc__)
    add_common_args(parser, runs=1)
    parser.add_argument("--messages", type=int, help=f"per configuration ({MESSAGES})")
    parser.add_argument("--rate", type=float, help=f"messages/s published ({RATE_PER_S:g})")
    parser.add_argument("--connect-rate", type=float, help="subscribers joining per second")
    parser.add_argument("--processes", type=int, default=1, help="client processes (at least)")
    parser.add_argument(
        "--configs",
        help="BROKER-SUBSCRIBERSxWORKERS,… (default memory-1000x1,memory-10000x1,redis-20000x4)",
    )
    parser.add_argument("--quiet-max", type=float, help="s to wait for the joins to settle")
    return parser


def parse_configs(text: str) -> list[Config]:
    """``memory-1000x1,redis-20000x4`` → configurations."""
    configs = []
    for item in filter(None, text.split(",")):
        broker, _, rest = item.partition("-")
        subscribers, _, workers = rest.partition("x")
        if broker not in ("memory", "redis"):
            raise argparse.ArgumentTypeError(f"broker memory or redis, got {broker!r}")
        configs.append(Config(broker, int(workers or 1), int(subscribers)))
    return configs


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quick = args.quick
    args.messages = args.messages or (QUICK_MESSAGES if quick else MESSAGES)
    args.rate = args.rate or (QUICK_RATE_PER_S if quick else RATE_PER_S)
    args.connect_rate = args.connect_rate or (QUICK_CONNECT_PER_S if quick else CONNECT_PER_S)
    if args.quiet_max is None:
        args.quiet_max = QUICK_QUIET_MAX_S if quick else QUIET_MAX_S
    if args.configs:
        configs = parse_configs(args.configs)
    else:
        configs = list(QUICK_CONFIGS if quick else CONFIGS)
    cpus = client_cpus(args)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    runs: list[dict[str, Any]] = []
    servers: dict[str, Any] = {}
    with progress() as bar:
        task = bar.add_task("hub", total=args.runs * len(configs), note="kernel floor")
        pinned = pinning_wanted(args)
        floor = measure_floor(
            min(max(c.subscribers for c in configs), FLOOR_CONNECTIONS),
            QUICK_FLOOR_ROUNDS if quick else FLOOR_ROUNDS,
            SERVER_CPU if pinned else None,
            CLIENT_CPU if pinned else None,
        )
        for run in range(args.runs):
            points = []

            def note(text: str, run: int = run) -> None:
                bar.update(task, note=f"run {run + 1}: {text}")

            for config in configs:
                note(config.label)
                with hub_server(args, config) as (target, redis_pid):
                    servers[config.label] = target.settings
                    points.append(measure_config(target, config, args, redis_pid, note))
                bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs, floor)
    settings = {
        "configs": [c.label for c in configs],
        "messages": args.messages,
        "rate_per_s": args.rate,
        "connect_per_s": args.connect_rate,
        "quiet_max_s": args.quiet_max,
        "runs": args.runs,
        "quick": quick,
        "text_bytes": len(TEXT.format(0)),
    }
    first: dict[str, Any] = next(iter(servers.values()), {})
    server = {
        "own": not args.url,
        "server_cpu": first.get("server_cpu"),
        "client_cpu": first.get("client_cpu"),
        "configs": servers,
    }
    out = write_result("hub", args, settings, server, runs, summary)
    from rich.console import Console

    print_tables(summary, Console(width=160))
    if not args.no_plot:
        from benchmarks.report.hub_plots import plot_hub

        print(f"plot: {plot_hub(out)}")
    print(f"result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
