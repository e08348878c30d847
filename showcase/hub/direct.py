"""``SocketWriter``: a publish writes a message straight into each subscriber's socket.

Waking one greenlet per subscriber to write the same bytes costs a context switch, the
saved C stack copied back, the body and gunicorn's write loop for each delivery, so a
fan-out's time grows with all of that times the room's size. The publisher instead offers
each parked subscriber's socket the room's bytes, already framed, in one non-blocking
``send``: one write, and the subscriber's greenlet stays asleep (CPU per delivery and
fan-out latency: docs/results/hub.json, ``showcase bench hub``). It is woken only when the
kernel did not take every byte (the rest is then its to send, with the send deadline, before
anything else) or the socket is broken (it raises the error and ends).

Only where the bytes on the wire are known exactly: gunicorn's plain TCP client sockets
(``worker.ClientSocket``, never TLS), a GET (a HEAD's body is dropped by gunicorn, so no
byte may be written for it) over HTTP/1.1 (gunicorn frames the body in chunks, and so do we)
or HTTP/1.0 (raw bytes). Elsewhere (another server, a test client) there is no writer and
every delivery wakes the stream as before. Bytes written here are not in gunicorn's access
log's response size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from showcase.hub.event import HubEvent
from showcase.runtime.lifecycle import STREAMS

# One tuple per framing, shared by every writer: ``HubEvent.wire``'s cache key.
FRAMINGS = {(m, c): (m, c) for m in ("sse", "ndjson") for c in (True, False)}


class SocketWriter:
    """Writes hub events to one subscriber's socket; see the module docstring."""

    __slots__ = ("_socket", "_raw", "_framing")

    def __init__(self, sock: Any, mode: str, chunked: bool) -> None:
        # One per subscriber, so nothing of its own: references to objects that exist anyway.
        self._socket = sock  # gevent's socket: a blocking sendall with the send deadline
        self._raw = sock._sock  # the OS-level socket under it: non-blocking
        self._framing = FRAMINGS[mode, chunked]

    def send_now(self, event: HubEvent) -> bytes:
        """Send what the kernel takes now, never waiting; the rest (b"" when it took all).
        Raises ``OSError`` when the connection is broken."""
        data = event.wire(self._framing)
        try:
            sent = self._raw.send(data)
        except (BlockingIOError, InterruptedError):
            return data
        except TimeoutError:
            # ETIMEDOUT: TCP_USER_TIMEOUT passed with data unacknowledged. The same end as
            # the stream's own write would meet (worker.ClientSocket): a counted, quiet cut.
            raise self._socket._gave_up() from None
        STREAMS.direct_writes += 1  # counted once begun: the rest follows from the stream
        return data[sent:] if sent < len(data) else b""

    def send_rest(self, data: bytes) -> None:
        """Send ``data`` from the subscriber's own greenlet, waiting as a stream's write does
        (``SendTimeout`` past the send deadline)."""
        self._socket.sendall(data)


def socket_writer(environ: Mapping[str, Any], mode: str) -> SocketWriter | None:
    """A writer for the stream this request opens, or None where direct writes are not safe."""
    sock = environ.get("gunicorn.socket")
    if not getattr(type(sock), "direct_writes", False):
        return None  # not gunicorn's, or not a plain TCP socket (TLS: bytes must be encrypted)
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    protocol = environ.get("SERVER_PROTOCOL")
    if protocol not in ("HTTP/1.1", "HTTP/1.0"):
        return None
    return SocketWriter(sock, mode, chunked=protocol == "HTTP/1.1")
