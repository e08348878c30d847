"""Helpers of the browser tests: Chromium's path and flags, /healthz polling, and a TCP
proxy a test can cut to drop connections for real."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from showcase.launcher import wait_for_open_streams

CHROMIUM = Path("/usr/bin/chromium")
# What a headless root in a container needs; nothing that phones home or updates itself.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 20_000  # every wait_for_function is bounded by this unless it says otherwise
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def wait_for_streams(base_url: str, predicate: Callable[[int], bool], timeout_s: float) -> int:
    """Poll /healthz until ``predicate(open_streams)``; fail with the last count otherwise."""
    count = wait_for_open_streams(base_url, predicate, timeout_s)
    if not predicate(count):
        pytest.fail(f"open_streams stayed at {count} for {timeout_s} s")
    return count


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to the server, byte for byte; ``cut()`` drops every open
    connection at once, the way a broken network or a restarted proxy would."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.requests: list[bytes] = []  # first bytes of every request, to check headers
        self.cuts = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for source, target, record in ((client, server, True), (server, client, False)):
                args = (source, target, record)
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self.lock:
                        self.requests.append(data[:2048])
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
            self.cuts += 1
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.cut()
