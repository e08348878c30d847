"""Held streams: 1,000, 5,000 and 10,000 concurrent SSE streams on one worker, one message per
second each: how many got their first message, how many kept receiving, server RSS per stream
and server CPU while they are held.

    python -m benchmarks.held_streams [--quick] [--url URL] [--runs 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from benchmarks.harness import (
    add_common_args,
    client_cpus,
    fmt,
    number_table,
    open_target,
    progress,
    report,
)
from benchmarks.measure import Sampler, stream_path, wait_idle
from benchmarks.stats import median
from benchmarks.wire import Plan, run_plan_split
from showcase.launcher import fetch_health

LEVELS = (1000, 5000, 10000)
QUICK_LEVELS = (200, 1000)
INTERVAL_MS = 1000.0
CONNECT_PER_S = 1000.0  # ramp: new streams per second (the worker also serves the open ones)
HOLD_S = 5.0  # every stream open at once for this long


def measure_level(target: Any, streams: int, args: argparse.Namespace) -> dict[str, Any]:
    ramp_s = streams / CONNECT_PER_S
    hold_s = args.hold
    count = math.ceil(ramp_s + hold_s + 10)
    path = stream_path("/stream/sse", count=count, interval=INTERVAL_MS, size=0)
    plan = Plan(
        url=target.url,
        paths=(path,) * streams,
        ramp_s=ramp_s,
        deadline_s=ramp_s + hold_s + 30.0,
        hold_s=hold_s,
        keep=True,
        max_connecting=512,
    )
    # Warm up first: the first request's one-off imports and caches are not per-stream memory.
    run_plan_split(
        Plan(url=target.url, paths=(stream_path("/stream/sse", count=2, interval=0),)),
        1,
        client_cpus(args),
    )
    wait_idle(target.url)
    idle = target.worker_sample()
    started = time.time()
    with Sampler(target, 0.25) as sampler:
        records, client_cpu = run_plan_split(plan, args.processes, client_cpus(args))
    closed = time.time()
    firsts = [r.t_first_message for r in records if r.t_first_message is not None]
    all_open = max(firsts) if len(firsts) == streams else None
    window = sampler.between(all_open, closed) if all_open else []
    rss_peak = max((s[2] for s in window), default=None)
    cpu_share = (
        (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        if len(window) >= 2 and window[-1][0] > window[0][0]
        else None
    )
    on_time = 0
    for r in records:
        if r.t_first_message is None:
            continue
        # One message at open, then one a second until the client closed the stream.
        end = r.t_end if r.t_end is not None else closed
        expected = int((end - r.t_first_message) * 1000.0 / INTERVAL_MS)
        on_time += r.messages >= max(1, expected - 1)
    growth = rss_peak - idle.rss_bytes if rss_peak is not None and idle else None
    latencies = sorted(x for r in records for x in r.latencies_ms)
    return {
        "streams": streams,
        "ramp_s": ramp_s,
        "hold_s": hold_s,
        "wall_s": closed - started,
        "status_200": sum(r.status == 200 for r in records),
        "got_first_message": len(firsts),
        "kept_receiving": on_time,
        "messages": sum(r.messages for r in records),
        "errors": sorted({r.error for r in records if r.error}),
        "server_rss_idle": idle.rss_bytes if idle else None,
        "server_rss_held": rss_peak,
        "rss_per_stream_bytes": growth / streams if growth is not None else None,
        "server_cpu_share_held": cpu_share,
        "client_cpu_s": client_cpu,
        "latency_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "samples": [[round(t - started, 3), round(c, 3), m] for t, c, m in sampler.samples],
    }


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for run in runs:
        for p in run["points"]:
            summary.setdefault(str(p["streams"]), []).append(p)
    return {
        key: {
            "streams": points[0]["streams"],
            "got_first_message_min": min(p["got_first_message"] for p in points),
            "kept_receiving_min": min(p["kept_receiving"] for p in points),
            "rss_per_stream_bytes": median([p["rss_per_stream_bytes"] for p in points]),
            "server_rss_held": median([p["server_rss_held"] for p in points]),
            "server_cpu_share_held": median([p["server_cpu_share_held"] for p in points]),
            "latency_p99_ms": median([p["latency_p99_ms"] for p in points]),
        }
        for key, points in summary.items()
    }


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "held SSE streams on one worker, 1 message/s each (medians; min counts)",
        (
            "streams",
            "got first msg",
            "kept receiving",
            "RSS/stream KiB",
            "worker RSS MiB",
            "server CPU",
            "p99 latency ms",
        ),
    )
    for row in summary.values():
        per = row["rss_per_stream_bytes"]
        held = row["server_rss_held"]
        table.add_row(
            f"{row['streams']:,}",
            f"{row['got_first_message_min']:,}",
            f"{row['kept_receiving_min']:,}",
            fmt(per / 1024 if per is not None else None, 1),
            fmt(held / 2**20 if held is not None else None, 1),
            fmt((row["server_cpu_share_held"] or 0) * 100, 0) + " %",
            fmt(row["latency_p99_ms"], 2),
        )
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench held_streams", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--levels", help="comma-separated stream counts (default 1000,5000,10000)")
    parser.add_argument("--hold", type=float, default=HOLD_S, help="s all streams are held")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.levels:
        levels = [int(x) for x in args.levels.split(",") if x]
    else:
        levels = list(QUICK_LEVELS if args.quick else LEVELS)
    if args.quick:
        args.hold = min(args.hold, 2.0)
    runs: list[dict[str, Any]] = []
    settings: dict[str, Any] = {}
    with progress() as bar:
        task = bar.add_task("held streams", total=args.runs * len(levels), note="")
        for run in range(args.runs):
            points = []
            for streams in levels:
                bar.update(task, note=f"run {run + 1}: {streams:,} streams")
                # A fresh server per level: RSS growth starts from the same idle worker.
                with open_target(args, "held_streams") as target:
                    settings = target.settings
                    points.append(
                        {
                            **measure_level(target, streams, args),
                            "health_after": fetch_health(target.url),
                        }
                    )
                bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "levels": levels,
        "interval_ms": INTERVAL_MS,
        "connect_per_s": CONNECT_PER_S,
        "hold_s": args.hold,
        "processes": args.processes,
        "mode": "sse",
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
