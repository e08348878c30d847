"""A rolling restart under load: 500 EventSource-like clients on paced SSE streams, then
``kill -HUP`` of the arbiter (gunicorn starts a new worker and stops the old one with
SIGTERM). How the reconnections spread in time, with the server's final ``retry:`` plus
jitter (the default) and without it (``--restart-retry 0``: clients keep the retry the
stream opened with), and whether any client lost or repeated a message (Last-Event-ID).

    python -m benchmarks.restart [--quick] [--runs 2] [--out results/latest/restart.json]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.infra.harness import RESULTS_DIR, progress, write_result
from benchmarks.load.deploy_clients import Follow, start_clients
from benchmarks.report.restart import BROWSER_RETRY_MS, HEADER, rows
from benchmarks.report.stats import median, summarize
from benchmarks.report.tables import number_table
from showcase.pure.modes import RETRY_MS
from showcase.pure.settings import RESTART_JITTER_MS, RESTART_RETRY_MS
from showcase.tools.launcher import start_server, wait_for_open_streams

CLIENTS = 500
PROCESSES = 2
COUNT = 100
INTERVAL_MS = 100.0
RAMP_S = 1.0
HOLD_S = 2.0  # every stream open and flowing this long before the restart
QUICK = {"clients": 100, "count": 60, "interval": 50.0, "retry": 500, "jitter": 1500}
QUICK_RAMP_S = QUICK_HOLD_S = 0.5


def variants(retry_ms: int, jitter_ms: int) -> dict[str, dict[str, Any]]:
    """The two cases: the server's env and a label for tables and plots."""
    return {
        "with": {
            "env": {
                "SHOWCASE_RESTART_RETRY_MS": str(retry_ms),
                "SHOWCASE_RESTART_JITTER_MS": str(jitter_ms),
            },
            "label": f"retry: {retry_ms} + jitter 0–{jitter_ms} ms",
        },
        "without": {
            "env": {"SHOWCASE_RESTART_RETRY_MS": "0"},
            "label": f"no retry on restart (the stream's opening retry: {RETRY_MS})",
        },
    }


def measure_variant(
    args: argparse.Namespace, variant: str, env: dict[str, str], seed: int
) -> dict[str, Any]:
    """One server, ``args.clients`` clients, one SIGHUP; every client's record."""
    log_path = RESULTS_DIR / "logs" / f"restart-{variant}-{time.time_ns()}.log"
    server = start_server(log_path, workers=1, env=env)
    try:
        host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
        path = f"/stream/sse?count={args.count}&interval={args.interval:g}"
        budget_s = args.ramp + args.hold + 15.0 + args.count * args.interval / 1000.0
        follow = Follow(
            host,
            port,
            path,
            args.count,
            args.clients,
            args.ramp,
            time.monotonic() + budget_s,
            BROWSER_RETRY_MS,
            seed,
        )
        pool, futures = start_clients(follow, args.processes)
        with pool:
            opened = wait_for_open_streams(
                server.url, lambda n: n >= args.clients, timeout_s=args.ramp + 10.0
            )
            time.sleep(args.hold)
            cut_at = time.monotonic()
            os.kill(server.pid, signal.SIGHUP)
            records = [record for future in futures for record in future.result()]
    finally:
        server.stop()
    log = log_path.read_text(errors="replace")
    return {
        "variant": variant,
        "open_before_cut": opened,
        "cut_at": cut_at,
        "workers_booted": log.count("Booting worker with pid"),
        **figures(records, cut_at),
        "clients": records,
    }


def figures(records: list[dict[str, Any]], cut_at: float) -> dict[str, Any]:
    """Reconnect moments after the cut: each client's first new connection, and the one
    that resumed its stream (the first after the cut to bring events; later than the first
    when that one reached the old worker, still accepting, and was ended at once with a
    second notice: a bounce); the no-loss/no-repeat tally."""
    reconnect = []
    resumed = []
    bounced = 0
    for r in records:
        after = [(t, n) for t, n in zip(r["connected_at"], r["events"], strict=False) if t > cut_at]
        if after:
            reconnect.append(after[0][0] - cut_at)
            first_with_events = next((t for t, n in after if n), None)
            if first_with_events is not None:
                resumed.append(first_with_events - cut_at)
        bounced += r["notices"] > 1
    return {
        "reconnect_s": sorted(reconnect),
        "resumed_s": sorted(resumed),
        "reconnect": summarize(reconnect),
        "resumed": summarize(resumed),
        "peak_per_100ms": peak(reconnect, 0.1),
        "bounced": bounced,
        "clients_exact": sum(r["exact"] for r in records),
        "clients_finished": sum(r["finished"] for r in records),
        "lost": sum(r["lost"] for r in records),
        "repeated": sum(r["repeated"] for r in records),
        "out_of_order": sum(r["out_of_order"] for r in records),
        "restart_notices": sum(r["notices"] for r in records),
        "errors": sorted({e for r in records for e in r["errors"]}),
    }


def peak(times: Sequence[float], width_s: float) -> int:
    """The most reconnections that fell in one ``width_s`` bin."""
    bins: dict[int, int] = {}
    for t in times:
        bins[int(t / width_s)] = bins.get(int(t / width_s), 0) + 1
    return max(bins.values(), default=0)


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in ("with", "without"):
        points = [p for run in runs for p in run["points"] if p["variant"] == variant]
        if not points:
            continue
        summary[variant] = {
            "variant": variant,
            "clients": sum(len(p["clients"]) for p in points),
            "reconnected": sum(len(p["reconnect_s"]) for p in points),
            **{
                f"reconnect_{q}_s": median([p["reconnect"][q] for p in points])
                for q in ("p50", "p95", "max")
            },
            "reconnect_min_s": median([min(p["reconnect_s"], default=None) for p in points]),
            "resumed_p50_s": median([p["resumed"]["p50"] for p in points]),
            "resumed_max_s": median([p["resumed"]["max"] for p in points]),
            "peak_per_100ms": max(p["peak_per_100ms"] for p in points),
            **{
                key: sum(p[key] for p in points)
                for key in (
                    "clients_exact",
                    "clients_finished",
                    "lost",
                    "repeated",
                    "out_of_order",
                    "restart_notices",
                    "bounced",
                )
            },
            "errors": sorted({e for p in points for e in p["errors"]}),
        }
    return summary


def print_table(summary: dict[str, Any], labels: dict[str, str], console: Console) -> None:
    table = number_table("restart: reconnections after SIGHUP (s after the signal)", HEADER)
    for row in rows(summary, labels):
        table.add_row(*row)
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench restart", description=__doc__)
    parser.add_argument(
        "--out", type=Path, help="JSON result (default results/restart-<time>.json)"
    )
    parser.add_argument("--quick", action="store_true", help="100 clients, short streams, 1 run")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    parser.add_argument("--no-pin", action="store_true", help="accepted; nothing is pinned")
    parser.add_argument("--runs", type=int, help="repetitions of both cases (default 2; quick 1)")
    parser.add_argument("--clients", type=int, help=f"clients (default {CLIENTS})")
    parser.add_argument("--processes", type=int, default=PROCESSES, help="client processes")
    parser.add_argument("--count", type=int, help=f"messages per stream (default {COUNT})")
    parser.add_argument("--interval", type=float, help=f"ms between messages ({INTERVAL_MS:g})")
    parser.add_argument("--retry", type=int, help=f"restart retry ms ({RESTART_RETRY_MS})")
    parser.add_argument("--jitter", type=int, help=f"restart jitter ms ({RESTART_JITTER_MS})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    defaults = QUICK if args.quick else {}
    args.runs = args.runs or (1 if args.quick else 2)
    args.clients = args.clients or defaults.get("clients", CLIENTS)
    args.count = args.count or defaults.get("count", COUNT)
    args.interval = args.interval or defaults.get("interval", INTERVAL_MS)
    args.hold = QUICK_HOLD_S if args.quick else HOLD_S
    args.ramp = QUICK_RAMP_S if args.quick else RAMP_S
    retry = args.retry if args.retry is not None else defaults.get("retry", RESTART_RETRY_MS)
    jitter = args.jitter if args.jitter is not None else defaults.get("jitter", RESTART_JITTER_MS)
    cases = variants(int(retry), int(jitter))
    runs: list[dict[str, Any]] = []
    with progress() as bar:
        task = bar.add_task("restart", total=args.runs * 2, note="")
        for run in range(args.runs):
            order = ["with", "without"] if run % 2 == 0 else ["without", "with"]
            points = []
            for variant in order:
                bar.update(task, note=f"run {run + 1}: {variant}")
                points.append(measure_variant(args, variant, cases[variant]["env"], 11 + run))
                bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "clients": args.clients,
        "processes": args.processes,
        "count": args.count,
        "interval_ms": args.interval,
        "ramp_s": args.ramp,
        "hold_s": args.hold,
        "runs": args.runs,
        "browser_retry_ms": BROWSER_RETRY_MS,
        "stream_retry_ms": RETRY_MS,
        "variants": cases,
    }
    args.no_pin = True
    server = {"own": True, "workers": 1, "worker_class": "gevent", "restart": "SIGHUP"}
    out = write_result("restart", args, config, server, runs, summary)
    print_table(summary, {}, Console(width=180))
    if not args.no_plot:
        from benchmarks.report.deploy_plots import plot_restart

        print(f"plot: {plot_restart(out)}")
    print(f"result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
