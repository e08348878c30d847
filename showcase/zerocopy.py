"""Cooperative zero-copy ``socket.sendfile`` for gevent sockets.

gevent's ``socket.sendfile`` copies through Python in 8 KiB reads and sends; this one calls
``os.sendfile`` on the raw descriptors and waits on the hub only when the socket is full.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

SENDFILE_MAX_BYTES = 1 << 30  # per call; the kernel caps one call near 2 GiB anyway
# A fast loopback reader may never fill the socket, so the loop would never wait on the hub
# and a 1 GiB file would hold the worker for its whole transfer: yield this often.
YIELD_EVERY_BYTES = 8 << 20  # about 3 ms of loopback sendfile without a wait


def sendfile(sock: Any, file: BinaryIO, offset: int = 0, count: int | None = None) -> int:
    """Same contract as ``socket.sendfile``: returns bytes sent, leaves the file after them."""
    from gevent import sleep
    from gevent.socket import wait_write

    sock_fd = sock.fileno()
    file_fd = file.fileno()
    if count is None:
        count = max(os.fstat(file_fd).st_size - offset, 0)
    total = 0
    next_yield = YIELD_EVERY_BYTES
    try:
        while total < count:
            try:
                sent = os.sendfile(
                    sock_fd, file_fd, offset + total, min(count - total, SENDFILE_MAX_BYTES)
                )
            except BlockingIOError:
                wait_write(sock_fd, timeout=sock.gettimeout())  # other greenlets run here
                next_yield = total + YIELD_EVERY_BYTES
                continue
            if sent == 0:
                break  # end of file
            total += sent
            if total >= next_yield:
                next_yield = total + YIELD_EVERY_BYTES
                sleep(0)
        return total
    finally:
        if total:
            file.seek(offset + total)


def install() -> None:
    """Replace gevent's socket.sendfile (a worker-process-wide patch; call after fork)."""
    from gevent import _socket3

    _socket3.socket.sendfile = sendfile
