"""Cooperative zero-copy ``sendfile`` for the worker's plain TCP client sockets.

gevent's ``socket.sendfile`` copies through Python in 8 KiB reads and sends; this one calls
``os.sendfile`` on the raw descriptors and waits on the hub only when the socket is full.
Used by ``showcase.runtime.worker.ClientSocket`` alone, never by a TLS socket (``os.sendfile`` would
bypass the encryption).
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

from showcase.runtime.lifecycle import SendTimeout

SENDFILE_MAX_BYTES = 1 << 30  # per call; the kernel caps one call near 2 GiB anyway
# A fast loopback reader may never fill the socket, so the loop would never wait on the hub
# and a 1 GiB file would hold the worker for its whole transfer: yield this often.
YIELD_EVERY_BYTES = 8 << 20  # few yields per file, short enough that other streams keep pace


class GiveUp(Exception):
    """``os.sendfile`` cannot send this file on this socket, and nothing was sent yet: the
    caller falls back to a read/send loop, as ``socket.sendfile`` of the standard library does."""


def sendfile(
    sock: Any,
    file: BinaryIO,
    offset: int = 0,
    count: int | None = None,
    *,
    stall_timeout_s: float | None = None,
) -> int:
    """Same contract as ``socket.sendfile``: returns bytes sent, leaves the file after them.

    ``stall_timeout_s``: the longest wait for the socket to take more bytes; past it,
    ``SendTimeout``. A download is one long write, so a slow but moving reader is never cut,
    only one that stopped reading.
    """
    from gevent import sleep
    from gevent.socket import wait_write

    try:
        file_fd = file.fileno()
        size = os.fstat(file_fd).st_size
    except (AttributeError, io.UnsupportedOperation, OSError) as error:
        raise GiveUp(error) from error
    sock_fd = sock.fileno()
    if count is None:
        count = max(size - offset, 0)
    total = 0
    next_yield = YIELD_EVERY_BYTES
    try:
        while total < count:
            try:
                sent = os.sendfile(
                    sock_fd, file_fd, offset + total, min(count - total, SENDFILE_MAX_BYTES)
                )
            except BlockingIOError:
                stalled = SendTimeout(f"the reader took no bytes for {stall_timeout_s} s")
                wait_write(sock_fd, timeout=stall_timeout_s, timeout_exc=stalled)
                next_yield = total + YIELD_EVERY_BYTES
                continue
            except OSError as error:
                # EINVAL, ENOTSOCK, EOPNOTSUPP…: a file or socket sendfile cannot use.
                if total == 0:
                    raise GiveUp(error) from error
                raise
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
