"""An HTTP/1.1 response head read from a raw socket: what the relay hop, the wire view and
the tests' raw clients read before a body. Refuses what a strict parser refuses (RFC 9112)."""

from __future__ import annotations

import socket

MAX_HEAD_BYTES = 64 * 1024  # a response's status line and headers, at most
RECV_BYTES = 16 * 1024


class HeadError(ValueError):
    """The bytes are not an HTTP/1.x response head, or a longer one than allowed."""


def read_head(
    sock: socket.socket, max_bytes: int = MAX_HEAD_BYTES
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and whatever body bytes came with them. HeadError
    for a head that is not HTTP/1.x, holds a bare CR or LF or a NUL, or is longer than
    ``max_bytes``; ConnectionError when the peer closes before its end."""
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        if len(data) > max_bytes:
            raise HeadError(f"a head longer than {max_bytes} bytes")
        piece = sock.recv(RECV_BYTES)
        if not piece:
            raise ConnectionError(f"closed before the end of the headers: {data[:200]!r}")
        data += piece
    status_line, *header_lines = data[:end].decode("latin-1").split("\r\n")
    for line in (status_line, *header_lines):
        # RFC 9112 §2.2, RFC 9110 §5.5: a bare CR or LF (a line end only some parsers see)
        # or a NUL is refused, never passed on to be read as a header of its own.
        if "\r" in line or "\n" in line or "\0" in line:
            raise HeadError(f"a bare CR or LF, or a NUL, in the head: {line[:80]!r}")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise HeadError(f"not an HTTP/1.x status: {status_line[:80]!r}")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise HeadError(f"a header line without a colon: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers, data[end + 4 :]
