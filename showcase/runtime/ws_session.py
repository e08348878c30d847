"""``WSSession``: one WebSocket connection on the gevent worker, over wsproto's sans-I/O protocol.

No Flask here. The connection is the request's own greenlet: it sends, waits (for the next
message, or for the client's frames, whichever comes first) and answers pings, so a held
connection costs one greenlet, not a reader greenlet beside it. The handshake, control
frames and everything received are wsproto's (RFC 6455); a message's frame is the websockets
library's encoding (a fraction of wsproto's per-event cost, on the path of every message).
Writes go through the worker's ``ClientSocket``, so the send deadline holds for them as for
any stream. Waits end in the worker's shared ``PauseSlots`` (as SSE's pauses do) or when the
client's bytes arrive, whichever comes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from greenlet import getcurrent
from websockets.frames import Frame, Opcode
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from showcase.runtime.lifecycle import (
    SLOTTED_FROM_S,
    TIMER_REUSE_S,
    StreamCut,
    pause_slots,
)

NORMAL = 1000
GOING_AWAY = 1001
POLICY = 1008  # a client message the server cannot use
TOO_BIG = 1009  # a client message over the endpoint's bound
# The server ends the connection for a reason of its own: no pong (what the websockets
# library sends then), or a room's stream ended on the server's side.
SERVER_ERROR = 1011
RECEIVE_BYTES = 16 * 1024
CLOSE_WAIT_S = 1.0  # after its close frame, how long the server waits for the client's


class HandshakeError(ValueError):
    """Not a WebSocket handshake wsproto accepts: answer 400 before anything is written."""


class Closed(Exception):
    """The connection is over: ``code`` is what the close frame said (1006: no close frame)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason


class PongMissing(Exception):
    """The client answered no ping for two heartbeats: close it with 1011."""


def handshake_request(environ: Mapping[str, Any]) -> bytes:
    """The handshake request gunicorn already parsed, rebuilt for wsproto (its headers)."""
    lines = [b"GET / HTTP/1.1"]
    for key, value in environ.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            name = key[5:].replace("_", "-")
            lines.append(name.encode("latin-1") + b": " + value.encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def accept_handshake(environ: Mapping[str, Any]) -> tuple[bytes, Connection]:
    """The 101 response's bytes and the frame connection, or HandshakeError. No extension is
    accepted: permessage-deflate would keep a zlib state per connection (memory per held
    socket) and the payloads are small."""
    handshake = H11Handshake(ConnectionType.SERVER)
    try:
        handshake.receive_data(handshake_request(environ))
        events = list(handshake.events())
    except RemoteProtocolError as error:
        raise HandshakeError(str(error)) from None
    if len(events) != 1 or not isinstance(events[0], Request):
        raise HandshakeError("not a WebSocket handshake")
    data = handshake.send(AcceptConnection())
    connection = handshake.connection
    assert connection is not None
    return data, connection


class WSSession:
    """The server's side of one accepted connection.

    ``receive(seconds)`` waits up to ``seconds`` for complete client messages (text or bytes)
    and handles control frames on the way: a ping is answered, a pong noted, a close
    answered and raised as ``Closed``, a message over ``max_message_bytes`` closed with 1009.
    ``heartbeat_s``: a ping when nothing was sent for that long (``keep_alive``); no pong
    for two heartbeats after a ping raises ``PongMissing``.
    """

    __slots__ = (
        "sock",
        "connection",
        "max_message_bytes",
        "heartbeat_s",
        "clock",
        "sent_at",
        "ping_sent_at",
        "_partial",
        "_partial_bytes",
        "closed",
        "write_lock",
        "_timer",
        "_timer_s",
    )

    def __init__(
        self,
        sock: Any,
        connection: Connection,
        *,
        heartbeat_s: float,
        max_message_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sock = sock
        self.connection = connection
        self.heartbeat_s = heartbeat_s
        self.max_message_bytes = max_message_bytes
        self.clock = clock
        self.sent_at = clock()
        self.ping_sent_at: float | None = None  # the first ping not answered yet
        self._partial: list[str | bytes] = []
        self._partial_bytes = 0
        self.closed = False
        # Set when a second greenlet writes too (a room's reader sends acks): frames must
        # not interleave on the socket.
        self.write_lock: Any = None
        self._timer: Any = None  # a wait shorter than SLOTTED_FROM_S: reused, as Pacer's
        self._timer_s = -1.0

    def send_text(self, text: str | bytes) -> None:
        """One text frame (bytes are UTF-8 text already); SendTimeout past the deadline."""
        payload = text.encode() if isinstance(text, str) else text
        if self.closed or self.connection.state is not ConnectionState.OPEN:
            raise Closed(1006, "the connection is closed")
        self._write(Frame(Opcode.TEXT, payload).serialize(mask=False))

    def _send_open(self, event: Ping) -> None:
        """Send ``event`` on an open connection; ``Closed`` once either side closed it (the
        room's reader may have answered the client's close meanwhile)."""
        if self.closed or self.connection.state is not ConnectionState.OPEN:
            raise Closed(1006, "the connection is closed")
        self._write(self.connection.send(event))

    def _write(self, data: bytes) -> None:
        if self.write_lock is None:
            self.sock.sendall(data)
        else:
            with self.write_lock:
                self.sock.sendall(data)
        self.sent_at = self.clock()

    def keep_alive(self) -> None:
        """Ping when the connection has been quiet for ``heartbeat_s``; raise ``PongMissing``
        when a ping has gone unanswered for two heartbeats (the caller closes with 1011)."""
        now = self.clock()
        if self.ping_sent_at is not None and now - self.ping_sent_at >= 2 * self.heartbeat_s:
            raise PongMissing("no pong within two heartbeats")
        if now - self.sent_at >= self.heartbeat_s:
            if self.ping_sent_at is None:
                self.ping_sent_at = now
            self._send_open(Ping())

    def until_keep_alive(self) -> float:
        """Seconds until ``keep_alive`` has something to do."""
        now = self.clock()
        due = self.sent_at + self.heartbeat_s
        if self.ping_sent_at is not None:
            due = min(due, self.ping_sent_at + 2 * self.heartbeat_s)
        return max(0.0, due - now)

    def receive(self, seconds: float) -> list[str | bytes]:
        """The client messages complete within ``seconds`` (at most until the first arrives);
        [] when none. ``Closed`` when the client closed or left, or a message broke a bound."""
        if seconds > 0 and not self.wait_readable(seconds):
            return []
        try:
            data = self.sock._sock.recv(RECEIVE_BYTES)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            self.closed = True
            raise Closed(1006, "connection lost") from None
        if not data:
            self.closed = True
            raise Closed(1006, "connection lost")
        self.connection.receive_data(data)
        return self._handle_events()

    def wait_readable(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (a long wait to the end of its ``PauseSlots`` slot) for the
        client's bytes; True when the socket is readable. A ``StreamCut`` thrown meanwhile
        propagates. Only one greenlet may wait on a session's socket at a time."""
        sock = self.sock
        hub = sock.hub
        switch = getcurrent().switch
        readable = sock._read_event
        readable.start(switch, True)
        waiter: list[Any] | None = None
        timer: Any = None
        if seconds >= SLOTTED_FROM_S:
            waiter = pause_slots(hub).add(seconds, switch)
        else:
            timer = self._timer
            if timer is None or abs(seconds - self._timer_s) > TIMER_REUSE_S:
                if timer is not None:
                    timer.close()
                timer = self._timer = hub.loop.timer(seconds, seconds)
                self._timer_s = seconds
            timer.again(switch)  # again(): from the loop's clock updated now (see Pacer)
        try:
            return hub.switch() is True
        finally:
            # Whichever woke it, the other must not switch back in later.
            readable.stop()
            if waiter is not None:
                waiter[0] = None
            else:
                timer.stop()

    def _handle_events(self) -> list[str | bytes]:
        messages: list[str | bytes] = []
        for event in self.connection.events():
            if isinstance(event, Ping):
                if self.connection.state is ConnectionState.OPEN:
                    self._write(self.connection.send(event.response()))
            elif isinstance(event, Pong):
                self.ping_sent_at = None
            elif isinstance(event, CloseConnection):
                if self.connection.state is ConnectionState.REMOTE_CLOSING:
                    self._write(self.connection.send(event.response()))
                    self.closed = True
                    raise Closed(event.code, event.reason or "")
                if self.connection.state is ConnectionState.CLOSED:  # answer to our close
                    self.closed = True
                    raise Closed(event.code, event.reason or "")
                self.close(event.code, event.reason or "")  # a frame wsproto could not parse
                raise Closed(event.code, event.reason or "")
            elif isinstance(event, TextMessage | BytesMessage):
                self._partial_bytes += len(event.data)
                if self._partial_bytes > self.max_message_bytes:
                    self.close(TOO_BIG, f"a message is at most {self.max_message_bytes} bytes")
                    raise Closed(TOO_BIG, "message too big")
                data = event.data
                self._partial.append(bytes(data) if isinstance(data, bytearray) else data)
                if event.message_finished:
                    parts = self._partial
                    if isinstance(event, TextMessage):
                        messages.append("".join(parts))  # type: ignore[arg-type]
                    else:
                        messages.append(b"".join(parts))  # type: ignore[arg-type]
                    self._partial = []
                    self._partial_bytes = 0
        return messages

    def _closed_both_ways(self) -> bool:
        return self.connection.state is ConnectionState.CLOSED

    def close(self, code: int, reason: str = "") -> None:
        """Send a close frame (once; nothing if the connection is gone), then wait up to
        CLOSE_WAIT_S for the client's, as RFC 6455 §7.1.1 asks of a server before it
        closes the TCP connection."""
        if self.closed or self.connection.state is not ConnectionState.OPEN:
            return
        self.closed = True
        try:
            self._write(self.connection.send(CloseConnection(code=code, reason=reason[:120])))
            deadline = self.clock() + CLOSE_WAIT_S
            while not self._closed_both_ways():
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return
                try:
                    self.receive(remaining)
                except Closed:
                    return
        except StreamCut:
            return  # a stopping server cuts what is still open: the close is as far as it got
        except OSError:
            return
