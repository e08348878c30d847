"""A network namespace of the benchmark's own (``ip netns``): server and clients share its
127.0.0.1, and its loopback can be turned into a black hole that swallows every packet
while the sender's kernel believes it was sent, as a vanished peer on a real network does.

Linux only, as root. The namespace is deleted on leaving the context and, should the
process die before that, by ``atexit``.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
# The black hole: an HTB class of 8 bit/s (tc's least rate) holding the packets in a queue
# too long to fill. netem's ``loss 100%`` would be the textbook tool, but this kernel has no
# sch_netem (nor u32, gact, prio); ``pfifo limit 0`` drops too, yet reports each drop to TCP
# as local congestion (NET_XMIT_DROP), and TCP then gives up on the connection within
# seconds instead of retransmitting for Linux's 15 retransmissions (about 15 minutes) as it
# does when packets vanish on a wire.
BLACK_HOLE = (
    "qdisc add dev lo root handle 1: htb default 1",
    "class add dev lo parent 1: classid 1:1 htb rate 8bit ceil 8bit burst 1 cburst 1",
    "qdisc add dev lo parent 1:1 handle 10: pfifo limit 100000",
)
# HTB lets the first packet out on the bucket's initial tokens: this datagram takes it. HTB
# caps a class's debt at 60 s (its mbuffer), so the bucket lets the next packet out 60 s
# later: the hole holds for HOLE_HOLDS_S, and a measurement must end before that.
SPENT_TOKENS_BYTES = 60_000
HOLE_HOLDS_S = 60.0
DISCARD_PORT = 9


class NamespaceError(RuntimeError):
    """The namespace could not be made (not root, no ``ip``, no ``tc``)."""


def unavailable_reason() -> str | None:
    """Why this machine cannot run the namespace part, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (ip netns add)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    return None


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise NamespaceError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` refers to (Python 3.11 has
    no ``os.setns``). Sockets it creates, and processes it starts, belong to that namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise NamespaceError(f"setns: {os.strerror(ctypes.get_errno())}")


class Namespace:
    """One namespace, named ``ss-bench-<pid>``, with its loopback up."""

    def __init__(self, name: str) -> None:
        self.name = name

    def ip(self, *argv: str) -> str:
        return _run("ip", "-n", self.name, *argv)

    def tc(self, command: str) -> str:
        return _run("ip", "netns", "exec", self.name, "tc", *command.split())

    def sysctl(self, key: str, value: int | None = None) -> int:
        """Read (and first write, when ``value`` is given) a per-namespace sysctl."""
        path = f"/proc/sys/{key.replace('.', '/')}"
        if value is not None:
            _run("ip", "netns", "exec", self.name, "sh", "-c", f"echo {int(value)} > {path}")
        return int(_run("ip", "netns", "exec", self.name, "cat", path).strip())

    def black_hole(self) -> None:
        """From now on every packet on this namespace's loopback is held, never delivered."""
        for command in BLACK_HOLE:
            self.tc(command)
        with self.inside(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spend:
            spend.sendto(b"\0" * SPENT_TOKENS_BYTES, ("127.0.0.1", DISCARD_PORT))

    def open_hole(self) -> None:
        """Loopback delivers again (the held packets are dropped with the qdisc)."""
        try:
            self.tc("qdisc del dev lo root")
        except NamespaceError:
            pass  # there was none

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Run the body with this thread in the namespace, then return it to where it was."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(NETNS_DIR / self.name, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


@contextmanager
def open_namespace(prefix: str = "ss-bench") -> Iterator[Namespace]:
    """A fresh namespace ``<prefix>-<pid>`` with ``lo`` up; deleted on exit (and at exit)."""
    why = unavailable_reason()
    if why:
        raise NamespaceError(why)
    namespace = Namespace(f"{prefix}-{os.getpid()}")
    namespace.delete()  # a leftover of this very PID (a killed earlier run) would block add
    _run("ip", "netns", "add", namespace.name)
    atexit.register(namespace.delete)
    try:
        namespace.ip("link", "set", "lo", "up")
        yield namespace
    finally:
        namespace.delete()
        atexit.unregister(namespace.delete)
