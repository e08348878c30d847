"""Worker memory per held connection: idle ``/ws`` vs idle ``/stream/sse`` (and flask-sock's
simple-websocket, for the choice between them; and a waiting long poll), on one gevent worker.

    python -m benchmarks.ws_rss --connections 2000

Each lane starts its own server, opens N connections that each get one message and then
wait a minute (heartbeat 300 s: no traffic), and reads the worker's RSS from /proc before
and after. With two CPUs or more the server runs on CPU 0 and this client on CPU 1, as the
suite pins them (``--no-pin``: neither). Numbers on stdout as JSON, progress on stderr.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.infra.harness import CLIENT_CPU, SERVER_CPU
from showcase.tools.launcher import start_server

PATHS = {
    "sse": "/stream/sse?count=2&interval=60000&heartbeat=300",
    "ws": "/ws?count=2&interval=60000&heartbeat=300",
    "flask-sock": "/ws-sock",
    "poll": "/poll?count=2&interval=60000&after=0&wait=60000&start={start}",
}
APPS = {"flask-sock": "benchmarks.ws_rss:flask_sock_app()"}
SETTLE_S = 2.0


def flask_sock_app() -> Any:
    """The showcase plus a flask-sock route doing what idle ``/ws`` does: one message, then
    a wait for the client (simple-websocket's reader thread is a greenlet here)."""
    from flask_sock import Sock

    from showcase.web import create_app

    app = create_app()
    sock = Sock(app)

    @sock.route("/ws-sock")
    def idle(ws: Any) -> None:
        ws.send(json.dumps({"seq": 0, "ts": time.time() * 1000.0, "pad": ""}))
        ws.receive(timeout=60)

    return app


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def request_bytes(lane: str, path: str, port: int) -> bytes:
    path = path.format(start=time.time() * 1000.0)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if lane not in ("sse", "poll"):
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_connections(lane: str, port: int, count: int) -> list[socket.socket]:
    held = []
    for index in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(request_bytes(lane, PATHS[lane], port))
        if lane != "poll":  # a waiting poll answers nothing until its message is due
            head = conn.recv(4096)  # the response head (and the first message)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 101")):
                raise RuntimeError(f"{lane}: {head[:80]!r}")
        held.append(conn)
        if index % 200 == 0:
            print(f"\r{lane}: {index}/{count}", end="", file=sys.stderr)
    print(f"\r{lane}: {count}/{count}", file=sys.stderr)
    return held


def measure(lane: str, count: int, pin: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        cpu = SERVER_CPU if pin else None
        server = start_server(Path(folder) / "server.log", app=APPS.get(lane), cpu=cpu)
        try:
            port = int(server.url.rsplit(":", 1)[1])
            pid = requests.get(server.url + "/healthz", timeout=10).json()["pid"]
            warm = open_connections(lane, port, 50)  # first-use costs out of the figure
            time.sleep(SETTLE_S)
            before = rss_kib(pid)
            held = open_connections(lane, port, count)
            time.sleep(SETTLE_S)
            after = rss_kib(pid)
            health = requests.get(server.url + "/healthz", timeout=10).json()
            for conn in held + warm:
                conn.close()
        finally:
            server.stop()
    return {
        "lane": lane,
        "connections": count,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round((after - before) / count, 2),
        "open_streams": health["open_streams"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--lanes", default="sse,ws,flask-sock,poll")
    parser.add_argument("--no-pin", action="store_true", help="no taskset, no affinity")
    args = parser.parse_args(argv)
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {CLIENT_CPU})
    results = [measure(lane, args.connections, pin) for lane in args.lanes.split(",")]
    document = {"results": results, "pinned": pin, "python": sys.version.split()[0]}
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
