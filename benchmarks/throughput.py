"""Throughput at interval 0: messages/s, MB/s and server CPU µs per message of every mode, with
1 and 50 clients, at 16 B, 1 KiB and 64 KiB of padding, coalesced (``flush=auto``) and one
write per message (``flush=each``), and WebSocket frames (``/ws``), beside the tutorial
generator (``/baseline/sse``).

    python -m benchmarks.throughput [--quick] [--url URL] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from benchmarks.infra.harness import add_common_args, client_cpus, open_target, progress, report
from benchmarks.infra.measure import measure_streams, stream_path, wait_idle
from benchmarks.load.wire import Plan, open_stream
from benchmarks.load.ws import open_ws
from benchmarks.report.stats import median, ratio
from benchmarks.report.tables import fmt, number_table

# label → (route, flush); "baseline" is the plain Flask generator of showcase/web/baseline.py.
ROUTES: dict[str, tuple[str, str | None]] = {
    "sse": ("/stream/sse", "auto"),
    "sse-each": ("/stream/sse", "each"),
    "baseline": ("/baseline/sse", None),
    "ndjson": ("/stream/ndjson", "auto"),
    "ndjson-each": ("/stream/ndjson", "each"),
    "chunked": ("/stream/chunked", "auto"),
    "chunked-each": ("/stream/chunked", "each"),
    # One frame a message, sent as it is made: no flush policy to choose.
    "ws": ("/ws", None),
}
# Long polling is not here: at interval 0 every message is due at once, and one answer carries
# them all, which measures a JSON document, not a transport. Its cost per message (requests,
# header bytes, server CPU) is paced, in the latency and framing benchmarks.
OPENERS = {"/ws": open_ws}
SIZES = (16, 1024, 65536)
CLIENTS = (1, 50)
# Messages per point (all clients together), sized for about a second of the server's work at
# each size (its CPU per message: docs/results/throughput.json), so that a point spans many
# clock ticks of CPU even where /proc has no schedstat (procfs then reads 10 ms ticks; with
# schedstat it reads ns).
TOTAL_MESSAGES = {16: 100_000, 1024: 40_000, 65536: 6_000}
QUICK_DIVISOR = 10


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench throughput", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--routes", default=",".join(ROUTES), help="comma-separated labels")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pad bytes")
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)), help="client counts")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    return parser


def measure_point(
    target: Any, label: str, size: int, clients: int, total: int, args: argparse.Namespace
) -> dict[str, Any]:
    route, flush = ROUTES[label]
    count = max(1, total // clients)
    params: dict[str, Any] = {"count": count, "interval": 0, "size": size}
    if flush is not None:
        params["flush"] = flush
    plan = Plan(
        url=target.url,
        paths=(stream_path(route, **params),) * clients,
        deadline_s=60.0,
        latency=False,
        keep=False,
        opener=OPENERS.get(route, open_stream),
    )
    measured = measure_streams(target, plan, client_cpus(args), args.processes)
    figures = measured.figures()
    messages = count * figures["complete"]
    wall = measured.wall_s
    cpu = measured.server_cpu_s
    return {
        "label": label,
        "route": route,
        "flush": flush,
        "size": size,
        "clients": clients,
        "count_per_client": count,
        **figures,
        "messages": messages,
        "messages_per_s": messages / wall if wall else None,
        "wire_mb_per_s": figures["wire_bytes"] / wall / 1e6 if wall else None,
        "server_cpu_us_per_message": cpu / messages * 1e6 if cpu is not None and messages else None,
        "wire_bytes_per_message": figures["wire_bytes"] / messages if messages else None,
    }


def find_point(run: dict[str, Any], label: str, size: int, clients: int) -> dict[str, Any] | None:
    """The point of ``run`` measured for this route, size and client count."""
    wanted = (label, size, clients)
    return next((p for p in run["points"] if (p["label"], p["size"], p["clients"]) == wanted), None)


def same_run_ratio(
    runs: list[dict[str, Any]], label: str, other: str, size: int, clients: int
) -> float:
    """Median over runs of messages/s of ``label`` ÷ ``other``, both from the same run."""
    values = []
    for run in runs:
        mine, theirs = find_point(run, label, size, clients), find_point(run, other, size, clients)
        if mine and theirs:
            values.append(ratio(mine["messages_per_s"] or 0.0, theirs["messages_per_s"] or 0.0))
    return median(values)


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs; each label's messages/s ÷ baseline's and ÷ flush=each's, same run."""
    summary: dict[str, Any] = {}
    keys = {(p["label"], p["size"], p["clients"]) for run in runs for p in run["points"]}
    for label, size, clients in sorted(keys, key=lambda k: (k[2], k[1], list(ROUTES).index(k[0]))):
        rows = [p for run in runs if (p := find_point(run, label, size, clients))]
        each_label = f"{label}-each" if f"{label}-each" in ROUTES else label
        summary[f"{label}/{size}/{clients}"] = {
            "label": label,
            "size": size,
            "clients": clients,
            "messages_per_s": median([p["messages_per_s"] for p in rows]),
            "wire_mb_per_s": median([p["wire_mb_per_s"] for p in rows]),
            "server_cpu_us_per_message": median([p["server_cpu_us_per_message"] for p in rows]),
            "client_cpu_share": median([p["client_cpu_share"] for p in rows]),
            "wire_bytes_per_message": median([p["wire_bytes_per_message"] for p in rows]),
            "vs_baseline": same_run_ratio(runs, label, "baseline", size, clients),
            "vs_each": (
                same_run_ratio(runs, label, each_label, size, clients)
                if each_label != label
                else 1.0
            ),
            "complete": sum(p["complete"] for p in rows),
            "streams": sum(p["streams"] for p in rows),
        }
    return summary


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "throughput at interval 0, medians over runs (one worker)",
        (
            "clients",
            "pad B",
            "route",
            "msg/s",
            "MB/s",
            "server µs/msg",
            "× baseline",
            "× each",
            "client CPU",
            "complete",
        ),
    )
    for row in summary.values():
        table.add_row(
            str(row["clients"]),
            str(row["size"]),
            row["label"],
            fmt(row["messages_per_s"], 0),
            fmt(row["wire_mb_per_s"], 1),
            fmt(row["server_cpu_us_per_message"], 1),
            fmt(row["vs_baseline"], 2),
            fmt(row["vs_each"], 2),
            fmt((row["client_cpu_share"] or 0) * 100, 0) + "%",
            f"{row['complete']}/{row['streams']}",
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    labels = [x for x in args.routes.split(",") if x]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    client_counts = [int(x) for x in args.clients.split(",") if x]
    scale = args.scale / (QUICK_DIVISOR if args.quick else 1)
    runs: list[dict[str, Any]] = []
    with open_target(args, "throughput") as target, progress() as bar:
        task = bar.add_task(
            "throughput", total=args.runs * len(labels) * len(sizes) * len(client_counts), note=""
        )
        for run in range(args.runs):
            points = []
            for clients in client_counts:
                for size in sizes:
                    total = max(clients, int(TOTAL_MESSAGES.get(size, 10_000) * scale))
                    # The order of routes rotates from run to run, so none is always first.
                    shift = run % len(labels)
                    for label in labels[shift:] + labels[:shift]:
                        bar.update(task, note=f"run {run + 1}: {label} {size} B × {clients}")
                        wait_idle(target.url)
                        points.append(measure_point(target, label, size, clients, total, args))
                        bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "routes": {k: ROUTES[k] for k in labels},
        "sizes": sizes,
        "clients": client_counts,
        "scale": scale,
        "runs": args.runs,
        "interval_ms": 0,
    }
    return report(
        "throughput",
        args,
        config,
        target.settings,
        runs,
        summary,
        lambda console: print_table(summary, console),
    )


if __name__ == "__main__":
    sys.exit(main())
