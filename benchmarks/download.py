"""Download: the 1 GiB sample through the zero-copy route (``/download/<name>``), a Python
generator route (``/baseline/download/<name>``) and the chunked generated route
(``/download/generated?size=N``), with Debian's nginx serving the same file in the same run:
MB/s, server CPU, and the server's RSS growth during the transfer.

    python -m benchmarks.download [--quick] [--url URL] [--runs 3] [--no-nginx]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from benchmarks import procfs
from benchmarks.environment import ROOT
from benchmarks.harness import (
    SERVER_CPU,
    add_common_args,
    client_cpus,
    fmt,
    number_table,
    open_target,
    pinning_wanted,
    progress,
    report,
)
from benchmarks.nginx import find_nginx, run_nginx
from benchmarks.stats import median, ratio
from showcase.files import SAMPLES, resolve_download

RECV_BYTES = 1 << 20
TIMEOUT_S = 120.0
RSS_PERIOD_S = 0.02
LAST_CHUNK = b"0\r\n\r\n"


def fetch_bytes(url: str, path: str, expected: int) -> tuple[int, int, float]:
    """GET ``path``; read the whole body into one reused buffer. (status, body bytes, seconds)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    buffer = bytearray(RECV_BYTES)
    view = memoryview(buffer)
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        start = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(65536)
            if not piece:
                raise ConnectionError("closed before the headers ended")
            head += piece
        head, _, rest = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        received = len(rest)
        tail = rest[-5:]
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            n = sock.recv_into(view)
            if not n:
                break
            received += n
            tail = (tail + bytes(view[max(0, n - 5) : n]))[-5:]
            if received >= expected and (tail == LAST_CHUNK or b"chunked" not in head.lower()):
                if received >= expected + (0 if b"chunked" not in head.lower() else 5):
                    break
        return status, received, time.perf_counter() - start


class RssWatch:
    """Peak RSS of some PIDs (and their children) while a transfer runs, watched from a
    separate process: a thread here would take the GIL from the receiving loop."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = procfs.sample(pids) if pids else None
        self.peak = self.start.rss_bytes if self.start else 0
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self.parent, child = context.Pipe(duplex=False)
        self.process = context.Process(target=watch_rss, args=(pids, self.stop, child))

    def __enter__(self) -> RssWatch:
        if self.pids:
            self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.pids:
            return
        self.stop.set()
        if self.parent.poll(5):
            self.peak = max(self.peak, self.parent.recv())
        self.process.join(5)


def watch_rss(pids: list[int], stop: Any, out: Any) -> None:
    """In the watcher process: sample until told to stop (bounded), send the peak back."""
    peak = 0
    deadline = time.monotonic() + TIMEOUT_S
    while not stop.wait(RSS_PERIOD_S) and time.monotonic() < deadline:
        peak = max(peak, procfs.sample(pids).rss_bytes)
    out.send(max(peak, procfs.sample(pids).rss_bytes))


def measure_route(label: str, url: str, path: str, size: int, pids: list[int]) -> dict[str, Any]:
    client_before = time.process_time()
    with RssWatch(pids) as watch:
        status, received, seconds = fetch_bytes(url, path, size)
    client_cpu = time.process_time() - client_before
    end = procfs.sample(pids) if pids else None
    start = watch.start
    return {
        "label": label,
        "url": url,
        "path": path,
        "status": status,
        "bytes": received,
        "seconds": seconds,
        "mb_per_s": size / seconds / 1e6 if status == 200 else None,
        "client_cpu_share": client_cpu / seconds if seconds else None,
        "server_cpu_s": end.cpu_s - start.cpu_s if end and start else None,
        "server_rss_before": start.rss_bytes if start else None,
        "server_rss_peak": watch.peak if start else None,
        "server_rss_growth": watch.peak - start.rss_bytes if start else None,
    }


def median_transfer(transfers: list[dict[str, Any]]) -> dict[str, Any]:
    """One route's figures in a run: the median transfer by MB/s, with every transfer kept."""
    ordered = sorted(transfers, key=lambda t: t["mb_per_s"] or 0.0)
    return {**ordered[len(ordered) // 2], "transfers": transfers}


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [p["label"] for p in runs[0]["points"]] if runs else []
    summary: dict[str, Any] = {}
    for label in labels:
        points = [p for run in runs for p in run["points"] if p["label"] == label]
        vs_nginx = []
        for run in runs:
            mine = next((p for p in run["points"] if p["label"] == label), None)
            ref = next((p for p in run["points"] if p["label"] == "nginx"), None)
            if mine and ref:
                vs_nginx.append(ratio(mine["mb_per_s"] or 0.0, ref["mb_per_s"] or 0.0))
        summary[label] = {
            "label": label,
            "mb_per_s": median([p["mb_per_s"] for p in points]),
            "server_cpu_s": median([p["server_cpu_s"] for p in points]),
            "client_cpu_share": median([p["client_cpu_share"] for p in points]),
            "server_rss_growth": max((p["server_rss_growth"] or 0) for p in points),
            "vs_nginx": median(vs_nginx),
            "complete": sum(p["status"] == 200 and p["bytes"] >= 0 for p in points),
        }
    return summary


def print_table(summary: dict[str, Any], size: int, console: Console) -> None:
    table = number_table(
        f"download of {size / 2**20:,.0f} MiB, medians (RSS growth: max)",
        ("route", "MB/s", "× nginx", "server CPU s", "client CPU", "RSS growth KiB"),
    )
    for row in summary.values():
        table.add_row(
            row["label"],
            fmt(row["mb_per_s"], 0),
            fmt(row["vs_nginx"], 2),
            fmt(row["server_cpu_s"], 2),
            fmt((row["client_cpu_share"] or 0) * 100, 0) + " %",
            fmt(row["server_rss_growth"] / 1024, 0),
        )
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench download", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--file", help="sample name (default 1GiB.bin; --quick: 64MiB.bin)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="files for nginx")
    parser.add_argument(
        "--transfers", type=int, default=3, help="transfers per route and run (median kept)"
    )
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx reference")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = args.file or ("64MiB.bin" if args.quick else "1GiB.bin")
    size = SAMPLES.get(name) or resolve_download(args.data_dir, name).stat().st_size
    resolve_download(args.data_dir.resolve(), name)  # make the sample before timing anything
    cpus = client_cpus(args)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    binary = None if args.no_nginx else find_nginx()
    routes = {
        "zero-copy": f"/download/{name}",
        "generator": f"/baseline/download/{name}",
        "generated": f"/download/generated?size={size}",
    }
    runs: list[dict[str, Any]] = []
    env = {"SHOWCASE_DATA_DIR": str(args.data_dir.resolve())}
    nginx_version = None
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(open_target(args, "download", env=env))
        # (label, base URL, path, PIDs to read): nginx runs for the whole benchmark, so every
        # route is measured between the others, in an order that rotates from run to run.
        targets = [(label, target.url, path, target.pids) for label, path in routes.items()]
        if binary:
            cpu = SERVER_CPU if pinning_wanted(args) else None
            nginx = stack.enter_context(run_nginx(binary, args.data_dir, cpu))
            nginx_version = nginx.version
            targets.append(("nginx", nginx.url, f"/download/{name}", [nginx.pid]))
        bar = stack.enter_context(progress())
        task = bar.add_task("download", total=args.runs * args.transfers * len(targets), note="")
        for run in range(args.runs):
            shift = run % len(targets)
            order = targets[shift:] + targets[:shift]
            transfers: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in targets}
            for attempt in range(args.transfers):
                for label, url, path, pids in order:
                    bar.update(task, note=f"run {run + 1}.{attempt + 1}: {label}")
                    transfers[label].append(measure_route(label, url, path, size, pids))
                    bar.advance(task)
            points = [median_transfer(transfers[label]) for label, *_ in targets]
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {
        "transfers": args.transfers,
        "file": name,
        "bytes": size,
        "routes": routes,
        "nginx": nginx_version,
        "recv_bytes": RECV_BYTES,
    }
    return report(
        "download",
        args,
        config,
        target.settings,
        runs,
        summary,
        lambda console: print_table(summary, size, console),
    )


if __name__ == "__main__":
    sys.exit(main())
