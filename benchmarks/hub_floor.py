"""The fan-out floor: what this machine's kernel alone takes to send one hub message to N
TCP connections over loopback, with no server, no Python app code beyond a ``send`` loop.

One process on the server CPU accepts N connections and, once a round, sends the same
chunk-framed SSE message to each in a plain loop of non-blocking ``send``; another on the
client CPU reads them all with epoll, as the subscribers do. Per round: the wall time of the
loop ÷ N. Any server with one connection per subscriber pays at least this per delivery here
(the syscall and the TCP/IP path, on loopback also the receiving side's softirq, which runs on
the sender's core), whatever its language: the hub's own cost is what it adds on top.

    python -m benchmarks.hub_floor [--connections 10000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.stats import summarize
from benchmarks.wire import raise_fd_limit
from showcase.hub.event import message_event

CONNECTIONS = 10_000  # per process: under the 20,000 open files each may hold
ROUNDS = 10
ROUND_GAP_S = 0.2  # between rounds: the reader drains, the sender's loop starts from idle
DEADLINE_S = 120.0  # every process gives up after this, whatever happened


def hub_message() -> bytes:
    """A hub benchmark message as the hub writes it on an HTTP/1.1 stream (one chunk)."""
    text = "hub benchmark message 0"
    event = message_event(12, "12", "bench", "publisher", text, time.time() * 1000.0)
    return event.wire(("sse", True))


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def _sender(
    listener: socket.socket, n: int, rounds: int, ready: int, out: int, cpu: int | None
) -> None:
    _pin(cpu)
    deadline = time.monotonic() + DEADLINE_S
    listener.settimeout(DEADLINE_S)
    sockets = []
    for _ in range(n):
        conn, _ = listener.accept()
        conn.setblocking(False)
        sockets.append(conn)
    listener.close()
    os.read(ready, 1)  # the reader has every connection registered
    data = hub_message()
    per_send_us: list[float] = []
    short = 0
    for _ in range(rounds):
        if time.monotonic() > deadline:
            break
        time.sleep(ROUND_GAP_S)
        start = time.perf_counter()
        for conn in sockets:
            try:
                short += conn.send(data) < len(data)
            except BlockingIOError:
                short += 1
        per_send_us.append((time.perf_counter() - start) / n * 1e6)
    os.write(out, json.dumps({"per_send_us": per_send_us, "short_sends": short}).encode())


def _reader(port: int, n: int, rounds: int, ready: int, cpu: int | None) -> None:
    _pin(cpu)
    deadline = time.monotonic() + DEADLINE_S
    poller = select.epoll()
    sockets = []
    for _ in range(n):
        conn = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        conn.setblocking(False)
        poller.register(conn.fileno(), select.EPOLLIN)
        sockets.append(conn)
    os.write(ready, b"x")
    expected, seen = n * rounds, 0
    while seen < expected and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            piece = os.read(fd, 65536)
            if not piece:
                poller.unregister(fd)
            seen += piece.count(b"\n\n")


def measure_floor(
    connections: int = CONNECTIONS,
    rounds: int = ROUNDS,
    server_cpu: int | None = None,
    client_cpu: int | None = None,
) -> dict[str, Any]:
    """Fork the sender and the reader, run ``rounds`` fan-outs to ``connections``, and
    return µs per send (per round, and summarized) and the message's size."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    ready_r, ready_w = os.pipe()
    out_r, out_w = os.pipe()
    children = []
    sender = os.fork()
    if sender == 0:  # pragma: no cover - the child
        status = 1
        try:
            raise_fd_limit()
            _sender(listener, connections, rounds, ready_r, out_w, server_cpu)
            status = 0
        finally:
            os._exit(status)
    children.append(sender)
    listener.close()
    reader = os.fork()
    if reader == 0:  # pragma: no cover - the child
        status = 1
        try:
            raise_fd_limit()
            _reader(port, connections, rounds, ready_w, client_cpu)
            status = 0
        finally:
            os._exit(status)
    children.append(reader)
    for fd in (ready_r, ready_w, out_w):
        os.close(fd)
    chunks = []
    while piece := os.read(out_r, 65536):
        chunks.append(piece)
    os.close(out_r)
    for pid in children:
        os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the floor's sender reported nothing")
    result = json.loads(b"".join(chunks))
    per_send = result["per_send_us"]
    return {
        "connections": connections,
        "rounds": len(per_send),
        "message_bytes": len(hub_message()),
        "per_send_us": [round(x, 3) for x in per_send],
        "us_per_send": summarize(per_send),
        "short_sends": result["short_sends"],
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub_floor", description=__doc__)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[-1]) if len(cpus) > 1 else (None, None)
    floor = measure_floor(args.connections, args.rounds, server_cpu, client_cpu)
    us = floor["us_per_send"]
    print(
        f"{floor['connections']:,} connections, {floor['message_bytes']} B: "
        f"p50 {us['p50']:.2f} µs per send (min {min(floor['per_send_us']):.2f}, "
        f"max {us['max']:.2f}) = {us['p50'] * floor['connections'] / 1000:.1f} ms per fan-out"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
