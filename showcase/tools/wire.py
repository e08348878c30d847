"""Read the first bytes of an HTTP/1.1 response from a raw socket, read by read, and label them
for the page's wire view.

No Flask here: a socket, a deadline, and ``framing.chunked.ChunkedDecoder`` to find
the chunk-size lines.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, ChunkedError, EndOfBody

DEFAULT_LIMIT_BYTES = 4096
MAX_LIMIT_BYTES = 64 * 1024
TIMEOUT_S = 3.0
RECV_BYTES = 16 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class WireRead:
    """One ``recv()``: when it returned (ms after the request was sent) and what it held."""

    t_ms: float
    data: bytes


@dataclass(frozen=True, slots=True)
class Segment:
    """A labelled byte range of the capture: ``head``, ``size`` (a chunk-size line), ``data``,
    ``crlf`` (after chunk data), ``end`` (last chunk + trailers) or ``raw`` (not decoded)."""

    kind: str
    start: int
    end: int


@dataclass
class WireCapture:
    request: bytes
    reads: list[WireRead] = field(default_factory=list)
    complete: bool = False  # the server closed the connection before the limit
    error: str | None = None

    @property
    def raw(self) -> bytes:
        return b"".join(read.data for read in self.reads)


def build_wire_request(
    host: str,
    port: int,
    path: str,
    query: dict[str, str],
    upgrade: dict[str, str] | None = None,
) -> bytes:
    """A minimal HTTP/1.1 GET. ``Connection: close`` so the end of the body closes the socket,
    and no ``Accept-Encoding``: the capture shows the bytes, not a compressed form of them.
    With ``upgrade`` (the handshake's own headers) it asks ``Connection: Upgrade`` instead."""
    target = f"{path}?{urlencode(query)}" if query else path
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {authority}",
        "User-Agent: showcase-wire",
        "Accept: */*",
        "Connection: Upgrade" if upgrade else "Connection: close",
        *(f"{name}: {value}" for name, value in (upgrade or {}).items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def capture(
    host: str,
    port: int,
    request: bytes,
    *,
    limit_bytes: int = DEFAULT_LIMIT_BYTES,
    timeout_s: float = TIMEOUT_S,
    until: Callable[[bytes], bool] | None = None,
) -> WireCapture:
    """Send ``request`` to ``host:port`` and keep every read until ``limit_bytes`` (the last
    read is cut there), the server closes, ``until(bytes so far)`` is true (``complete``), or
    ``timeout_s`` passes in total.

    ``host`` is a loopback name or an IP address (ValueError otherwise): the server's own
    address, as its accepted socket gives it, never one a request names, so the caller is no
    proxy to arbitrary hosts and no name is looked up. Network errors end the capture with
    ``error`` set.
    """
    if host not in LOOPBACK_HOSTS:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"refusing to connect to a host name: {host!r}") from None
    result = WireCapture(request=request)
    deadline = time.monotonic() + timeout_s
    total = 0
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(request)
            sent = time.perf_counter()
            while total < limit_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                try:
                    data = sock.recv(min(RECV_BYTES, limit_bytes - total))
                except TimeoutError:
                    break
                if not data:
                    result.complete = True
                    break
                elapsed_ms = (time.perf_counter() - sent) * 1000.0
                result.reads.append(WireRead(round(elapsed_ms, 3), data))
                total += len(data)
                if until is not None and until(result.raw):
                    result.complete = True
                    break
    except OSError as error:
        result.error = f"{type(error).__name__}: {error}"
    return result


def split_head(raw: bytes) -> tuple[bytes, bytes] | None:
    """(header block with its blank line, body so far), or None if the head is incomplete."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    return raw[: end + 4], raw[end + 4 :]


def is_chunked(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"transfer-encoding":
            return b"chunked" in value.lower()
    return False


def label_segments(raw: bytes) -> list[Segment]:
    """Cut a capture into labelled ranges, in order, covering every byte exactly once.

    A chunked body is fed to ChunkedDecoder; its pieces say where each chunk-size line and
    each run of chunk data is. Bytes it could not (yet) decode are ``raw``.
    """
    parts = split_head(raw)
    if parts is None:
        return [Segment("raw", 0, len(raw))] if raw else []
    head, body = parts
    segments = [Segment("head", 0, len(head))]
    offset = len(head)
    if not is_chunked(head):
        if body:
            segments.append(Segment("data", offset, len(raw)))
        return segments
    cursor = 0  # position in body
    decoder = ChunkedDecoder()
    try:
        items = decoder.feed(body)
    except ChunkedError:
        items = []
    after_data = False
    for item in items:
        if (
            after_data
            and body[cursor : cursor + 2] == b"\r\n"
            and (isinstance(item, EndOfBody) or item.size_line)
        ):
            segments.append(Segment("crlf", offset + cursor, offset + cursor + 2))
            cursor += 2
        if isinstance(item, EndOfBody):
            end = decoder.wire_bytes
            segments.append(Segment("end", offset + cursor, offset + end))
            cursor = end
            break
        assert isinstance(item, Chunk)
        if item.size_line:
            stop = cursor + len(item.size_line)
            segments.append(Segment("size", offset + cursor, offset + stop))
            cursor = stop
        if item.data:
            stop = cursor + len(item.data)
            segments.append(Segment("data", offset + cursor, offset + stop))
            cursor = stop
        after_data = True
    if cursor < len(body):
        segments.append(Segment("raw", offset + cursor, len(raw)))
    return segments
