"""A resuming client against the real server, through a proxy the test cuts mid-stream:
``iter_sse(reconnect=True)`` and ``showcase client sse --reconnect`` lose and repeat nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from showcase.client import iter_sse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

COUNT = 12
PARAMS = {"count": COUNT, "interval": 50, "source": "text"}
RETRY_MS = 100  # the server asks for 2 s; the client's cap keeps the test short


class CutProxy:
    """Forwards 127.0.0.1:<port> to the server byte for byte and records each request's
    first bytes; ``cut()`` tears down every open connection, as a broken network would."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.requests: list[bytes] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return  # the listener was closed
            server.settimeout(None)
            with self.lock:
                self.open += [client, server]
            threading.Thread(target=self.pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, False), daemon=True).start()

    def pump(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self.lock:
                        self.requests.append(data[:2048])
                target.sendall(data)
        except OSError:
            pass  # cut
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self.lock:
            sockets, self.open = self.open, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self.cut()

    def last_event_ids(self) -> list[str | None]:
        """Last-Event-ID of each stream request that went through, in order."""
        found: list[str | None] = []
        with self.lock:
            heads = [r for r in self.requests if r.startswith(b"GET /stream/sse?")]
        for head in heads:
            lines = head.decode("latin-1").split("\r\n")
            values = [
                ln.split(":", 1)[1].strip()
                for ln in lines
                if ln.lower().startswith("last-event-id:")
            ]
            found.append(values[0] if values else None)
        return found


@pytest.fixture
def proxy(base_url: str) -> Iterator[CutProxy]:
    running = CutProxy(base_url)
    yield running
    running.close()


def test_iter_sse_resumes_a_cut_stream_with_no_loss_and_no_repeat(proxy: CutProxy) -> None:
    received = []
    for event in iter_sse(proxy.url, PARAMS, reconnect=True, max_retry_ms=RETRY_MS):
        received.append(event)
        if len(received) == 4:
            proxy.cut()  # the connection dies under the client, mid-stream
    seqs = [json.loads(e.data)["seq"] for e in received]
    assert seqs == list(range(COUNT))
    assert [e.id for e in received] == [str(seq) for seq in range(COUNT)]
    whole = [json.loads(e.data)["token"] for e in iter_sse(proxy.url, PARAMS)]
    assert [json.loads(e.data)["token"] for e in received] == whole
    sent = proxy.last_event_ids()
    # The first request, the resume after the cut, and the last one answered 204.
    assert sent[0] is None
    assert len(sent) == 4 and sent[1] is not None and int(sent[1]) >= 3
    assert sent[2] == str(COUNT - 1)


def test_cli_reconnect_resumes_a_cut_stream(proxy: CutProxy) -> None:
    argv = [sys.executable, "-m", "showcase", "client", "sse", "--url", proxy.url]
    argv += ["--count", str(COUNT), "--interval", "200", "--reconnect"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    proxy.cut()
    rest, stderr = process.communicate(timeout=40)  # the server's 2 s retry, then the rest
    assert process.returncode == 0, stderr
    lines += rest.splitlines()
    assert [line.split()[0] for line in lines] == [f"id={seq}" for seq in range(COUNT)]
    assert "reconnecting in 2.0 s with Last-Event-ID: " in stderr
    assert f"done: {COUNT} messages" in stderr
