"""Latency (receive − ts), TTFB and server CPU per paced message of sse, ndjson, chunked, ws
(``/ws``) and poll (``/poll``, long polling) at 1, 100 and 1,000 concurrent clients with a
50 ms interval, and 1 client at 1 ms; ``baseline`` is the tutorial generator
(``/baseline/sse``) measured in the same run, the yardstick for CPU. ``short-poll`` (``wait=0``
on a timer of one interval) is there to ask for. A poll's latency is receive − the message's
due time (benchmarks/load/poll.py says why); poll rows add requests and header bytes per
message.

    python -m benchmarks.latency [--quick] [--url URL] [--runs 3]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from benchmarks.infra.harness import add_common_args, client_cpus, open_target, progress, report
from benchmarks.infra.measure import (
    CPU_SAMPLE_S,
    Measurement,
    Sampler,
    measure_streams,
    steady_cpu,
    stream_path,
    wait_idle,
)
from benchmarks.load.poll import open_poll
from benchmarks.load.wire import Plan, RecordProtocol, StreamRecord, open_stream, run_plan_split
from benchmarks.load.ws import open_ws
from benchmarks.report.conditions import RAMP_CLIENTS_PER_S
from benchmarks.report.stats import median, ratio, summarize
from benchmarks.report.tables import fmt, number_table

MODES = ("sse", "ndjson", "chunked", "ws", "poll", "baseline")
# The tutorial generator: one write per message, no coalescing, no heartbeat (web/baseline.py).
ROUTES = {"baseline": "/baseline/sse", "ws": "/ws", "poll": "/poll", "short-poll": "/poll"}
# Long polling waits as long as the contract's default; short polling never waits.
ROUTE_PARAMS: dict[str, dict[str, Any]] = {"poll": {"wait": 25_000}, "short-poll": {"wait": 0}}
Opener = Callable[[str, StreamRecord, Plan], RecordProtocol]
OPENERS: dict[str, Opener] = {"ws": open_ws, "poll": open_poll, "short-poll": open_poll}
POLL_MODES = ("poll", "short-poll")
# (clients, interval ms): the four points of the guide's latency table.
SCENARIOS = ((1, 50.0), (100, 50.0), (1000, 50.0), (1, 1.0))
QUICK_SCENARIOS = ((1, 50.0), (100, 50.0), (1, 1.0))


def parse_scenarios(text: str) -> tuple[tuple[int, float], ...]:
    """``1x50,100x50`` → ((1, 50.0), (100, 50.0)): clients × interval in ms."""
    pairs = [item.split("x") for item in text.split(",") if item]
    return tuple((int(clients), float(interval)) for clients, interval in pairs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench latency", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--scenarios", type=parse_scenarios, help="e.g. 1x50,100x50,1000x50,1x1")
    parser.add_argument("--duration", type=float, default=3.0, help="s of messages per stream")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    return parser


def mode_path(mode: str, **params: Any) -> str:
    """The path a mode's client opens: its route and the contract's parameters."""
    route = ROUTES.get(mode, f"/stream/{mode}")
    return stream_path(route, **params, **ROUTE_PARAMS.get(mode, {}))


def poll_figures(measured: Measurement) -> dict[str, Any]:
    """What polling costs besides the messages: requests and header bytes (request and
    response heads) per message received; and the server's CPU per message over the whole
    batch, connects included: a worker that polls saturate answers late, the clients' first
    answers come after others' last, and there is no steady window to read."""
    records = measured.records
    messages = sum(r.messages for r in records)
    requests = sum(r.requests for r in records)
    headers = sum(r.request_bytes + r.head_bytes for r in records)
    return {
        "requests": requests,
        "request_bytes": sum(r.request_bytes for r in records),
        "head_bytes": sum(r.head_bytes for r in records),
        "requests_per_message": requests / messages if messages else math.nan,
        "header_bytes_per_message": headers / messages if messages else math.nan,
        "batch_cpu_us_per_message": (
            measured.server_cpu_s / messages * 1e6
            if measured.server_cpu_s is not None and messages
            else math.nan
        ),
    }


def measure_one(
    target_url: str,
    mode: str,
    clients: int,
    interval_ms: float,
    duration_s: float,
    args: argparse.Namespace,
    target: Any,
) -> dict[str, Any]:
    ramp_s = (clients - 1) / RAMP_CLIENTS_PER_S
    # Every stream outlasts the ramp, so all clients are connected at once for duration_s.
    count = max(2, math.ceil((duration_s + ramp_s) * 1000.0 / interval_ms))
    path = mode_path(mode, count=count, interval=interval_ms, size=0)
    plan = Plan(
        url=target_url,
        paths=(path,) * clients,
        ramp_s=ramp_s,
        jitter_s=interval_ms / 1000.0 if clients > 1 else 0.0,
        deadline_s=ramp_s + duration_s * 3 + 10.0,
        opener=OPENERS.get(mode, open_stream),
    )
    with Sampler(target, CPU_SAMPLE_S) as sampler:
        measured = measure_streams(target, plan, client_cpus(args), args.processes)
    latencies = [lat for r in measured.records for lat in r.latencies_ms]
    # Steady state: every client connected and none finished yet (the ramp excluded).
    firsts = [r.t_first_message for r in measured.records if r.t_first_message is not None]
    ends = [r.t_end for r in measured.records if r.t_end is not None]
    lo, hi = (max(firsts), min(ends)) if firsts and ends else (0.0, 0.0)
    steady = [
        lat
        for r in measured.records
        for lat, at in zip(r.latencies_ms, r.received_at, strict=True)
        if lo < at < hi
    ]
    ttfbs = [r.ttfb_s * 1000.0 for r in measured.records if r.ttfb_s is not None]
    extra = poll_figures(measured) if mode in POLL_MODES else {}
    return {
        **extra,
        **steady_cpu(sampler, measured.records, lo, hi),
        "mode": mode,
        "clients": clients,
        "interval_ms": interval_ms,
        "count": count,
        "ramp_s": ramp_s,
        "expected_messages": count * clients,
        **measured.figures(),
        "latency_ms": summarize(latencies),
        "steady_latency_ms": summarize(steady),
        "steady_window_s": max(0.0, hi - lo),
        "ttfb_ms": summarize(ttfbs),
        "clients_without_first_byte": sum(r.ttfb_s is None for r in measured.records),
        "raw_latency_ms": [round(x, 3) for x in latencies],
        "raw_ttfb_ms": [round(x, 3) for x in ttfbs],
    }


def warm_up(url: str, clients: int, modes: Sequence[str], args: argparse.Namespace) -> None:
    """Unmeasured: as many clients as the largest scenario, on every mode, for a moment (the
    worker's first thousand greenlets and buffers are allocated here, not in a measurement)."""
    for mode in modes:
        path = mode_path(mode, count=3, interval=50, size=0)
        plan = Plan(
            url=url,
            paths=(path,) * clients,
            ramp_s=(clients - 1) / RAMP_CLIENTS_PER_S,
            deadline_s=30.0,
            keep=False,
            opener=OPENERS.get(mode, open_stream),
        )
        run_plan_split(plan, args.processes, client_cpus(args))
        wait_idle(url)


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs per scenario and mode, and each mode's p50/p99 ÷ sse's in the same run."""
    rows: dict[str, Any] = {}
    for run in runs:
        for point in run["points"]:
            key = f"{point['clients']}x{point['interval_ms']:g}ms/{point['mode']}"
            rows.setdefault(key, []).append(point)
    summary: dict[str, Any] = {}
    for key, points in rows.items():
        scenario, mode = key.split("/")
        same_run = [
            next(
                (
                    p
                    for p in run["points"]
                    if p["mode"] == "sse" and f"{p['clients']}x{p['interval_ms']:g}ms" == scenario
                ),
                None,
            )
            for run in runs
        ]
        summary[key] = {
            "scenario": scenario,
            "mode": mode,
            "clients": points[0]["clients"],
            "interval_ms": points[0]["interval_ms"],
            **{
                f"latency_{q}_ms": median([p["latency_ms"][q] for p in points])
                for q in ("p50", "p95", "p99", "max")
            },
            **{
                f"steady_{q}_ms": median([p["steady_latency_ms"][q] for p in points])
                for q in ("p50", "p99", "max")
            },
            "ttfb_p50_ms": median([p["ttfb_ms"]["p50"] for p in points]),
            "ttfb_max_ms": max((p["ttfb_ms"]["max"] or 0.0) for p in points),
            "messages_received": sum(p["messages"] for p in points),
            "messages_expected": sum(p["expected_messages"] for p in points),
            "clients_without_first_byte": sum(p["clients_without_first_byte"] for p in points),
            "client_cpu_share": median([p["client_cpu_share"] for p in points]),
            "cpu_us_per_message": median([p["steady_cpu_us_per_message"] for p in points]),
            "cpu_share": median([p["steady_cpu_share"] for p in points]),
            "cpu_vs_baseline": median(
                [
                    ratio(p["steady_cpu_us_per_message"], b["steady_cpu_us_per_message"])
                    if b
                    else math.nan
                    for p, b in zip(points, same_run_baseline(runs, scenario), strict=True)
                ]
            ),
            "p99_vs_sse": median(
                [
                    ratio(p["latency_ms"]["p99"], s["latency_ms"]["p99"]) if s else math.nan
                    for p, s in zip(points, same_run, strict=True)
                ]
            ),
        }
        if mode in POLL_MODES:
            summary[key] |= {
                name: median([p[name] for p in points])
                for name in (
                    "requests_per_message",
                    "header_bytes_per_message",
                    "batch_cpu_us_per_message",
                )
            }
    return summary


def same_run_baseline(runs: list[dict[str, Any]], scenario: str) -> list[dict[str, Any] | None]:
    """The baseline point of ``scenario`` in each run (None where it was not measured)."""
    return [
        next(
            (
                p
                for p in run["points"]
                if p["mode"] == "baseline" and f"{p['clients']}x{p['interval_ms']:g}ms" == scenario
            ),
            None,
        )
        for run in runs
    ]


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "latency (receive − ts) and TTFB, medians over runs",
        (
            "clients × interval",
            "mode",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "TTFB p50 ms",
            "TTFB max ms",
            "received",
            "server µs/msg",
            "÷ baseline",
            "client CPU",
        ),
    )
    for row in summary.values():
        table.add_row(
            row["scenario"],
            row["mode"],
            fmt(row["latency_p50_ms"], 3),
            fmt(row["latency_p95_ms"], 3),
            fmt(row["latency_p99_ms"], 3),
            fmt(row["latency_max_ms"], 3),
            fmt(row["ttfb_p50_ms"], 2),
            fmt(row["ttfb_max_ms"], 2),
            f"{row['messages_received']}/{row['messages_expected']}",
            fmt(row["cpu_us_per_message"], 1),
            fmt(row["cpu_vs_baseline"], 2),
            f"{row['client_cpu_share']:.0%}"
            if row["client_cpu_share"] == row["client_cpu_share"]
            else "–",
        )
    console.print(table)
    for row in summary.values():
        if row["mode"] in POLL_MODES:
            console.print(
                f"{row['scenario']} {row['mode']}: {fmt(row['requests_per_message'], 2)} "
                f"requests, {fmt(row['header_bytes_per_message'], 0)} header bytes and "
                f"{fmt(row['batch_cpu_us_per_message'], 1)} server µs (whole batch) per message"
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    scenarios = args.scenarios or (QUICK_SCENARIOS if args.quick else SCENARIOS)
    duration = min(args.duration, 1.0) if args.quick else args.duration
    runs: list[dict[str, Any]] = []
    with open_target(args, "latency") as target, progress() as bar:
        task = bar.add_task("latency", total=args.runs * len(scenarios) * len(modes), note="")
        bar.update(task, note="warm-up")
        warm_up(target.url, max(clients for clients, _ in scenarios), modes, args)
        for run in range(args.runs):
            points = []
            # The order of modes rotates from run to run: none is always first after a change.
            shift = run % len(modes)
            for clients, interval in scenarios:
                for mode in modes[shift:] + modes[:shift]:
                    bar.update(task, note=f"run {run + 1}: {mode} {clients}×{interval:g} ms")
                    wait_idle(target.url)
                    points.append(
                        measure_one(target.url, mode, clients, interval, duration, args, target)
                    )
                    bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "modes": modes,
        "scenarios": scenarios,
        "duration_s": duration,
        "ramp_clients_per_s": RAMP_CLIENTS_PER_S,
        "runs": args.runs,
        "processes": args.processes,
    }
    return report(
        "latency",
        args,
        config,
        target.settings,
        runs,
        summary,
        lambda console: print_table(summary, console),
    )


if __name__ == "__main__":
    sys.exit(main())
