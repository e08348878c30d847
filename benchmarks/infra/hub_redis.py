"""Debian's ``redis-server`` for the hub benchmark and the hub's Redis tests: a free 127.0.0.1
port, no persistence, pinned beside the server under test when asked, stopped by its PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from showcase.tools.processes import stop_process

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    version: str | None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """SIGTERM by its PID, SIGKILL if it stays."""
        stop_process(self.process, STOP_TIMEOUT_S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_version(binary: str) -> str | None:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    # "Redis server v=7.0.15 sha=… malloc=jemalloc-5.3.0 bits=64 build=…"
    for word in done.stdout.split():
        if word.startswith("v="):
            return word[2:]
    return None


def start_redis(workdir: Path, port: int | None = None, cpu: int | None = None) -> RedisServer:
    """redis-server on ``port`` (default: a free one) of 127.0.0.1, no RDB snapshots, no AOF,
    its files in ``workdir``, pinned to ``cpu`` when given; answering PING when this returns.

    Raises RuntimeError when redis-server is missing (``make test`` installs it) or will not
    start (with its log)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: `make test` installs Debian's redis-server")
    import redis

    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(workdir), "--daemonize", "no", "--logfile", "redis.log"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    server = RedisServer(process, port, redis_version(binary))
    client = redis.Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            client.ping()
            client.close()
            return server
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                log = workdir / "redis.log"
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server did not start:\n{text}") from None
            time.sleep(0.05)


@contextmanager
def run_redis(workdir: Path, cpu: int | None = None) -> Iterator[RedisServer]:
    """``start_redis`` for a ``with`` block: stopped by its PID at the end."""
    server = start_redis(workdir, cpu=cpu)
    try:
        yield server
    finally:
        server.stop()
