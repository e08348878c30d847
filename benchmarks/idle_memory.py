"""Idle memory: the worker's RSS per held, quiet connection of each transport on one gevent
worker: an SSE stream, a WebSocket (the showcase's ``/ws``, and flask-sock's simple-websocket
for the choice between them), and a long poll waiting for its message.

    python -m benchmarks.idle_memory [--connections 10000] [--quick] [--runs 1]

Each lane starts its own server, opens N connections that each get one message (the poll: its
request) and then stay quiet (heartbeat 300 s, the next message a minute away), and reads the
worker's RSS from /proc before and after: (after − before) ÷ N. The first 50 connections are
opened and kept before "before", so first-use costs (imports, pools) stay out of the figure.
With two CPUs or more the server runs on CPU 0 and this client on CPU 1, as every benchmark
pins them (``--no-pin``: neither).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from rich.console import Console

from benchmarks.infra.harness import (
    CLIENT_CPU,
    add_common_args,
    open_target,
    pinning_wanted,
    progress,
    report,
)
from benchmarks.report.stats import median
from benchmarks.report.tables import fmt, number_table

PATHS = {
    "sse": "/stream/sse?count=2&interval=60000&heartbeat=300",
    "ws": "/ws?count=2&interval=60000&heartbeat=300",
    "flask-sock": "/ws-sock",
    "poll": "/poll?count=2&interval=60000&after=0&wait=60000&start={start}",
}
LANES = tuple(PATHS)
APPS = {"flask-sock": "benchmarks.idle_memory:flask_sock_app()"}
CONNECTIONS = 10_000  # the client holds them all: 20,000 files a process at most
QUICK_CONNECTIONS = 300
WARM_CONNECTIONS = 50
SETTLE_S = 2.0


def flask_sock_app() -> Any:
    """The showcase plus a flask-sock route doing what idle ``/ws`` does: one message, then
    a wait for the client (simple-websocket's reader thread is a greenlet here)."""
    from flask_sock import Sock

    from showcase.web import create_app

    app = create_app()
    sock = Sock(app)

    @sock.route("/ws-sock")  # type: ignore[untyped-decorator]
    def idle(ws: Any) -> None:
        ws.send(json.dumps({"seq": 0, "ts": time.time() * 1000.0, "pad": ""}))
        ws.receive(timeout=60)

    return app


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def request_bytes(lane: str, port: int) -> bytes:
    path = PATHS[lane].format(start=time.time() * 1000.0)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if lane in ("ws", "flask-sock"):
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_connections(lane: str, port: int, count: int, advance: Any) -> list[socket.socket]:
    """``count`` connections, each past its response head (a poll: its request sent)."""
    held = []
    try:
        for _ in range(count):
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            held.append(conn)
            conn.sendall(request_bytes(lane, port))
            if lane != "poll":  # a waiting poll answers nothing until its message is due
                head = conn.recv(4096)  # the response head (and the first message)
                if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 101")):
                    raise RuntimeError(f"{lane}: {head[:80]!r}")
            advance()
    except BaseException:
        close_all(held)
        raise
    return held


def close_all(held: list[socket.socket]) -> None:
    for conn in held:
        conn.close()


def measure_lane(args: argparse.Namespace, lane: str, count: int, advance: Any) -> dict[str, Any]:
    with open_target(args, "idle_memory", app=APPS.get(lane)) as target:
        port = int(target.url.rsplit(":", 1)[1])
        health = requests.get(target.url + "/healthz", timeout=10).json()
        pid = health["pid"]  # the worker, whose memory holds the connections
        warm = open_connections(lane, port, WARM_CONNECTIONS, lambda: None)
        held: list[socket.socket] = []
        try:
            time.sleep(SETTLE_S)
            before = rss_kib(pid)
            held = open_connections(lane, port, count, advance)
            time.sleep(SETTLE_S)
            after = rss_kib(pid)
            health = requests.get(target.url + "/healthz", timeout=10).json()
        finally:
            close_all(held + warm)
    return {
        "lane": lane,
        "connections": count,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": (after - before) / count,
        "open_streams": health["open_streams"],
        "server": target.settings,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_lane: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for point in run["points"]:
            by_lane.setdefault(point["lane"], []).append(point)
    return {
        lane: {
            "lane": lane,
            "connections": points[0]["connections"],
            "kib_per_connection": median([p["kib_per_connection"] for p in points]),
            "rss_after_kib": median([p["rss_after_kib"] for p in points]),
            "runs": len(points),
        }
        for lane, points in by_lane.items()
    }


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "idle memory: worker RSS per held, quiet connection (medians)",
        ("lane", "connections", "KiB / connection", "worker RSS after, MiB"),
    )
    for row in summary.values():
        table.add_row(
            row["lane"],
            f"{row['connections']:,}",
            fmt(row["kib_per_connection"], 2),
            fmt(row["rss_after_kib"] / 1024, 1),
        )
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench idle_memory", description=__doc__)
    add_common_args(parser, runs=1)
    parser.add_argument("--connections", type=int, help=f"held a lane (default {CONNECTIONS:,})")
    parser.add_argument("--lanes", default=",".join(LANES), help="comma-separated, of %(default)s")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    count = args.connections or (QUICK_CONNECTIONS if args.quick else CONNECTIONS)
    lanes = [lane for lane in args.lanes.split(",") if lane]
    unknown = set(lanes) - set(LANES)
    if unknown:
        print(f"unknown lanes: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if pinning_wanted(args):
        os.sched_setaffinity(0, {CLIENT_CPU})
    runs: list[dict[str, Any]] = []
    with progress() as bar:
        task = bar.add_task("idle_memory", total=args.runs * len(lanes) * count, note="")
        for run in range(args.runs):
            points = []
            for lane in lanes:
                bar.update(task, note=f"run {run + 1}: {lane}")
                points.append(measure_lane(args, lane, count, lambda: bar.advance(task)))
            runs.append({"run": run, "points": points})
    summary = summarize(runs)
    config = {"connections": count, "lanes": lanes, "paths": PATHS, "settle_s": SETTLE_S}
    server = runs[0]["points"][0]["server"] if runs and runs[0]["points"] else {}
    return report(
        "idle_memory", args, config, server, runs, summary, lambda c: print_table(summary, c)
    )


if __name__ == "__main__":
    sys.exit(main())
