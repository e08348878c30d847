"""One HTTP/1.1 exchange over a raw socket, for the fuzz suite: any request target, header
value or body bytes go out exactly as a test built them (no client normalises or refuses
them), and the answer comes back with whether its body ended as its framing says."""

from __future__ import annotations

import socket
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.tools.response_head import read_head

CONNECT_TIMEOUT_S = 10.0
RECV_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """``status``, ``headers`` (lower-case names), the body (chunked framing removed), and
    ``complete``: the body ended as its framing says (the chunked terminator, Content-Length
    bytes, or no body at all); ``truncated``: the reader stopped first (its deadline, its
    byte cap or its ``enough`` test), so an incomplete body is not the server's fault."""

    status: int
    headers: dict[str, str]
    body: bytes
    complete: bool
    truncated: bool

    def decoded(self) -> bytes:
        """The body with its Content-Encoding (gzip, deflate) undone, as far as it came."""
        coding = self.headers.get("content-encoding", "")
        if coding not in ("gzip", "deflate"):
            return self.body
        wbits = 31 if coding == "gzip" else 15
        decompressor = zlib.decompressobj(wbits)
        return decompressor.decompress(self.body)


def exchange(
    base_url: str,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    *,
    chunked_body: bool = False,
    read_s: float = 5.0,
    cap_bytes: int = 4 << 20,
    enough: Callable[[bytes], bool] | None = None,
) -> Answer:
    """Send one request (``Connection: close``; a Content-Length for ``body`` unless
    ``chunked_body``) and read the answer until its body ends, ``read_s`` passes, ``cap_bytes``
    arrive or ``enough(body so far)``. Header values are sent as latin-1. A server that closes
    before its status line raises ConnectionError: every request deserves an answer."""
    parts = urlsplit(base_url)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None and chunked_body:
        lines.append("Transfer-Encoding: chunked")
        body = (b"%x\r\n%b\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    deadline = time.monotonic() + read_s
    with socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_TIMEOUT_S) as sock:
        sock.sendall(request)
        sock.settimeout(max(0.05, read_s))
        status, answer_headers, rest = read_head(sock)
        answer = read_body(sock, method, status, answer_headers, rest, deadline, cap_bytes, enough)
        if answer.truncated:
            # A reset on close: a stream we leave fails at the server's next write, not the
            # one after (a FIN is taken by the kernel), so the server lets go sooner.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return answer


def read_body(
    sock: socket.socket,
    method: str,
    status: int,
    headers: dict[str, str],
    rest: bytes,
    deadline: float,
    cap_bytes: int,
    enough: Callable[[bytes], bool] | None,
) -> Answer:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Answer(status, headers, b"", complete=True, truncated=False)
    decoder = ChunkedDecoder() if "chunked" in headers.get("transfer-encoding", "") else None
    length_text = headers.get("content-length")
    length = int(length_text) if decoder is None and length_text is not None else None
    body = bytearray()
    data = rest
    complete = truncated = False
    while True:
        if data:
            if decoder is not None:
                items = decoder.feed(data)
                body += b"".join(item.data for item in items if isinstance(item, Chunk))
                complete = any(isinstance(item, EndOfBody) for item in items)
            else:
                body += data
                complete = length is not None and len(body) >= length
        if complete:
            break
        if len(body) >= cap_bytes or (enough is not None and enough(bytes(body))):
            truncated = True
            break
        left = deadline - time.monotonic()
        if left <= 0:
            truncated = True
            break
        sock.settimeout(left)
        try:
            data = sock.recv(RECV_BYTES)
        except TimeoutError:
            truncated = True
            break
        if not data:
            # A body with neither framing ends when the server closes: complete then.
            complete = decoder is None and length is None
            break
    return Answer(status, headers, bytes(body), complete=complete, truncated=truncated)
