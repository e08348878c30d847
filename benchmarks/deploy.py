"""Deployment paths: the same SSE stream direct and through each nginx location of
``showcase.tools.proxy`` (with and without the app's ``X-Accel-Buffering: no``), and with each
compression setting (none, naive, sync; direct and via nginx's gzip location): latency
p50/p99 and messages per read (1 = streamed, the count = batched to the end); then at
interval 0, wire bytes and server CPU (app and nginx) per message of each compression.

    python -m benchmarks.deploy [--quick] [--runs 2] [--out results/latest/deploy.json]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from benchmarks.infra import procfs
from benchmarks.infra.harness import (
    add_common_args,
    client_cpus,
    open_target,
    progress,
    write_result,
)
from benchmarks.load.deploy_reader import StreamReads, read_stream
from benchmarks.report.deploy import ACCEPT_ENCODING, BULK_HEADER, PATH_HEADER, bulk_rows, path_rows
from benchmarks.report.stats import median, summarize
from benchmarks.report.tables import number_table
from showcase.tools.proxy import LOCATIONS, Proxy, start_proxy

PACED = {"count": 40, "interval": 50.0}
QUICK_PACED = {"count": 10, "interval": 50.0}
BULK_COUNT = 50_000  # interval 0: the CPU and bytes figure
QUICK_BULK_COUNT = 5_000
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Path_:
    """One way to the app: ``location`` None is direct; ``accel`` and ``compress`` are the
    stream's parameters."""

    location: str | None
    accel: str = "send"
    compress: str = "none"
    flush: str = "auto"

    @property
    def name(self) -> str:
        where = self.location or "direct"
        extra = [f"accel={self.accel}"] if self.location and self.location != "gzip" else []
        extra += [f"compress={self.compress}"] if self.compress != "none" else []
        extra += [f"flush={self.flush}"] if self.flush != "auto" else []
        return " · ".join([where, *extra])

    def url(self, direct: str, proxy: Proxy | None, query: str) -> str:
        path = f"/stream/sse?{query}&accel={self.accel}&compress={self.compress}"
        path += f"&flush={self.flush}"
        if self.location is None:
            return direct + path
        assert proxy is not None
        return proxy.url_for(self.location, path)


def latency_paths() -> list[Path_]:
    """Direct, each location with and without X-Accel-Buffering (gzip: with), and the
    compression settings direct and via the gzip location."""
    paths = [Path_(None)]
    for location in LOCATIONS:
        paths.append(Path_(location.name))
        if location.name != "gzip":
            paths.append(Path_(location.name, accel="omit"))
    for compress in ("naive", "sync"):
        paths += [Path_(None, compress=compress), Path_("gzip", compress=compress)]
    return paths


def compression_paths() -> list[Path_]:
    """Each compression direct and via the gzip location; direct also with ``flush=each``
    (one write per message, as a paced stream writes: sync then flushes every message)."""
    settings = ("none", "naive", "sync")
    paths = [Path_(None, compress=c) for c in settings]
    paths += [Path_(None, compress=c, flush="each") for c in settings]
    return paths + [Path_("gzip", compress=c) for c in settings]


def measure_paced(
    path: Path_, target: Any, proxy: Proxy, paced: dict[str, float]
) -> dict[str, Any]:
    query = f"count={int(paced['count'])}&interval={paced['interval']:g}"
    reads = read_stream(path.url(target.url, proxy, query), ACCEPT_ENCODING, READ_TIMEOUT_S)
    return {
        "path": path.name,
        "location": path.location or "direct",
        "accel": path.accel,
        "compress": path.compress,
        **stream_figures(reads, int(paced["count"])),
        "latency_ms": summarize(reads.latencies_ms),
        "raw_latency_ms": [round(x, 3) for x in reads.latencies_ms],
        "reads_messages": [n for _, _, n in reads.reads],
    }


def stream_figures(reads: StreamReads, count: int) -> dict[str, Any]:
    return {
        "status": reads.status,
        "content_encoding": reads.content_encoding,
        "messages": len(reads.seqs),
        "expected": count,
        "in_order": reads.seqs == list(range(count)),
        "reads": len(reads.reads),
        "messages_per_read": reads.messages_per_read,
        "max_per_read": reads.max_per_read,
        "wire_bytes": reads.wire_bytes,
        "error": reads.error,
    }


def measure_bulk(path: Path_, target: Any, proxy: Proxy, count: int) -> dict[str, Any]:
    """Interval 0: bytes on the wire and CPU of the app (and of nginx) per message."""
    app0 = target.sample()
    nginx0 = procfs.sample([proxy.pid])
    reads = read_stream(
        path.url(target.url, proxy, f"count={count}&interval=0"), ACCEPT_ENCODING, 120.0
    )
    app1 = target.sample()
    nginx1 = procfs.sample([proxy.pid])
    app_us = (app1.cpu_s - app0.cpu_s) / count * 1e6 if app0 and app1 else math.nan
    nginx_us = (nginx1.cpu_s - nginx0.cpu_s) / count * 1e6 if path.location else math.nan
    return {
        "path": path.name,
        "location": path.location or "direct",
        "compress": path.compress,
        "flush": path.flush,
        **stream_figures(reads, count),
        "wire_bytes_per_message": reads.wire_bytes / count,
        "app_cpu_us_per_message": app_us,
        "nginx_cpu_us_per_message": nginx_us,
    }


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs: per path, latency and messages per read; per compression,
    bytes and CPU per message (and the ratio to the uncompressed direct stream)."""
    paths: dict[str, Any] = {}
    for name in dict.fromkeys(p["path"] for run in runs for p in run["paced"]):
        points = [p for run in runs for p in run["paced"] if p["path"] == name]
        paths[name] = {
            "path": name,
            "location": points[0]["location"],
            "accel": points[0]["accel"],
            "compress": points[0]["compress"],
            "content_encoding": points[0]["content_encoding"],
            **{
                f"latency_{q}_ms": median([p["latency_ms"][q] for p in points])
                for q in ("p50", "p99", "max")
            },
            "messages_per_read": median([p["messages_per_read"] for p in points]),
            "max_per_read": max(p["max_per_read"] for p in points),
            "received": sum(p["messages"] for p in points),
            "expected": sum(p["expected"] for p in points),
            "in_order": all(p["in_order"] for p in points),
        }
    compression: dict[str, Any] = {}
    for name in dict.fromkeys(p["path"] for run in runs for p in run["bulk"]):
        points = [p for run in runs for p in run["bulk"] if p["path"] == name]
        compression[name] = {
            "path": name,
            "location": points[0]["location"],
            "compress": points[0]["compress"],
            "flush": points[0]["flush"],
            "content_encoding": points[0]["content_encoding"],
            "wire_bytes_per_message": median([p["wire_bytes_per_message"] for p in points]),
            "cpu_us_per_message": median([p["app_cpu_us_per_message"] for p in points]),
            "nginx_cpu_us_per_message": median([p["nginx_cpu_us_per_message"] for p in points]),
            "messages_per_read": median([p["messages_per_read"] for p in points]),
            "received": sum(p["messages"] for p in points),
            "expected": sum(p["expected"] for p in points),
        }
    for row in compression.values():
        plain = compression.get("direct")  # what the app sends uncompressed
        base = plain["wire_bytes_per_message"] if plain else math.nan
        row["wire_vs_none"] = row["wire_bytes_per_message"] / base if base else math.nan
    return {"paths": paths, "compression": compression}


def print_tables(summary: dict[str, Any], console: Console) -> None:
    for title, header, rows in (
        ("deploy: latency per path (receive − ts) and batching", PATH_HEADER, path_rows),
        ("deploy: compression at interval 0, per message", BULK_HEADER, bulk_rows),
    ):
        table = number_table(title, header)
        for row in rows(summary):
            table.add_row(*row)
        console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench deploy", description=__doc__)
    add_common_args(parser, runs=2)
    parser.add_argument("--count", type=int, help="paced messages per path (40; quick 10)")
    parser.add_argument("--interval", type=float, help="ms between paced messages (50)")
    parser.add_argument("--bulk", type=int, help="interval-0 messages (50,000; quick 5,000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.runs = min(args.runs, 1)
    paced = dict(QUICK_PACED if args.quick else PACED)
    paced["count"] = args.count or paced["count"]
    paced["interval"] = args.interval if args.interval is not None else paced["interval"]
    bulk = args.bulk or (QUICK_BULK_COUNT if args.quick else BULK_COUNT)
    cpus = client_cpus(args)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    paths, costs = latency_paths(), compression_paths()
    runs: list[dict[str, Any]] = []
    with open_target(args, "deploy") as target, start_proxy(target.url) as proxy, progress() as bar:
        task = bar.add_task("deploy", total=args.runs * (len(paths) + len(costs)), note="")
        for run in range(args.runs):
            shift = run % len(paths)  # no path is always measured first
            paced_points = []
            for path in paths[shift:] + paths[:shift]:
                bar.update(task, note=f"run {run + 1}: {path.name}")
                paced_points.append(measure_paced(path, target, proxy, paced))
                bar.advance(task)
            bulk_points = []
            for path in costs:
                bar.update(task, note=f"run {run + 1}: interval 0, {path.name}")
                bulk_points.append(measure_bulk(path, target, proxy, bulk))
                bar.advance(task)
            runs.append({"run": run, "paced": paced_points, "bulk": bulk_points})
        nginx_version = proxy.version
    summary = summarize_runs(runs)
    config = {
        "paced": paced,
        "bulk_count": bulk,
        "accept_encoding": ACCEPT_ENCODING,
        "runs": args.runs,
        "nginx_version": nginx_version,
        "locations": {location.name: location.prefix for location in LOCATIONS},
    }
    out = write_result("deploy", args, config, target.settings, runs, summary)
    print_tables(summary, Console(width=170))
    if not args.no_plot:
        from benchmarks.report.deploy_plots import plot_deploy

        print(f"plot: {plot_deploy(out)}")
    print(f"result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
