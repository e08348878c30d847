"""Held streams: how many concurrent SSE streams one worker and this machine hold, what stops
them, and how fast a storm of new ones gets its first message.

- levels: 1,000, 5,000 and 10,000 streams on one worker, a message every ``--interval`` (1 s),
  opened at ``--connect-rate`` (1,000/s);
- storm: 10,000 clients connecting at most 200 at a time (a TCP connect holds one of the 200
  places until it completes) while 1,000 streams flow at one message a second: the time from
  the first connect to the last stream's first message;
- capacity: 19,000 streams on one worker and 75,000 on 4 workers, a message every 10 s,
  opened at ``--capacity-rate`` (600/s) from several client processes and loopback source
  addresses; once, in the first run: they take minutes.

The storm and the largest level also run against two references on the same gunicorn settings
and worker (``--against``): the tutorial Flask generator (``/baseline/sse``) and a bare WSGI app
with no Flask (``benchmarks/reference/bare_wsgi.py``), what gunicorn and gevent cost by
themselves; and the showcase's own ``/ws`` (the same stream over a WebSocket, read by
benchmarks/load/ws.py); their rows are keyed ``"10000-bare"``, ``"storm-10000-tutorial"``,
``"10000-ws"`` and so on. ``--against poll`` (not by default) holds long polls instead
(``wait`` 25 s, benchmarks/load/poll.py): at an ``--interval`` above the wait, clients that
wait, poll again after an empty answer, and get each message when it is due.

Each reports got first message, kept receiving (no silence over two intervals), worker RSS
per stream, worker CPU while held (share of a core, and µs per message received), time to
first message (connect → first message) p50/p95/max, and errors by kind. The summary is
keyed by scenario: ``"10000"`` (a level), ``"storm-10000"``, ``"capacity-75000x4"``, each row
with its ``scenario``. Naming ``--levels`` runs only the scenarios named on the command line.

    showcase bench held_streams [--quick] [--url URL] [--runs 3] [--levels 1000,10000]
        [--interval 10000] [--storm 10000] [--capacity 19000x1,75000x4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from benchmarks.floor import CONNECTIONS as FLOOR_CONNECTIONS
from benchmarks.floor import measure_paced_floor
from benchmarks.infra import capacity
from benchmarks.infra.capacity import FdSampler, open_workers, read_limits
from benchmarks.infra.harness import (
    CLIENT_CPU,
    SERVER_CPU,
    add_common_args,
    client_cpus,
    open_target,
    pinning_wanted,
    progress,
    report,
)
from benchmarks.infra.measure import Sampler, stream_path, wait_for_connections, wait_idle
from benchmarks.load.poll import open_poll
from benchmarks.load.wire import (
    Plan,
    RecordProtocol,
    StreamRecord,
    loopback_sources,
    open_stream,
    run_plan_in_process,
    run_plan_split,
)
from benchmarks.load.ws import open_ws
from benchmarks.report.capacity import is_reference
from benchmarks.report.stats import median, summarize
from benchmarks.report.tables import fmt, number_table

LEVELS = (1000, 5000, 10000)
QUICK_LEVELS = (200, 1000)
CAPACITY = ((19000, 1), (75000, 4))
QUICK_CAPACITY = ((1000, 2),)
INTERVAL_MS = 1000.0
CAPACITY_INTERVAL_MS = 10_000.0  # a message every 10 s: memory and descriptors limit, not CPU
CONNECT_PER_S = 1000.0  # ramp: new streams per second (the worker also serves the open ones)
HOLD_S = 5.0  # every stream open at once for this long
STREAMS_PER_CLIENT = 15_000  # per client process, under its 20,000 open files
STREAMS_PER_SOURCE = 20_000  # per source address, under its 28,232 ephemeral ports
CAPACITY_CONNECT_PER_S = 600.0  # gentler: the capacity runs measure holding, not connecting
MIN_WINDOW_S = 1.0  # shortest held window whose CPU is reported
STALL_INTERVALS = 2.0  # a stream silent for longer than this many intervals stopped receiving
FLOOR_S = 5.0  # the paced kernel floor (benchmarks.floor) runs this long per level
STORM = 10_000  # new streams in the connect storm
QUICK_STORM = 300
STORM_FLOWING = 1000  # streams already open, one message a second, while the storm comes
STORM_AT_ONCE = 200  # at most this many connecting at once
STORM_HOLD_S = 10.0  # the storm's streams are closed this long after the first connect
STORM_QUIET_S = 1.0  # the flowing streams alone before the storm: their own CPU cost
# The storm and the largest level also run against references on the same gunicorn settings
# and worker: the tutorial Flask generator (/baseline/sse) and a bare WSGI app with no Flask
# (benchmarks.reference.bare_wsgi), the floor of gunicorn + gevent themselves.
# name: (WSGI app, or None for the showcase's own, route)
AGAINST: dict[str, tuple[str | None, str]] = {
    "showcase": (None, "/stream/sse"),
    "tutorial": (None, "/baseline/sse"),
    "bare": ("benchmarks.reference.bare_wsgi:app", "/stream/sse"),
    "ws": (None, "/ws"),
    "poll": (None, "/poll"),
}
DEFAULT_AGAINST = ("showcase", "tutorial", "bare", "ws")
# A route's client, when it is no HTTP stream, and the parameters it adds.
OPENERS: dict[str, Callable[[str, StreamRecord, Plan], RecordProtocol]] = {
    "/ws": open_ws,
    "/poll": open_poll,
}
ROUTE_PARAMS: dict[str, dict[str, Any]] = {"/poll": {"wait": 25_000}}


def lane_path(route: str, **params: Any) -> str:
    """The path a lane's clients open: the route, the contract's and the route's parameters."""
    return stream_path(route, **params, **ROUTE_PARAMS.get(route, {}))


def kept_receiving(record: StreamRecord, interval_ms: float, closed: float) -> bool:
    """The stream had its first message and no silence longer than STALL_INTERVALS
    intervals after it, up to its close: a stalled stream fails, a server whose pacing
    drifts by a few ms per message does not. Without arrival times (``keep=False``): one
    message per interval, less one."""
    if record.t_first_message is None:
        return False
    end = record.t_end if record.t_end is not None else closed
    limit_s = STALL_INTERVALS * interval_ms / 1000.0
    if record.received_at:
        times = [*record.received_at, end]
        return all(b - a <= limit_s for a, b in zip(times, times[1:], strict=False))
    expected = int((end - record.t_first_message) * 1000.0 / interval_ms)
    return record.messages >= max(1, expected - 1)


def first_message_ms(records: list[StreamRecord]) -> dict[str, float]:
    """p50/p95/max of connect start → first message, over the streams that had one."""
    got = [
        (r.t_first_message - r.t_connect) * 1000.0
        for r in records
        if r.t_first_message is not None and r.t_connect
    ]
    stats = summarize(got)
    return {f"first_message_{q}_ms": stats[q] for q in ("p50", "p95", "max")}


def error_counts(records: list[StreamRecord]) -> dict[str, int]:
    """What ended the streams that failed, by kind (what stopped the run, if anything)."""
    return dict(Counter(r.error for r in records if r.error))


def cpu_while_held(
    window: list[tuple[float, float, int]], records: list[StreamRecord]
) -> dict[str, float | None]:
    """The worker's CPU share over the sampled window, and its CPU µs per message received
    in it: what a paced message costs, whatever else shares the core. None for a window
    under MIN_WINDOW_S (streams still arriving until the end measure nothing held)."""
    if len(window) < 2 or window[-1][0] - window[0][0] < MIN_WINDOW_S:
        return {"server_cpu_share_held": None, "server_cpu_us_per_message": None}
    (t1, c1, _), (t2, c2, _) = window[0], window[-1]
    messages = sum(1 for r in records for at in r.received_at if t1 <= at <= t2)
    return {
        "server_cpu_share_held": (c2 - c1) / (t2 - t1),
        "server_cpu_us_per_message": (c2 - c1) / messages * 1e6 if messages >= 100 else None,
    }


def measure_level(
    target: Any,
    streams: int,
    args: argparse.Namespace,
    *,
    interval_ms: float,
    hold_s: float,
    processes: int = 1,
    sources: int = 1,
    connect_per_s: float | None = None,
    route: str = "/stream/sse",
) -> dict[str, Any]:
    """Open ``streams`` at ``connect_per_s`` (``--connect-rate``) a second, hold them
    ``hold_s``, and read what it cost."""
    connect_per_s = connect_per_s or args.connect_rate
    ramp_s = streams / connect_per_s
    count = math.ceil((ramp_s + hold_s) * 1000.0 / interval_ms) + 3
    path = lane_path(route, count=count, interval=interval_ms, size=0)
    plan = Plan(
        url=target.url,
        paths=(path,) * streams,
        ramp_s=ramp_s,
        deadline_s=ramp_s + hold_s + 30.0,
        hold_s=hold_s,
        hold_after_connects=True,  # a client behind its ramp still holds every stream
        keep=True,
        max_connecting=512,
        source_hosts=loopback_sources(sources),
        opener=OPENERS.get(route, open_stream),
    )
    # Warm up first: the first request's one-off imports and caches are not per-stream memory
    # (a few requests, so that each of several workers likely has had one).
    warm = lane_path(route, count=2, interval=0)
    warm_plan = Plan(url=target.url, paths=(warm,) * 8, opener=OPENERS.get(route, open_stream))
    run_plan_split(warm_plan, 1, client_cpus(args))
    wait_idle(target.url)
    idle = target.worker_sample()
    started = time.time()
    with Sampler(target, 0.25) as sampler, FdSampler(target) as fds:
        records, client_cpu = run_plan_split(plan, processes, client_cpus(args))
    closed = time.time()
    firsts = [r.t_first_message for r in records if r.t_first_message is not None]
    # Memory and CPU while held: from the last first message to the close.
    window = sampler.between(max(firsts), closed) if firsts else []
    rss_peak = max((s[2] for s in window), default=None)
    growth = rss_peak - idle.rss_bytes if rss_peak is not None and idle else None
    latencies = sorted(x for r in records for x in r.latencies_ms)
    return {
        "streams": streams,
        "workers": target.settings.get("workers"),
        "interval_ms": interval_ms,
        "connect_per_s": connect_per_s,
        "ramp_s": ramp_s,
        "hold_s": hold_s,
        "wall_s": closed - started,
        "client_processes": processes,
        "source_addresses": sources,
        # Connected but no answer: the worker did not accept or answer in time; not even
        # connected: the listen queue was full (SYNs dropped, retried 1 s, 3 s, 7 s … later).
        "connected": sum(r.t_request > 0 for r in records),
        "status_200": sum(r.status in (200, 101) for r in records),  # 101: a WebSocket's
        "got_first_message": len(firsts),
        "kept_receiving": sum(kept_receiving(r, interval_ms, closed) for r in records),
        "messages": sum(r.messages for r in records),
        "errors": error_counts(records),
        "server_rss_idle": idle.rss_bytes if idle else None,
        "server_rss_held": rss_peak,
        "rss_per_stream_bytes": growth / len(firsts) if growth is not None and firsts else None,
        **cpu_while_held(window, records),
        "client_cpu_s": client_cpu,
        "latency_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        **first_message_ms(records),
        "worker_fds_peak": sorted(fds.peak.values(), reverse=True),
        "samples": [[round(t - started, 3), round(c, 3), m] for t, c, m in sampler.samples],
    }


def value_at(samples: list[tuple[float, float, int]], t: float, index: int) -> float | None:
    """A sampled figure (1: CPU seconds) at time ``t``, interpolated between samples."""
    for before, after in zip(samples, samples[1:], strict=False):
        if before[0] <= t <= after[0]:
            span = after[0] - before[0]
            share = (t - before[0]) / span if span else 0.0
            return float(before[index] + (after[index] - before[index]) * share)
    return None


def measure_storm(
    target: Any, size: int, args: argparse.Namespace, route: str = "/stream/sse"
) -> dict[str, Any]:
    """``size`` clients connect at most ``--storm-at-once`` at a time while ``--storm-flowing``
    streams are already open at one message a second: from the first connect to the last
    stream's first message, per stream connect → first message, the worker's CPU per new
    stream (less what the flowing streams cost alone) and the flowing streams' latency."""
    flowing, hold_s = args.storm_flowing, args.storm_hold
    cpus = client_cpus(args)
    sources = loopback_sources(2)
    path = lane_path(route, count=math.ceil(hold_s * 3) + 30, interval=1000, size=0)
    flow_ramp = flowing / args.connect_rate
    flow_plan = Plan(
        url=target.url,
        paths=(path,) * flowing,
        ramp_s=flow_ramp,
        jitter_s=1.0,
        hold_s=STORM_QUIET_S + hold_s + 2.0,  # open until the storm is over
        deadline_s=flow_ramp + hold_s + 60.0,
        source_hosts=sources,
        opener=OPENERS.get(route, open_stream),
    )
    storm_plan = Plan(
        url=target.url,
        paths=(path,) * size,
        hold_s=hold_s,
        deadline_s=hold_s + 30.0,
        max_connecting=args.storm_at_once,
        source_hosts=sources,
        opener=OPENERS.get(route, open_stream),
    )
    warm = lane_path(route, count=2, interval=0)
    run_plan_split(
        Plan(url=target.url, paths=(warm,) * 8, opener=OPENERS.get(route, open_stream)), 1, cpus
    )
    wait_idle(target.url)
    idle = target.worker_sample()
    context = multiprocessing.get_context("fork")
    with (
        Sampler(target, 0.1) as sampler,
        concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool,
    ):
        flow = pool.submit(run_plan_in_process, flow_plan, cpus)
        wait_for_connections(target.url, flowing, flow_ramp + 11.0)
        quiet_from = time.time()
        time.sleep(STORM_QUIET_S)
        records, client_cpu = pool.submit(run_plan_in_process, storm_plan, cpus).result()
        flow_records, flow_cpu = flow.result()
    t0 = min((r.t_connect for r in records if r.t_connect), default=time.time())
    firsts = [r.t_first_message for r in records if r.t_first_message is not None]
    last_first = max(firsts, default=None)
    closed = max((r.t_end or 0.0 for r in records), default=t0)
    samples = sampler.samples
    end = last_first or closed
    cpu_quiet, cpu_t0, cpu_end = (value_at(samples, t, 1) for t in (quiet_from, t0, end))
    flow_rate = (
        (cpu_t0 - cpu_quiet) / (t0 - quiet_from)
        if cpu_t0 is not None and cpu_quiet is not None and t0 > quiet_from
        else 0.0
    )
    storm_cpu = (
        cpu_end - cpu_t0 - flow_rate * (end - t0)
        if cpu_end is not None and cpu_t0 is not None
        else None
    )
    window = sampler.between(end, closed)
    rss_peak = max((s[2] for s in sampler.between(t0, closed)), default=None)
    during = sorted(
        lat
        for r in flow_records
        for lat, at in zip(r.latencies_ms, r.received_at, strict=True)
        if t0 <= at <= end
    )
    latencies = sorted(x for r in records for x in r.latencies_ms)
    after_start = summarize([(t - t0) * 1000.0 for t in firsts])
    held = len(firsts) + flowing
    return {
        "streams": size,
        "flowing": flowing,
        "max_connecting": args.storm_at_once,
        "interval_ms": 1000.0,
        "hold_s": hold_s,
        "status_200": sum(r.status in (200, 101) for r in records),  # 101: a WebSocket's
        "got_first_message": len(firsts),
        "kept_receiving": sum(kept_receiving(r, 1000.0, closed) for r in records),
        "storm_s": last_first - t0 if last_first and len(firsts) == size else None,
        "last_first_message_s": last_first - t0 if last_first else None,
        "connect_s": max((r.t_request for r in records), default=t0) - t0,
        **{f"after_first_connect_{q}_ms": after_start[q] for q in ("p50", "p95", "max")},
        **first_message_ms(records),
        "server_cpu_s_storm": storm_cpu,
        "server_cpu_share_flowing": flow_rate,
        "server_cpu_ms_per_new_stream": storm_cpu / len(firsts) * 1000.0
        if storm_cpu is not None and firsts
        else None,
        "server_rss_idle": idle.rss_bytes if idle else None,
        "server_rss_held": rss_peak,
        "rss_per_stream_bytes": (rss_peak - idle.rss_bytes) / held if rss_peak and idle else None,
        **cpu_while_held(window, records + flow_records),
        "latency_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "flowing_kept_receiving": sum(kept_receiving(r, 1000.0, closed) for r in flow_records),
        "flowing_latency_p50_ms": summarize(during)["p50"],
        "flowing_latency_p99_ms": summarize(during)["p99"],
        "flowing_latency_max_ms": summarize(during)["max"],
        "errors": error_counts(records + flow_records),
        "client_cpu_s": client_cpu + flow_cpu,
        "samples": [[round(t - t0, 3), round(c, 3), m] for t, c, m in samples],
    }


def measure_capacity(
    args: argparse.Namespace, streams: int, workers: int, hold_s: float
) -> dict[str, Any]:
    """``streams`` over ``workers`` workers, a message every CAPACITY_INTERVAL_MS."""
    processes = max(args.processes, math.ceil(streams / STREAMS_PER_CLIENT))
    sources = max(2, math.ceil(streams / STREAMS_PER_SOURCE))
    # Every worker's pool stops accepting below its open-file limit, so a full worker leaves
    # the next connection to another one instead of failing it with EMFILE.
    per_worker = min(capacity.DEFAULT_WORKER_CONNECTIONS, read_limits()["nofile_soft"] - 500)
    with open_workers(args, "held_streams", workers, per_worker) as target:
        point = measure_level(
            target,
            streams,
            args,
            interval_ms=CAPACITY_INTERVAL_MS,
            hold_s=hold_s,
            processes=processes,
            sources=sources,
            connect_per_s=args.capacity_rate,
        )
        point["worker_connections"] = target.settings.get("worker_connections")
    return point


def label(point: dict[str, Any]) -> str:
    suffix = f"-{point['against']}" if is_reference(point) else ""
    if point["scenario"] == "storm":
        return f"storm-{point['streams']}{suffix}"
    if point["scenario"] == "capacity":
        return f"capacity-{point['streams']}x{point['workers']}"
    return f"{point['streams']}{suffix}"


COUNTS = ("got_first_message", "kept_receiving")
KEEP = ("scenario", "against", "streams", "workers", "interval_ms", "flowing", "max_connecting")


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario: the least of the counts, the median of every other figure."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for p in run["points"]:
            grouped.setdefault(label(p), []).append(p)
    summary: dict[str, Any] = {}
    for key, points in grouped.items():
        row: dict[str, Any] = {k: points[0].get(k) for k in KEEP if k in points[0]}
        for name in COUNTS:
            row[f"{name}_min"] = min(p[name] for p in points)
        numbers = {
            k
            for p in points
            for k, v in p.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k not in KEEP
        }
        for name in sorted(numbers - set(COUNTS)):
            row[name] = median([p.get(name) for p in points])
        row["errors"] = sum((Counter(p.get("errors", {})) for p in points), Counter())
        summary[key] = row
    return summary


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "held SSE streams (medians; min counts)",
        (
            "scenario",
            "streams",
            "workers",
            "interval s",
            "got first msg",
            "kept receiving",
            "RSS/stream KiB",
            "worker RSS MiB",
            "server CPU",
            "kernel floor",
            "first msg p50/p95/max ms",
            "storm s",
            "CPU ms / new stream",
        ),
    )
    for row in summary.values():
        per = row.get("rss_per_stream_bytes")
        held = row.get("server_rss_held")
        table.add_row(
            f"{row['scenario']} ({row['against']})" if is_reference(row) else row["scenario"],
            f"{row['streams']:,}",
            str(row.get("workers") or "?"),
            fmt(row.get("interval_ms", INTERVAL_MS) / 1000.0, 0),
            f"{row['got_first_message_min']:,}",
            f"{row['kept_receiving_min']:,}",
            fmt(per / 1024 if per is not None else None, 1),
            fmt(held / 2**20 if held is not None else None, 1),
            fmt((row.get("server_cpu_share_held") or 0) * 100, 0) + " %",
            fmt(row["floor_cpu_share"] * 100, 0) + " %" if row.get("floor_cpu_share") else "",
            " / ".join(fmt(row.get(f"first_message_{q}_ms"), 0) for q in ("p50", "p95", "max")),
            fmt(row.get("storm_s"), 2),
            fmt(row.get("server_cpu_ms_per_new_stream"), 3),
        )
    console.print(table)
    for key, row in summary.items():
        if row.get("errors"):
            console.print(f"{key}: errors {dict(row['errors'])}")


def paced_floor(args: argparse.Namespace, streams: int) -> dict[str, Any]:
    """The same streams and interval sent by a bare loop with no server (benchmarks.floor):
    the share of a core the kernel alone takes here, next to the worker's."""
    if streams > FLOOR_CONNECTIONS:
        return {}
    pinned = pinning_wanted(args)
    floor = measure_paced_floor(
        streams,
        args.interval / 1000.0,
        min(args.hold, FLOOR_S),
        SERVER_CPU if pinned else None,
        CLIENT_CPU if pinned else None,
    )
    return {"floor_cpu_share": floor["cpu_share"], "floor_us_per_message": floor["us_per_message"]}


def parse_capacity(text: str) -> list[tuple[int, int]]:
    """``19000x1,75000x4`` → [(19000, 1), (75000, 4)]."""
    pairs = []
    for item in filter(None, text.split(",")):
        streams, _, workers = item.partition("x")
        pairs.append((int(streams), int(workers or 1)))
    return pairs


def servers_named(text: str) -> str:
    """``--against``: names of AGAINST, comma-separated."""
    unknown = [name for name in text.split(",") if name and name not in AGAINST]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(unknown)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench held_streams", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--levels", help="comma-separated stream counts (default 1000,5000,10000)")
    parser.add_argument("--interval", type=float, default=INTERVAL_MS, help="levels: ms/message")
    parser.add_argument("--hold", type=float, default=HOLD_S, help="s all streams are held")
    parser.add_argument("--processes", type=int, default=1, help="client processes (at least)")
    parser.add_argument("--connect-rate", type=float, default=CONNECT_PER_S, help="streams/s")
    parser.add_argument("--storm", type=int, help="storm: new streams (default 10000; 0: none)")
    parser.add_argument("--storm-flowing", type=int, default=STORM_FLOWING, help="open before")
    parser.add_argument("--storm-at-once", type=int, default=STORM_AT_ONCE, help="connecting")
    parser.add_argument("--storm-hold", type=float, default=STORM_HOLD_S, help="s storm window")
    parser.add_argument(
        "--against",
        type=servers_named,
        default=",".join(DEFAULT_AGAINST),
        help="servers the storm and the largest level run against, of "
        + ", ".join(AGAINST)
        + " (default "
        + ",".join(DEFAULT_AGAINST)
        + ")",
    )
    parser.add_argument(
        "--capacity", help="STREAMSxWORKERS,… at a message every 10 s (default 19000x1,75000x4)"
    )
    parser.add_argument(
        "--capacity-hold", type=float, default=25.0, help="s the capacity runs are held"
    )
    parser.add_argument(
        "--capacity-rate", type=float, default=CAPACITY_CONNECT_PER_S, help="capacity: streams/s"
    )
    return parser


def plan_scenarios(args: argparse.Namespace) -> tuple[list[int], int, list[tuple[int, int]]]:
    """Levels, storm size and capacity runs: defaults, unless ``--levels`` names the run."""
    named = args.levels is not None
    if named:
        levels = [int(x) for x in args.levels.split(",") if x]
    else:
        levels = list(QUICK_LEVELS if args.quick else LEVELS)
    default_storm = 0 if named else (QUICK_STORM if args.quick else STORM)
    storm_size = args.storm if args.storm is not None else default_storm
    if args.capacity is not None:
        runs = parse_capacity(args.capacity)
    else:
        runs = [] if named else list(QUICK_CAPACITY if args.quick else CAPACITY)
    return levels, storm_size, runs


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    levels, storm_size, capacity_runs = plan_scenarios(args)
    if args.quick:
        args.hold = min(args.hold, 2.0)
        args.capacity_hold = min(args.capacity_hold, 3.0)
        args.storm_flowing = min(args.storm_flowing, 100)
        args.storm_hold = min(args.storm_hold, 3.0)
    capacity_hold = max(args.capacity_hold, 1.0)
    runs: list[dict[str, Any]] = []
    settings: dict[str, Any] = {}
    # Capacity runs are long: once, in the first run.
    against_names = [name for name in args.against.split(",") if name]
    if args.url:  # a server of the caller's serves the showcase's routes, not another app
        others = [name for name in against_names if AGAINST[name][0] is not None]
        against_names = [name for name in against_names if name not in others]
        if others:
            print(f"--url: skipping {', '.join(others)} (needs its own server)", file=sys.stderr)
    references = len(against_names) - ("showcase" in against_names)
    per_run = len(levels) + references * bool(levels) + len(against_names) * (storm_size > 0)
    steps = args.runs * per_run + len(capacity_runs)
    with progress() as bar:
        task = bar.add_task("held streams", total=steps, note="")
        for run in range(args.runs):
            points = []
            for streams in levels:
                bar.update(task, note=f"run {run + 1}: {streams:,} streams")
                # A fresh server per level: RSS growth starts from the same idle worker.
                with open_target(args, "held_streams") as target:
                    settings = target.settings
                    point = measure_level(
                        target, streams, args, interval_ms=args.interval, hold_s=args.hold
                    )
                bar.update(task, note=f"run {run + 1}: {streams:,} streams, kernel floor")
                point.update(paced_floor(args, streams))
                points.append({"scenario": "held", "workers": 1, **point})
                bar.advance(task)
            for against in [a for a in against_names if a != "showcase"] if levels else []:
                streams = max(levels)
                bar.update(task, note=f"run {run + 1}: {streams:,} streams ({against})")
                app, route = AGAINST[against]
                with open_target(args, "held_streams", app=app) as target:
                    point = measure_level(
                        target,
                        streams,
                        args,
                        interval_ms=args.interval,
                        hold_s=args.hold,
                        route=route,
                    )
                points.append({"scenario": "held", "against": against, "workers": 1, **point})
                bar.advance(task)
            for against in against_names if storm_size else []:
                bar.update(task, note=f"run {run + 1}: storm of {storm_size:,} ({against})")
                app, route = AGAINST[against]
                with open_target(args, "held_streams", app=app) as target:
                    point = measure_storm(target, storm_size, args, route)
                points.append({"scenario": "storm", "against": against, "workers": 1, **point})
                bar.advance(task)
            for streams, workers in capacity_runs if run == 0 else []:
                bar.update(task, note=f"capacity: {streams:,} on {workers} workers")
                point = measure_capacity(args, streams, workers, capacity_hold)
                points.append({"scenario": "capacity", **point, "workers": workers})
                bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "levels": levels,
        "interval_ms": args.interval,
        "connect_per_s": args.connect_rate,
        "hold_s": args.hold,
        "processes": args.processes,
        "mode": "sse",
        "storm": {
            "streams": storm_size,
            "flowing": args.storm_flowing,
            "at_once": args.storm_at_once,
            "hold_s": args.storm_hold,
        },
        "against": {name: AGAINST[name] for name in against_names},
        "capacity": {
            "runs": [list(pair) for pair in capacity_runs],
            "interval_ms": CAPACITY_INTERVAL_MS,
            "connect_per_s": args.capacity_rate,
            "hold_s": capacity_hold,
        },
        "limits": read_limits(),
    }
    return report(
        "held_streams",
        args,
        config,
        settings,
        runs,
        summary,
        lambda console: print_table(summary, console),
    )


if __name__ == "__main__":
    sys.exit(main())
