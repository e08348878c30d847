"""The gunicorn worker: gevent's, with a send deadline and a cheaper write on client sockets.

``gunicorn -k showcase.runtime.worker.StreamWorker`` (set in ``gunicorn_conf``). gunicorn's gevent
worker leaves client sockets with no timeout, so a write to a client that stopped reading
waits for ever; and gevent's ``sendall`` asks the kernel for ``SO_SNDBUF`` on every call
(one more system call on every write of every stream; ``showcase bench throughput`` reports
the server's CPU per message). Plain TCP client sockets become ``ClientSocket``; TLS sockets
are left exactly as they are.

Every client socket also gets ``TCP_USER_TIMEOUT`` = the send deadline: data the client has
not acknowledged for that long ends the connection. Without it a client that vanished without
a FIN (a laptop closed, a mobile network gone) holds an idle stream for Linux's 15
retransmissions, about 15 minutes: heartbeats are a few bytes, never fill the send buffer,
and every heartbeat write succeeds.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any, BinaryIO

from gevent import _socket3
from gevent.socket import wait
from gunicorn.workers.ggevent import GeventWorker

from showcase.pure.settings import SEND_TIMEOUT_S, read_setting
from showcase.runtime import lifecycle, zerocopy
from showcase.runtime.lifecycle import (
    STREAMS,
    ConnectionOver,
    SendTimeout,
    StopRequested,
    StreamCut,
)


def send_timeout_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``SHOWCASE_SEND_TIMEOUT_S`` as declared in showcase/pure/settings.py, or SettingError."""
    env = os.environ if environ is None else environ
    value: float = read_setting("SHOWCASE_SEND_TIMEOUT_S", env)
    return value


class ClientSocket(_socket3.socket):  # type: ignore[misc]
    """gevent's socket with a deadline on every write and zero-copy ``sendfile``.

    Assigned to an accepted socket's ``__class__`` (same layout: no new slots), so gunicorn,
    gevent and everything else see the socket they expect.
    """

    __slots__ = ()
    send_timeout_s = SEND_TIMEOUT_S  # set once per worker from the settings
    # Plain TCP: the hub may write a message's framed bytes straight to it (hub/direct.py).
    direct_writes = True

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send every byte, or raise ``SendTimeout`` when they are not all sent within
        ``send_timeout_s`` of the call. The common case is one ``send`` that takes it all."""
        try:
            sent = self._sock.send(data, flags)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except TimeoutError:
            raise self._gave_up() from None
        if sent < len(data):
            self._send_rest(memoryview(data)[sent:], flags)

    def _send_rest(self, view: memoryview, flags: int) -> None:
        deadline = time.monotonic() + self.send_timeout_s
        timed_out = SendTimeout(f"a write took longer than {self.send_timeout_s:g} s")
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timed_out
            try:
                wait(self._write_event, remaining, timed_out, self.hub)  # raises it at the deadline
            except StopRequested:
                # The server is stopping: a reader that reads takes this write and the stream
                # ends at its next pause, with its last words; one that does not is cut with
                # every other stream still open STOP_DRAIN_S later (lifecycle.stop_streams).
                continue
            try:
                sent = self._sock.send(view, flags)
            except (BlockingIOError, InterruptedError):
                continue
            except TimeoutError:
                raise self._gave_up() from None
            view = view[sent:]

    def _gave_up(self) -> SendTimeout:
        """ETIMEDOUT from the kernel: TCP_USER_TIMEOUT (the send deadline) passed with data
        unacknowledged, a vanished client or one whose window stayed shut. The same end as
        the send deadline, and counted with it."""
        return SendTimeout(
            f"the client acknowledged nothing for {self.send_timeout_s:g} s (TCP_USER_TIMEOUT)"
        )

    def sendfile(self, file: BinaryIO, offset: int = 0, count: int | None = None) -> int:
        try:
            return zerocopy.sendfile(self, file, offset, count, stall_timeout_s=self.send_timeout_s)
        except zerocopy.GiveUp:
            return int(super().sendfile(file, offset, count))  # gevent's read/send loop


PLAIN_SOCKET = _socket3.socket
TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)  # a unix socket has no TCP_USER_TIMEOUT


class NamedListener:
    """A listening socket whose name outlives its close. gunicorn's ``handle`` asks the
    listener its name after a connection's first read; a graceful stop (HUP, SIGTERM) closes
    the listeners while connections accepted just before are still being read, and the
    ``getsockname`` of a closed socket (EBADF) was logged as a socket error for each."""

    __slots__ = ("_listener", "_name")

    def __init__(self, listener: Any, name: Any) -> None:
        self._listener = listener
        self._name = name

    def getsockname(self) -> Any:
        return self._name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._listener, attribute)


class StreamWorker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker, with ``ClientSocket`` for plain TCP connections and quiet,
    counted ends for streams cut by a send deadline or by SIGTERM."""

    user_timeout_ms = round(SEND_TIMEOUT_S * 1000)  # TCP_USER_TIMEOUT: the send deadline

    def init_process(self) -> None:
        ClientSocket.send_timeout_s = send_timeout_from_env()
        self.user_timeout_ms = round(ClientSocket.send_timeout_s * 1000)
        lifecycle.RESTART = lifecycle.restart_from_env()
        super().init_process()

    def run(self) -> None:
        # Named while open: a stop closes them before the last accepted connections are read.
        self.listener_names = {id(sock): sock.getsockname() for sock in self.sockets}
        super().run()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        if type(client) is PLAIN_SOCKET:
            client.__class__ = ClientSocket
            if client.family in TCP_FAMILIES:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, self.user_timeout_ms)
        name = getattr(self, "listener_names", {}).get(id(listener))
        if name is not None:
            listener = NamedListener(listener, name)
        STREAMS.connections += 1
        try:
            super().handle(listener, client, addr)
        finally:
            STREAMS.connections -= 1

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        try:
            return bool(super().handle_request(listener_name, req, sock, addr))
        except ConnectionOver:
            raise StopIteration from None  # a WebSocket ended: nothing to log or write
        except StreamCut as cut:
            if isinstance(cut, SendTimeout):
                STREAMS.send_timeouts += 1
            # The body's close() has run (open-stream count, source cleanup); end the
            # connection without the traceback gunicorn logs for other socket errors.
            self.log.info("stream to %s cut: %s", _peer(addr), cut)
            raise StopIteration from None


def _peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
