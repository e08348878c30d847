"""A raw HTTP/1.1 exchange over a real socket, for tests that must see exact bytes."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from showcase.framing.chunked import Chunk, ChunkedDecoder, EndOfBody

SOCKET_TIMEOUT_S = 10.0


def open_raw(base_url: str, target: str, headers: dict[str, str] | None = None) -> socket.socket:
    """Send ``GET target`` verbatim (no client normalises the path) and return the socket."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_TIMEOUT_S)
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and whatever body bytes came with them."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed before the end of the headers: {data!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, rest


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
