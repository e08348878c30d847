"""The kernel floor: what this machine takes to put messages on N loopback TCP connections
that a client reads, with no server and no app code beyond a loop of ``send``.

One process on the server CPU accepts N connections and sends them a small chunk-framed SSE
message; another on the client CPU reads them all with epoll, as the benchmarks' clients do.
Two shapes, the two the benchmarks measure:

- ``fanout``: once a round, the same message to every connection in one tight loop (a hub
  publish). Per round: the wall time of the loop ÷ N.
- ``paced``: every connection gets a message every ``interval_s``, the connections' turns
  spread evenly (held streams). The sender's CPU share while it runs, and ÷ messages.

Whatever a server is written in, with one connection per client it pays at least this per
message here: the system call, the TCP/IP path and, on loopback, the receiving side's
softirq and the wake-up of the reading process, which run on the sender's core (in this VM
a wake-up crosses to the other vCPU and costs most of it). A benchmark's figure less this is
what the server adds.

    python -m benchmarks.floor [--connections 10000] [--rounds 10] [--paced 5] [--interval 1]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.load.wire import raise_fd_limit
from benchmarks.report.stats import summarize
from showcase.hub.event import message_event

CONNECTIONS = 10_000  # per process: under the 20,000 open files each may hold
ROUNDS = 10
ROUND_GAP_S = 0.2  # between fan-outs: the reader drains, the loop starts from idle
PACED_S = 5.0  # how long the paced sender runs
INTERVAL_S = 1.0
TICK_S = 0.001  # the paced sender's shortest sleep
DEADLINE_S = 120.0  # every process gives up after this, whatever happened


def wire_message() -> bytes:
    """A hub benchmark message as the hub writes it on an HTTP/1.1 stream (one chunk); a held
    stream's tick is about as long."""
    text = "hub benchmark message 0"
    # A fixed ts of a real one's length: the same bytes every time (a clock's repr varies).
    event = message_event(12, "12", "bench", "publisher", text, 1_767_225_600_000.125)
    return event.wire(("sse", True))


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def _fanout(sockets: list[socket.socket], data: bytes, rounds: int) -> dict[str, Any]:
    per_send_us: list[float] = []
    short = 0
    deadline = time.monotonic() + DEADLINE_S
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
        per_send_us.append((time.perf_counter() - start) / len(sockets) * 1e6)
    return {"per_send_us": per_send_us, "short_sends": short}


def _paced(
    sockets: list[socket.socket], data: bytes, run_s: float, interval_s: float
) -> dict[str, Any]:
    """Connection i is due at i × interval ÷ N, then every interval; each wake-up sends to
    every connection due by then and sleeps at least TICK_S: an event loop's timers wake it
    no more often (epoll's timeout is in ms), and a wake-up per message would measure this
    loop's sleeps, not the sends."""
    n = len(sockets)
    step = interval_s / n
    start = time.monotonic()
    cpu_start = time.process_time()
    sent = short = 0
    turn = 0
    while True:
        now = time.monotonic()
        if now - start >= run_s:
            break
        due = min(int((now - start) / step) + 1, int(run_s / step))
        while turn < due:
            try:
                short += sockets[turn % n].send(data) < len(data)
            except BlockingIOError:
                short += 1
            turn += 1
            sent += 1
        time.sleep(max(TICK_S, start + turn * step - time.monotonic()))
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    return {"sent": sent, "short_sends": short, "wall_s": wall, "cpu_s": cpu}


def _sender(
    listener: socket.socket,
    n: int,
    ready: int,
    out: int,
    cpu: int | None,
    work: Callable[[list[socket.socket], bytes], dict[str, Any]],
) -> None:
    _pin(cpu)
    listener.settimeout(DEADLINE_S)
    sockets = []
    for _ in range(n):
        conn, _ = listener.accept()
        conn.setblocking(False)
        sockets.append(conn)
    listener.close()
    os.read(ready, 1)  # the reader has every connection registered
    os.write(out, json.dumps(work(sockets, wire_message())).encode())


def _reader(port: int, n: int, ready: int, cpu: int | None, run_s: float) -> None:
    _pin(cpu)
    poller = select.epoll()
    sockets = []
    for _ in range(n):
        conn = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        conn.setblocking(False)
        poller.register(conn.fileno(), select.EPOLLIN)
        sockets.append(conn)
    os.write(ready, b"x")
    deadline = time.monotonic() + min(run_s, DEADLINE_S)
    while time.monotonic() < deadline:
        for fd, _ in poller.poll(0.5):
            if not os.read(fd, 65536):
                poller.unregister(fd)


def _run(
    connections: int,
    server_cpu: int | None,
    client_cpu: int | None,
    work: Callable[[list[socket.socket], bytes], dict[str, Any]],
    reader_s: float,
) -> dict[str, Any]:
    """Fork the sender (running ``work``) and the reader; the sender's report."""
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
            _sender(listener, connections, ready_r, out_w, server_cpu, work)
            status = 0
        finally:
            os._exit(status)
    children.append(sender)
    listener.close()
    reader = os.fork()
    if reader == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(out_w)  # the sender's report pipe: held open here, it would never end
            os.close(out_r)
            raise_fd_limit()
            _reader(port, connections, ready_w, client_cpu, reader_s)
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
    os.kill(reader, 9)  # done reading once the sender has reported: do not wait it out
    for pid in children:
        os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the floor's sender reported nothing")
    report: dict[str, Any] = json.loads(b"".join(chunks))
    return report


def measure_floor(
    connections: int = CONNECTIONS,
    rounds: int = ROUNDS,
    server_cpu: int | None = None,
    client_cpu: int | None = None,
) -> dict[str, Any]:
    """The fan-out floor: µs per send, per round and summarized, and the message's size."""

    def work(sockets: list[socket.socket], data: bytes) -> dict[str, Any]:
        return _fanout(sockets, data, rounds)

    result = _run(connections, server_cpu, client_cpu, work, DEADLINE_S)
    per_send = result["per_send_us"]
    return {
        "shape": "fanout",
        "connections": connections,
        "rounds": len(per_send),
        "message_bytes": len(wire_message()),
        "per_send_us": [round(x, 3) for x in per_send],
        "us_per_send": summarize(per_send),
        "short_sends": result["short_sends"],
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
    }


def measure_paced_floor(
    connections: int = CONNECTIONS,
    interval_s: float = INTERVAL_S,
    run_s: float = PACED_S,
    server_cpu: int | None = None,
    client_cpu: int | None = None,
) -> dict[str, Any]:
    """The paced floor: each connection a message every ``interval_s`` for ``run_s``; the
    sender's CPU share and µs per message."""

    def work(sockets: list[socket.socket], data: bytes) -> dict[str, Any]:
        return _paced(sockets, data, run_s, interval_s)

    result = _run(connections, server_cpu, client_cpu, work, DEADLINE_S)
    sent = result["sent"]
    return {
        "shape": "paced",
        "connections": connections,
        "interval_s": interval_s,
        "run_s": round(result["wall_s"], 3),
        "messages": sent,
        "message_bytes": len(wire_message()),
        "cpu_share": result["cpu_s"] / result["wall_s"] if result["wall_s"] else None,
        "us_per_message": result["cpu_s"] / sent * 1e6 if sent else None,
        "short_sends": result["short_sends"],
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="fan-outs")
    parser.add_argument("--paced", type=float, default=PACED_S, help="s of paced sends")
    parser.add_argument("--interval", type=float, default=INTERVAL_S, help="s between messages")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[-1]) if len(cpus) > 1 else (None, None)
    fanout = measure_floor(args.connections, args.rounds, server_cpu, client_cpu)
    us = fanout["us_per_send"]
    print(
        f"fan-out to {fanout['connections']:,} connections, {fanout['message_bytes']} B: "
        f"p50 {us['p50']:.2f} µs per send = {us['p50'] * fanout['connections'] / 1000:.1f} ms"
    )
    paced = measure_paced_floor(args.connections, args.interval, args.paced, server_cpu, client_cpu)
    print(
        f"paced, {paced['connections']:,} connections × one message every {args.interval:g} s: "
        f"{paced['cpu_share']:.1%} of a core, {paced['us_per_message']:.1f} µs per message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
