"""One SSE stream read the way the deploy benchmark needs it: read by read, each read's wire
bytes and the messages it completed (through chunked decoding, gzip/deflate and the SSE
parser), and each message's latency (receive − ``ts``). Blocking socket, one stream.
"""

from __future__ import annotations

import json
import socket
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder
from showcase.pure.framing.sse import SSEParser

RECV_BYTES = 64 * 1024
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass
class StreamReads:
    """What one stream brought: the status, its coding, per read (arrival time, wire
    bytes, messages completed) and per message its latency in ms."""

    status: int = 0
    content_encoding: str = ""
    head_bytes: int = 0
    reads: list[tuple[float, int, int]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    complete: bool = False
    error: str | None = None

    @property
    def wire_bytes(self) -> int:
        """Bytes received after the response head (chunk framing and compression included)."""
        return sum(size for _, size, _ in self.reads)

    @property
    def messages_per_read(self) -> float:
        """Messages per read, over the reads that completed at least one: 1.0 when each
        message arrives by itself, the whole count when they all come at the end."""
        counts = [n for _, _, n in self.reads if n]
        return sum(counts) / len(counts) if counts else float("nan")

    @property
    def max_per_read(self) -> int:
        return max((n for _, _, n in self.reads), default=0)


def split_head(buffer: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """``(status, headers, rest)`` once the head is complete, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, buffer[end + 4 :]


def read_stream(url: str, accept_encoding: str | None, timeout_s: float) -> StreamReads:
    """GET ``url`` (HTTP/1.1, ``Connection: close``) and read it until it ends or
    ``timeout_s`` passes, timing every read."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
    if accept_encoding:
        request += f"Accept-Encoding: {accept_encoding}\r\n"
    request += "Connection: close\r\n\r\n"
    out = StreamReads()
    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(request.encode())
        buffer = b""
        head = None
        while head is None:
            data = sock.recv(RECV_BYTES)
            if not data:
                out.error = "closed before the head"
                return out
            buffer += data
            head = split_head(buffer)
        out.status, headers, rest = head
        out.head_bytes = len(buffer) - len(rest)
        out.content_encoding = headers.get("content-encoding", "")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        decoder = ChunkedDecoder() if chunked else None
        inflate = zlib.decompressobj(WBITS[out.content_encoding]) if out.content_encoding else None
        parser = SSEParser()
        data = rest
        while True:
            if data:
                now = time.time()
                body = data
                if decoder is not None:
                    pieces = decoder.feed(data)
                    body = b"".join(p.data for p in pieces if isinstance(p, Chunk))
                if inflate is not None:
                    body = inflate.decompress(body)
                events = parser.feed(body)
                for event in events:
                    payload = json.loads(event.data)
                    out.latencies_ms.append(now * 1000.0 - payload["ts"])
                    out.seqs.append(payload["seq"])
                out.reads.append((now, len(data), len(events)))
                if decoder is not None and decoder.done:
                    out.complete = True
                    return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                out.error = "deadline"
                return out
            sock.settimeout(remaining)
            try:
                data = sock.recv(RECV_BYTES)
            except TimeoutError:
                out.error = "deadline"
                return out
            if not data:
                out.complete = decoder is None
                if decoder is not None:
                    out.error = "closed before the last chunk"
                return out
