"""Raw HTTP/1.1 over real sockets, for tests that must see exact bytes: an exchange, and a
proxy that a test can cut (or let answer by itself) to drop connections for real, and a
client that asks and then never reads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.tools.response_head import read_head

SOCKET_TIMEOUT_S = 10.0


def open_raw(base_url: str, target: str, headers: dict[str, str] | None = None) -> socket.socket:
    """Send ``GET target`` verbatim (no client normalises the path) and return the socket."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_TIMEOUT_S)
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def fetch_raw(
    base_url: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """The whole response; a chunked body is decoded with the project's decoder."""
    with open_raw(base_url, target, headers) as sock:
        status, response_headers, body = read_head(sock)
        while piece := sock.recv(65536):
            body += piece
    if response_headers.get("transfer-encoding") == "chunked":
        decoder = ChunkedDecoder()
        items = decoder.feed(body) + decoder.close()
        body = b"".join(item.data for item in items if isinstance(item, Chunk))
        assert isinstance(items[-1], EndOfBody)
    return status, response_headers, body


class CutProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` byte for byte and records the first bytes of
    every read from a client (so every request head, also on a kept-alive connection).
    ``cut()`` tears down every open connection, as a broken network would.

    ``answer(head)`` sees the first request of each connection and may return bytes to send
    instead of forwarding (then the connection closes; ``b""`` closes it with no answer at
    all, a network error to the client), or None to forward. Used by the integration and
    browser tests."""

    def __init__(
        self, upstream: str, answer: Callable[[bytes], bytes | None] | None = None
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            threading.Thread(target=self.connect, args=(client,), daemon=True).start()

    def connect(self, client: socket.socket) -> None:
        client.settimeout(SOCKET_TIMEOUT_S)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                piece = client.recv(65536)
                if not piece:
                    break
                head += piece
            with self.lock:
                self.requests.append(head)
            canned = self.answer(head) if self.answer is not None else None
            if canned is not None:
                client.sendall(canned)
                client.close()
                return
            server = socket.create_connection(self.upstream, timeout=SOCKET_TIMEOUT_S)
            server.sendall(head)
        except OSError:
            client.close()
            return
        client.settimeout(None)
        server.settimeout(None)
        with self.lock:
            self.open += [client, server]
        threading.Thread(target=self.pump, args=(server, client), daemon=True).start()
        self.pump(client, server, record=True)

    def pump(self, source: socket.socket, target: socket.socket, record: bool = False) -> None:
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
        """Drop every open connection at once (both sides see the connection die)."""
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
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.cut()
        self.thread.join(5)

    def last_event_ids(self, path: str = "/stream/sse?") -> list[str | None]:
        """The Last-Event-ID header of each request for ``path``, in order (None if absent)."""
        with self.lock:
            heads = [h for h in self.requests if h.startswith(f"GET {path}".encode())]
        found: list[str | None] = []
        for head in heads:
            values = [
                line.partition(":")[2].strip()
                for line in head.decode("latin-1").split("\r\n")
                if line.lower().startswith("last-event-id:")
            ]
            found.append(values[0] if values else None)
        return found


def stalled_client(url: str, path: str) -> socket.socket:
    """A connection that sends one request and then never reads: its 4 KiB receive window
    stops the server's writes within a few hundred KiB."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock
