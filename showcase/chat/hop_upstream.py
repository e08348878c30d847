"""A relay hop's upstream read from a plain socket: the project's own chunked decoder, no
HTTP client library between the socket and the SSE parser.

``/relay/stream/sse`` forwards every event of its upstream, and a hop is on the path of every
event of every stream it relays, so what it costs per event and per connection is the hop's
cost (docs/results/relay.json, ``showcase bench relay``). Through requests (urllib3,
http.client) opening the upstream built a pool, a prepared request and a response object,
and each event went through four reading layers; here a connection is a connect, one
request write and a bounded head read, and each ``recv`` goes to ``ChunkedDecoder`` and out
as it came. The Coze relay reads its upstream here too: each read is bounded
(``RECV_BYTES``) and returns what the socket has, whether the body is chunked (a chunk of
any declared size comes out as it arrives), has a Content-Length or ends at the close.
Under the gevent worker the socket is cooperative: a relay blocks its own greenlet on a
read, never the worker.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import struct
from collections.abc import Iterator, Mapping
from urllib.parse import urlencode, urlsplit

from requests.structures import CaseInsensitiveDict

from showcase.chat.forward import UpstreamError
from showcase.chat.upstream import Upstream
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, ChunkedError
from showcase.pure.framing.sse import SSE_MEDIA_TYPE
from showcase.tools.response_head import HeadError, read_head

MAX_ERROR_BODY_BYTES = 64 * 1024  # an upstream's 204 or 4xx body passed through, at most
RECV_BYTES = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER 0: close() sends a reset (upstream.py)


class HopResponse:
    """The upstream's answer: ``status_code``, ``headers`` (any case), then the body."""

    def __init__(
        self, sock: socket.socket, status: int, headers: CaseInsensitiveDict[str], rest: bytes
    ) -> None:
        self.sock: socket.socket | None = sock
        self.status_code = status
        self.headers = headers
        self._rest = rest
        encoding = headers.get("Transfer-Encoding", "").lower()
        self._chunked = "chunked" in encoding
        length = headers.get("Content-Length", "")
        # Otherwise the body ends when the upstream closes (the request says Connection: close).
        self._length = int(length) if not self._chunked and length.isdigit() else None
        if status in NO_BODY_STATUSES or 100 <= status < 200:
            # RFC 9112 §6.3: these end at their head, whatever the headers say; waiting for
            # the upstream to close would hold the answer until it does.
            self._chunked, self._length = False, 0

    def iter_chunks(self) -> Iterator[bytes]:
        """The body's bytes, one item per ``recv`` that brought some (a chunked body's
        chunk data, decoded), never waiting for more. A read timeout, a broken connection or
        a body that ends early become ``UpstreamError``; the connection is closed (with a
        reset) when the body ends or this generator is closed (the client left)."""
        sock = self.sock
        if sock is None:
            return
        decoder = ChunkedDecoder() if self._chunked else None
        left = self._length
        data, self._rest = self._rest, b""
        try:
            while True:
                if left is not None:
                    data = data[:left]
                    left -= len(data)
                if data:
                    if decoder is None:
                        yield data
                    else:
                        items = decoder.feed(data)
                        body = b"".join(i.data for i in items if i.__class__ is Chunk)
                        if body:
                            yield body
                        if decoder.done:
                            return
                if left == 0:
                    return
                try:
                    data = sock.recv(RECV_BYTES)
                except TimeoutError:
                    raise UpstreamError(
                        "upstream_timeout", "no bytes from the upstream in time"
                    ) from None
                except OSError as error:
                    raise UpstreamError(
                        "upstream_broken", f"the upstream connection broke: {error}"
                    ) from None
                if not data:
                    if decoder is not None:
                        raise UpstreamError("upstream_broken", "the upstream died mid-stream")
                    return
        except ChunkedError as error:
            raise UpstreamError("upstream_broken", f"the upstream's chunks: {error}") from None
        finally:
            self.close()

    def read_small(self) -> bytes:
        """At most ``MAX_ERROR_BODY_BYTES`` of a short answer (a 204, a 4xx), then close."""
        body = b""
        try:
            for piece in self.iter_chunks():
                body += piece
                if len(body) >= MAX_ERROR_BODY_BYTES:
                    break
        except UpstreamError:
            pass  # a broken error body is still an error: pass what we have
        finally:
            self.close()
        return body[:MAX_ERROR_BODY_BYTES]

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        except OSError:
            pass  # already closed by the upstream: nothing left to reset
        sock.close()


def build_hop_request(
    parts_path: str, query: str, netloc: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> bytes:
    """``GET`` with the configured URL's query and ``params``; ValueError for a header that
    would break the request (CR, LF or NUL: the values come from a client)."""
    target = parts_path or "/"
    extra = urlencode(dict(params))
    joined = "&".join(q for q in (query, extra) if q)
    if joined:
        target += "?" + joined
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {netloc}",
        f"Accept: {SSE_MEDIA_TYPE}",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    for name, value in headers.items():
        if any(c in value or c in name for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: CR, LF and NUL are not allowed")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(host: str, port: int, timeout_s: float) -> socket.socket:
    """A TCP connection to ``host:port``. An IP address is connected to as it is: under gevent
    ``create_connection`` resolves even a literal address through its thread pool: a hand-off
    to another thread and back on every connect, for an answer known in advance. A name is
    resolved as usual."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return socket.create_connection((host, port), timeout=timeout_s)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def open_hop(
    upstream: Upstream, params: Mapping[str, str], headers: Mapping[str, str]
) -> HopResponse:
    """Connect, send ``GET``, read the status line and headers; the body unread. Raises
    UpstreamError when the upstream refuses, times out or answers something else than HTTP."""
    parts = urlsplit(upstream.url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    request = build_hop_request(parts.path, parts.query, parts.netloc, params, headers)
    try:
        sock = connect(host, port, upstream.connect_timeout_s)
    except TimeoutError:
        raise UpstreamError("upstream_timeout", f"{upstream.url}: connect timed out") from None
    except OSError as error:
        raise UpstreamError("upstream_refused", f"{upstream.url}: {error}") from None
    try:
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.settimeout(upstream.read_timeout_s)
        sock.sendall(request)
        status, response_headers, rest = read_head(sock)
    except HeadError as error:
        sock.close()
        raise UpstreamError("upstream_invalid", str(error)) from None
    except TimeoutError:
        sock.close()
        raise UpstreamError("upstream_timeout", f"{upstream.url}: no answer in time") from None
    except OSError as error:
        sock.close()
        raise UpstreamError("upstream_refused", f"{upstream.url}: {error}") from None
    return HopResponse(sock, status, CaseInsensitiveDict(response_headers), rest)
