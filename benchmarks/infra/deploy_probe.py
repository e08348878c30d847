"""Which file descriptor of a server process holds one client's connection, and the moment it
is closed: read from /proc, so it needs no network (which may be a black hole by then).

The gevent worker closes a stream's socket right after the body's ``close()`` (the
generator's cleanup, ``open_streams`` − 1), in the same greenlet with no switch between
them: the descriptor's disappearance times the cleanup to within microseconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.005


class ProbeError(RuntimeError):
    """The connection is not (or no longer) in the process's socket table."""


def socket_inode(pid: int, local_port: int, peer_port: int) -> str:
    """The inode of ``pid``'s TCP socket from ``local_port`` to ``peer_port`` (IPv4, in the
    network namespace of ``pid``: /proc/<pid>/net/tcp shows that namespace's table)."""
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, peer, inode = fields[1], fields[2], fields[9]
        if int(local.rsplit(":", 1)[1], 16) == local_port and (
            int(peer.rsplit(":", 1)[1], 16) == peer_port
        ):
            if inode != "0":
                return inode
    raise ProbeError(f"no socket :{local_port} -> :{peer_port} in /proc/{pid}/net/tcp")


def socket_fd(pid: int, inode: str) -> int:
    """The descriptor of ``pid`` that refers to socket ``inode``."""
    want = f"socket:[{inode}]"
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == want:
                return int(name)
        except OSError:
            continue  # closed while we looked
    raise ProbeError(f"no descriptor of {pid} refers to {want}")


@dataclass
class HeldConnection:
    """A server-side descriptor being watched: ``closed_at`` (monotonic) once it is gone."""

    pid: int
    fd: int
    inode: str
    closed_at: float | None = None

    @classmethod
    def find(
        cls, pid: int, local_port: int, peer_port: int, timeout_s: float = 5.0
    ) -> HeldConnection:
        """The server's end of a connection just accepted (retried until it is in the table)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                inode = socket_inode(pid, local_port, peer_port)
                return cls(pid, socket_fd(pid, inode), inode)
            except ProbeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL_S)

    def is_open(self) -> bool:
        try:
            return os.readlink(f"/proc/{self.pid}/fd/{self.fd}") == f"socket:[{self.inode}]"
        except OSError:
            return False


def watch_closes(held: list[HeldConnection], deadline_s: float) -> None:
    """Poll every ``POLL_S`` until each descriptor of ``held`` is closed or ``deadline_s``
    (monotonic) passes; sets ``closed_at`` on those that closed (to within ``POLL_S``)."""
    pending = [h for h in held if h.closed_at is None]
    while pending and time.monotonic() < deadline_s:
        now = time.monotonic()
        for item in pending:
            if not item.is_open():
                item.closed_at = now
        pending = [h for h in pending if h.closed_at is None]
        time.sleep(POLL_S)
