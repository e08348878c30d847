"""A tiny hostile HTTP server on a free loopback port: every connection gets the same raw
bytes (a malformed stream, a cut one, or ``None``: silence until the client leaves)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

HOLD_S = 30.0  # the longest a silent answer keeps a connection open


class HostileServer:
    """Reads each request (head and ``Content-Length`` body), then sends ``answer`` and
    closes; with ``answer=None`` sends nothing and holds the connection. Use it in a
    ``with`` block: leaving it closes the listener."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            threading.Thread(target=self.answer_one, args=(conn,), daemon=True).start()

    def answer_one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(HOLD_S)
            try:
                read_request(conn)
                if self.answer is None:
                    conn.recv(1)  # until the client gives up and closes, or HOLD_S
                else:
                    conn.sendall(self.answer)
            except OSError:
                pass

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.closed.set()
        self.listener.close()


def read_request(conn: socket.socket) -> bytes:
    """The request's head and its ``Content-Length`` body: left unread, they would make
    the close send a reset that could reach the client before the answer does."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body
