"""Disconnect detection: the time from a client's disappearance to its stream's cleanup on the
server, against the heartbeat period (1, 3, 5, 10 s), for a client that closed (its FIN
arrives) and one that vanished (no FIN, no RST, nothing: a black hole).

    python -m benchmarks.disconnect [--quick] [--reps 5] [--out results/latest/disconnect.json]

Server and clients run in a network namespace of the benchmark's own (``deploy_netns``),
on its 127.0.0.1; a client vanishes when that loopback becomes a black hole and the client
closes its socket (its FIN is held with every other packet). Each idle stream sends only
heartbeats; the cleanup is timed by the server's descriptor for the connection closing
(``deploy_probe``). A vanished stream that carries data (256 KiB every 50 ms) shows the send
deadline (``--send-timeout``) instead. Root only.
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.infra.deploy_netns import HOLE_HOLDS_S, Namespace, open_namespace
from benchmarks.infra.deploy_probe import HeldConnection, watch_closes
from benchmarks.infra.harness import RESULTS_DIR, progress, write_result
from benchmarks.report.disconnect import HEADER, LINUX_TCP_RETRIES2, retransmission_timeout_s, rows
from benchmarks.report.stats import median
from benchmarks.report.tables import number_table
from showcase.tools.launcher import RunningServer, start_server

HEARTBEATS_S = (1.0, 3.0, 5.0, 10.0)
QUICK_HEARTBEATS_S = (1.0,)
CASES = ("closed", "vanished", "vanished-data")
# An idle stream: the first message at once, then 60 s pauses (the contract's longest) cut
# into heartbeat slices; three messages outlast any measurement here.
IDLE_QUERY = "count=3&interval=60000&heartbeat={heartbeat:g}"
# A stream that carries data: 256 KiB every 50 ms fills any send buffer (4 MiB at most,
# tcp_wmem) within a second once nothing is acknowledged.
DATA_QUERY = "count=2000&interval=50&size=262144&heartbeat={heartbeat:g}"
DATA_WARM_S = 1.0  # the data streams flow (read by a thread each) this long before vanishing
DATA_HEARTBEAT_S = 1.0
SEND_TIMEOUT_S = 5.0
TCP_RETRIES2 = LINUX_TCP_RETRIES2  # the namespace's: the server's TCP_USER_TIMEOUT ends it first
FIRST_MESSAGE_TIMEOUT_S = 5.0
SLACK_S = 5.0


def give_up_s(retries2: int, send_timeout_s: float) -> float:
    """When TCP ends a connection whose data goes unacknowledged: the server sets
    ``TCP_USER_TIMEOUT`` to its send deadline (showcase.runtime.worker), which replaces the
    ``tcp_retries2`` limit."""
    return min(retransmission_timeout_s(retries2), send_timeout_s)


def vanish_limit_s(args: argparse.Namespace, retries2: int) -> float:
    """How long the vanished clients are watched: two heartbeat periods beyond the time TCP
    gives up (``give_up_s``), within what the black hole holds."""
    hb_max: float = max(args.heartbeats)
    wanted: float = 2 * hb_max + give_up_s(retries2, args.send_timeout) + SLACK_S
    if wanted > HOLE_HOLDS_S:
        raise SystemExit(
            f"the black hole holds {HOLE_HOLDS_S:g} s; heartbeats up to {hb_max:g} s with "
            f"tcp_retries2 = {retries2} need {wanted:g} s: lower one of them"
        )
    return wanted


@dataclass
class Client:
    """One measured stream: the client's socket and the server's end of it."""

    case: str
    heartbeat_s: float
    sock: socket.socket
    port: int  # the client's
    held: HeldConnection
    opened_at: float
    left_at: float | None = None

    def record(self, log: str) -> dict[str, Any]:
        closed = self.held.closed_at
        gone = closed - self.left_at if closed is not None and self.left_at else None
        return {
            "case": self.case,
            "heartbeat_s": self.heartbeat_s,
            "cleanup_s": gone,
            "cut_by": cut_by(self, log),
            "phase_s": (self.left_at - self.opened_at) % self.heartbeat_s
            if self.left_at and self.case != "vanished-data"
            else None,
            "server_fd": self.held.fd,
            "port": self.port,
        }


def cut_by(client: Client, log: str) -> str:
    """What ended the stream: the send deadline or the kernel giving up (ETIMEDOUT at
    TCP_USER_TIMEOUT; the worker logs either with the peer), or a failed write to a closed
    peer (EPIPE/ECONNRESET, not logged)."""
    if client.held.closed_at is None:
        return "not cleaned up"
    if f":{client.port} cut: a write took longer" in log:
        return "send deadline"
    if f":{client.port} cut: the client acknowledged nothing" in log:
        return "TCP gave up (ETIMEDOUT)"
    return "write failed (peer closed)" if client.case == "closed" else "no log line"


def open_client(server: RunningServer, case: str, heartbeat_s: float) -> Client:
    """Connect, ask for the stream, read until its first message; find the server's fd."""
    port = int(server.url.rsplit(":", 1)[1])
    query = (DATA_QUERY if case == "vanished-data" else IDLE_QUERY).format(heartbeat=heartbeat_s)
    sock = socket.create_connection(("127.0.0.1", port), timeout=FIRST_MESSAGE_TIMEOUT_S)
    sock.sendall(f"GET /stream/sse?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    seen = b""
    while b"\ndata:" not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"the stream ended before its first message: {seen[:200]!r}")
        seen += chunk
    mine = sock.getsockname()[1]
    held = HeldConnection.find(server.worker_pids[0], port, mine)
    return Client(case, heartbeat_s, sock, mine, held, time.monotonic())


def open_clients(
    namespace: Namespace, server: RunningServer, plan: list[tuple[str, float]]
) -> list[Client]:
    """Open ``plan``'s streams at random moments over one heartbeat period each, so the
    moment they are left falls at every phase of the heartbeat."""
    start = time.monotonic()
    at = sorted((random.uniform(0, hb), case, hb) for case, hb in plan)
    clients = []
    with namespace.inside():
        for offset, case, heartbeat in at:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            clients.append(open_client(server, case, heartbeat))
    return clients


def leave(clients: list[Client], at: float | None = None) -> None:
    """Close every client's socket; it left at ``at`` (the black hole), else at its close.

    The heartbeats that arrived since the first message are read first, as a browser would
    have: closing a socket with unread data sends an RST instead of a FIN (RFC 2525 §2.17),
    and an RST makes the server's very next write fail, one write earlier than a FIN."""
    for client in clients:
        drain(client.sock)
        client.left_at = at if at is not None else time.monotonic()
        client.sock.close()


def drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(1 << 16):
            pass
    except (BlockingIOError, OSError):
        pass


class Drain:
    """A thread per data stream reading it as fast as it comes, until ``stop``."""

    def __init__(self, clients: list[Client]) -> None:
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(c.sock,)) for c in clients]
        for thread in self.threads:
            thread.start()

    def _read(self, sock: socket.socket) -> None:
        sock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                if not sock.recv(1 << 20):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5.0)


def measure(
    args: argparse.Namespace, bar: Any, task: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every client of every case and heartbeat period; the settings measured with."""
    random.seed(args.seed)
    plan_closed = [("closed", hb) for hb in args.heartbeats for _ in range(args.reps)]
    plan_vanished = [("vanished", hb) for hb in args.heartbeats for _ in range(args.reps)]
    plan_data = [("vanished-data", DATA_HEARTBEAT_S)] * args.reps
    log_path = RESULTS_DIR / "logs" / f"disconnect-{time.time_ns()}.log"
    records: list[dict[str, Any]] = []
    vanish_limit_s(args, args.tcp_retries2)  # refuse a plan the black hole cannot hold
    with open_namespace() as namespace:
        retries2 = namespace.sysctl("net.ipv4.tcp_retries2", args.tcp_retries2)
        with namespace.inside():
            server = start_server(
                log_path, env={"SHOWCASE_SEND_TIMEOUT_S": f"{args.send_timeout:g}"}
            )
        try:
            bar.update(task, note="opening streams")
            clients = open_clients(namespace, server, plan_closed + plan_vanished)
            closed = [c for c in clients if c.case == "closed"]
            vanished = [c for c in clients if c.case != "closed"]
            bar.update(task, note="closed: waiting for cleanup")
            leave(closed)
            hb_max = max(args.heartbeats)
            watch_closes([c.held for c in closed], time.monotonic() + 2 * hb_max + SLACK_S)
            bar.advance(task)
            bar.update(task, note="vanished: black hole on")
            with namespace.inside():
                data = [open_client(server, case, hb) for case, hb in plan_data]
            drain = Drain(data)
            time.sleep(DATA_WARM_S)
            clients += data
            vanished += data
            namespace.black_hole()
            hole_at = time.monotonic()
            try:
                drain.stop()
                leave(vanished, hole_at)
                watch_closes([c.held for c in vanished], hole_at + vanish_limit_s(args, retries2))
            finally:
                namespace.open_hole()
            bar.advance(task)
        finally:
            server.stop()
        log = log_path.read_text(errors="replace")
        records = [client.record(log) for client in clients]
    settings = {
        "namespace": namespace.name,
        "tcp_retries2": retries2,
        "retransmission_timeout_s": retransmission_timeout_s(retries2),
        "send_timeout_s": args.send_timeout,
        "tcp_user_timeout_s": args.send_timeout,  # the server sets it to the send deadline
        "give_up_s": give_up_s(retries2, args.send_timeout),
        "log": str(log_path),
        "timeouts_in_log": log.count("cut: the client acknowledged nothing"),
        "send_deadlines_in_log": log.count("cut: a write took longer"),
    }
    return records, settings


def summarize_records(records: list[dict[str, Any]], tcp_s: float) -> dict[str, Any]:
    """Per case and heartbeat period: median, min and max seconds to cleanup, and what cut;
    for a vanished idle stream also how far the median lies beyond ``tcp_s``, when TCP gives
    up on unacknowledged data (expected: up to two heartbeat periods)."""
    points: dict[str, Any] = {}
    for case in CASES:
        for heartbeat in sorted({r["heartbeat_s"] for r in records if r["case"] == case}):
            mine = [r for r in records if r["case"] == case and r["heartbeat_s"] == heartbeat]
            times = [r["cleanup_s"] for r in mine if r["cleanup_s"] is not None]
            reasons: dict[str, int] = {}
            for r in mine:
                reasons[r["cut_by"]] = reasons.get(r["cut_by"], 0) + 1
            points[f"{case}/{heartbeat:g}s"] = {
                "case": case,
                "heartbeat_s": heartbeat,
                "clients": len(mine),
                "cleaned_up": len(times),
                "median_s": median(times),
                "min_s": min(times, default=math.nan),
                "max_s": max(times, default=math.nan),
                "median_periods": median(times) / heartbeat if times else math.nan,
                "cut_by": reasons,
                "beyond_tcp_s": median(times) - tcp_s if case == "vanished" else math.nan,
            }
    return points


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "disconnect: seconds from the client leaving to the stream's cleanup", HEADER
    )
    for row in rows(summary):
        table.add_row(*row)
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench disconnect", description=__doc__)
    parser.add_argument(
        "--out", type=Path, help="JSON result file (default results/disconnect-<time>.json)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 s heartbeat only, 2 clients per point"
    )
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    parser.add_argument("--reps", type=int, help="clients per case and period (default 5; quick 2)")
    parser.add_argument("--heartbeats", type=parse_seconds, help="periods in s, e.g. 1,3,5,10")
    parser.add_argument(
        "--send-timeout", type=float, default=SEND_TIMEOUT_S, help="s (default %(default)s)"
    )
    parser.add_argument(
        "--tcp-retries2",
        type=int,
        help=f"the namespace's net.ipv4.tcp_retries2 (default {TCP_RETRIES2}, Linux's)",
    )
    parser.add_argument("--seed", type=int, default=11, help="random phases (default %(default)s)")
    # The suite passes these to every benchmark: the repetitions here are --reps, measured
    # at once (a run is a minute of mostly waiting), and nothing is pinned.
    parser.add_argument("--runs", type=int, default=1, help="accepted for the suite; see --reps")
    parser.add_argument("--no-pin", action="store_true", help="accepted; nothing is pinned")
    return parser


def parse_seconds(text: str) -> tuple[float, ...]:
    return tuple(float(item) for item in text.split(",") if item)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.reps = args.reps or (2 if args.quick else 5)
    args.heartbeats = args.heartbeats or (QUICK_HEARTBEATS_S if args.quick else HEARTBEATS_S)
    if args.tcp_retries2 is None:
        args.tcp_retries2 = TCP_RETRIES2
    if args.quick:
        args.send_timeout = min(args.send_timeout, 2.0)
    with progress() as bar:
        task = bar.add_task("disconnect", total=2, note="namespace")
        records, settings = measure(args, bar, task)
    summary = {"points": summarize_records(records, settings["give_up_s"])}
    config = {
        "heartbeats_s": list(args.heartbeats),
        "reps": args.reps,
        "cases": list(CASES),
        "idle_query": IDLE_QUERY,
        "data_query": DATA_QUERY.format(heartbeat=DATA_HEARTBEAT_S),
        "linux_default_tcp_retries2": LINUX_TCP_RETRIES2,
        "linux_default_retransmission_timeout_s": retransmission_timeout_s(LINUX_TCP_RETRIES2),
        "seed": args.seed,
        **settings,
    }
    args.no_pin = True
    server = {"own": True, "workers": 1, "worker_class": "gevent", "where": "network namespace"}
    out = write_result(
        "disconnect", args, config, server, [{"run": 0, "clients": records}], summary
    )
    print_table(summary, Console(width=160))
    if not args.no_plot:
        from benchmarks.report.deploy_plots import plot_disconnect

        print(f"plot: {plot_disconnect(out)}")
    print(f"result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
