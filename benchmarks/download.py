"""Download: the 1 GiB sample through the zero-copy route (``/download/<name>``), a Python
generator route (``/baseline/download/<name>``) and the chunked generated route
(``/download/generated?size=N``), with Debian's nginx serving the same file in the same run:
MB/s of the bytes that arrived, server CPU, the server's RSS growth during the transfer, and
its /proc/<pid>/io counters (``sendfile`` counts as a write of the file's bytes; a socket
``send`` does not). A transfer is complete when exactly the file's bytes arrived and the body
ended as its framing says. Without nginx the result says why (``config.nginx.skipped``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from benchmarks.infra import procfs
from benchmarks.infra.environment import ROOT
from benchmarks.infra.harness import (
    SERVER_CPU,
    STDERR,
    add_common_args,
    client_cpus,
    open_target,
    pinning_wanted,
    progress,
    report,
)
from benchmarks.infra.nginx import find_nginx, run_nginx
from benchmarks.report.stats import median, ratio
from benchmarks.report.tables import fmt, number_table
from showcase.runtime.files import SAMPLES, resolve_download
from showcase.tools.response_head import read_head

RECV_BYTES = 1 << 20
TIMEOUT_S = 120.0
RSS_PERIOD_S = 0.02
MAX_LINE_BYTES = 4096
IO_FIELDS = ("syscr", "syscw", "rchar", "wchar")


@dataclass
class Transfer:
    """One GET as the client saw it: payload bytes (chunking removed), wire bytes (the body as
    read), whether the body ended as its framing says, and the client's own CPU for it."""

    status: int
    payload_bytes: int
    wire_bytes: int
    ended: bool
    seconds: float
    client_cpu_s: float


class ChunkCounter:
    """Counts the payload of a chunked body (RFC 9112 §7.1) in the receive buffer, without
    copying it: only chunk-size lines and trailers are read. The project's strict decoder
    (``showcase.pure.framing.chunked``) copies every byte in Python, which would make the client,
    not the server, the bottleneck of a download benchmark."""

    def __init__(self) -> None:
        self.state = "size"  # size -> data -> data_end -> size ... -> trailer -> done
        self.remaining = 0
        self.line = b""
        self.payload_bytes = 0

    @property
    def done(self) -> bool:
        return self.state == "done"

    def feed(self, buffer: bytearray, n: int) -> None:
        """Account for ``buffer[:n]``; raise ValueError on a malformed size line."""
        pos = 0
        while pos < n and self.state != "done":
            if self.state == "data":
                take = min(self.remaining, n - pos)
                pos += take
                self.remaining -= take
                self.payload_bytes += take
                if not self.remaining:
                    self.state = "data_end"
                continue
            end = buffer.find(b"\n", pos, n)
            if end < 0:
                self.line += bytes(buffer[pos:n])
                if len(self.line) > MAX_LINE_BYTES:
                    raise ValueError("chunked line too long")
                return
            line, self.line, pos = self.line + bytes(buffer[pos : end + 1]), b"", end + 1
            self.take_line(line)

    def take_line(self, line: bytes) -> None:
        if self.state == "data_end":
            if line != b"\r\n":
                raise ValueError(f"chunk data not followed by CRLF: {line[:20]!r}")
            self.state = "size"
        elif self.state == "size":
            size = int(line.split(b";", 1)[0].strip(), 16)
            self.state, self.remaining = ("data", size) if size else ("trailer", 0)
        elif line == b"\r\n":  # the empty line that ends the trailer section
            self.state = "done"


def fetch_bytes(url: str, path: str) -> Transfer:
    """GET ``path`` and read the whole body into one reused buffer, counting as it comes.

    The body has ended when Content-Length bytes arrived or the last chunk and trailers were
    read; a connection closed before that leaves ``ended`` False. Client CPU is this
    function's alone (``time.process_time`` of this process, request to last byte).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    buffer = bytearray(RECV_BYTES)
    view = memoryview(buffer)
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        cpu_start = time.process_time()
        start = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status, headers, rest = read_head(sock)
        chunks = ChunkCounter() if "chunked" in headers.get("transfer-encoding", "") else None
        length = None if chunks else int(headers.get("content-length", -1))
        wire = len(rest)
        buffer[: len(rest)] = rest
        n = len(rest)
        deadline = time.monotonic() + TIMEOUT_S
        ended = False
        try:
            while True:
                if chunks is not None:
                    chunks.feed(buffer, n)
                    ended = chunks.done
                else:
                    ended = length is not None and length >= 0 and wire >= length
                if ended or time.monotonic() > deadline:
                    break
                n = sock.recv_into(view)
                if not n:
                    ended = length == -1  # no length, no chunking: the close ends the body
                    break
                wire += n
        except ValueError:
            ended = False  # a malformed chunked body
        seconds = time.perf_counter() - start
        client_cpu = time.process_time() - cpu_start
    payload = chunks.payload_bytes if chunks is not None else wire
    return Transfer(status, payload, wire, ended, seconds, client_cpu)


def io_sample(pids: list[int]) -> dict[str, int] | None:
    """/proc/<pid>/io counters summed over ``pids`` and their children (None without PIDs)."""
    if not pids:
        return None
    total = dict.fromkeys(IO_FIELDS, 0)
    for pid in procfs.process_tree(pids):
        try:
            counters = procfs.io_counters(pid)
        except (OSError, ValueError):
            continue
        for name in IO_FIELDS:
            total[name] += counters.get(name, 0)
    return total


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
    """One transfer of ``path``: the client's figures, the server's CPU, RSS peak and I/O."""
    with RssWatch(pids) as watch:
        io_before = io_sample(pids)
        transfer = fetch_bytes(url, path)
        io_after = io_sample(pids)
    end = procfs.sample(pids) if pids else None
    start = watch.start
    seconds = transfer.seconds
    return {
        "label": label,
        "url": url,
        "path": path,
        "status": transfer.status,
        "expected_bytes": size,
        "bytes": transfer.payload_bytes,
        "wire_bytes": transfer.wire_bytes,
        "ended": transfer.ended,
        "seconds": seconds,
        # The bytes that arrived, not the file's size: a transfer cut short is not fast.
        "mb_per_s": transfer.payload_bytes / seconds / 1e6 if seconds else None,
        "client_cpu_s": transfer.client_cpu_s,
        "client_cpu_share": transfer.client_cpu_s / seconds if seconds else None,
        "server_cpu_s": end.cpu_s - start.cpu_s if end and start else None,
        "server_cpu_clock": end.clock if end else None,
        "server_io": (
            {name: io_after[name] - io_before[name] for name in IO_FIELDS}
            if io_before and io_after
            else None
        ),
        "server_rss_before": start.rss_bytes if start else None,
        "server_rss_peak": watch.peak if start else None,
        "server_rss_growth": watch.peak - start.rss_bytes if start else None,
    }


def is_complete(point: dict[str, Any]) -> bool:
    """200, the body ended as its framing says, and exactly the file's bytes arrived."""
    return bool(
        point["status"] == 200 and point["ended"] and point["bytes"] == point["expected_bytes"]
    )


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
            "server_write_syscalls": median(
                [(p.get("server_io") or {}).get("syscw") for p in points]
            ),
            "server_written_bytes": median(
                [(p.get("server_io") or {}).get("wchar") for p in points]
            ),
            "complete": sum(is_complete(t) for p in points for t in p.get("transfers", [p])),
            "transfers": sum(len(p.get("transfers", [p])) for p in points),
        }
    return summary


def print_table(
    summary: dict[str, Any], size: int, nginx: dict[str, str], console: Console
) -> None:
    table = number_table(
        f"download of {size / 2**20:,.0f} MiB, medians (RSS growth: max)",
        (
            "route",
            "MB/s",
            "× nginx",
            "server CPU s",
            "client CPU",
            "RSS growth KiB",
            "sendfile/write MiB",
            "complete",
        ),
    )
    for row in summary.values():
        written = row.get("server_written_bytes")
        table.add_row(
            row["label"],
            fmt(row["mb_per_s"], 0),
            fmt(row["vs_nginx"], 2),
            fmt(row["server_cpu_s"], 3),
            fmt((row["client_cpu_share"] or 0) * 100, 0) + " %",
            fmt(row["server_rss_growth"] / 1024, 0),
            fmt(written / 2**20 if written is not None else None, 0),
            f"{row['complete']}/{row['transfers']}",
        )
    console.print(table)
    if "skipped" in nginx:
        console.print(f"nginx: skipped ({nginx['skipped']}); no × nginx figures")


def nginx_skipped(args: argparse.Namespace) -> tuple[str | None, dict[str, str]]:
    """The nginx binary to run, or None and ``{"skipped": reason}``: said, never silent."""
    if args.no_nginx:
        return None, {"skipped": "--no-nginx"}
    binary, reason = find_nginx()
    return binary, ({} if binary else {"skipped": reason})


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
    binary, nginx_note = nginx_skipped(args)
    routes = {
        "zero-copy": f"/download/{name}",
        "generator": f"/baseline/download/{name}",
        "generated": f"/download/generated?size={size}",
    }
    runs: list[dict[str, Any]] = []
    env = {"SHOWCASE_DATA_DIR": str(args.data_dir.resolve())}
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(open_target(args, "download", env=env))
        # (label, base URL, path, PIDs to read): nginx runs for the whole benchmark, so every
        # route is measured between the others, in an order that rotates from run to run.
        targets = [(label, target.url, path, target.pids) for label, path in routes.items()]
        if binary:
            cpu = SERVER_CPU if pinning_wanted(args) else None
            try:
                nginx = stack.enter_context(run_nginx(binary, args.data_dir, cpu))
            except RuntimeError as error:
                nginx_note = {"skipped": str(error)[:300]}
            else:
                nginx_note = {"version": nginx.version, "binary": binary}
                targets.append(("nginx", nginx.url, f"/download/{name}", [nginx.pid]))
        if "skipped" in nginx_note:
            STDERR.print(f"[yellow]nginx: skipped ({nginx_note['skipped']})")
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
        "nginx": nginx_note,
        "recv_bytes": RECV_BYTES,
    }
    return report(
        "download",
        args,
        config,
        target.settings,
        runs,
        summary,
        lambda console: print_table(summary, size, nginx_note, console),
    )


if __name__ == "__main__":
    sys.exit(main())
