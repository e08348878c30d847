"""Capacity: the limits that cap how many streams a worker and a machine hold (read from the
kernel), a server with several workers for the capacity runs, and each worker's fd count
sampled while they run. The guide's "capacity" section is ``benchmarks.report.capacity``.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.infra import procfs
from benchmarks.infra.harness import CLIENT_CPU, RESULTS_DIR, SERVER_CPU, Target, pinning_wanted

DEFAULT_WORKER_CONNECTIONS = 20000  # showcase/runtime/gunicorn_conf.py
GUNICORN_BACKLOG = 4096  # showcase/runtime/gunicorn_conf.py ``backlog``


def read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_limits() -> dict[str, Any]:
    """The kernel's and the process's limits that cap held streams, as this machine has them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ports = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low, high = (int(x) for x in ports.read_text().split()) if ports.exists() else (0, -1)
    somaxconn = read_int("/proc/sys/net/core/somaxconn")
    return {
        "nofile_soft": soft,
        "nofile_hard": None if hard == resource.RLIM_INFINITY else hard,
        "somaxconn": somaxconn,
        "tcp_max_syn_backlog": read_int("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
        "nr_open": read_int("/proc/sys/fs/nr_open"),
        "file_max": read_int("/proc/sys/fs/file-max"),
        "gunicorn_backlog": GUNICORN_BACKLOG,
        "listen_queue": min(GUNICORN_BACKLOG, somaxconn or GUNICORN_BACKLOG),
        "ephemeral_ports": [low, high],
        "ephemeral_ports_count": high - low + 1,
        "worker_connections_default": DEFAULT_WORKER_CONNECTIONS,
        "memory_bytes": procfs_memory_bytes(),
        "cpu_count": os.cpu_count(),
    }


def procfs_memory_bytes() -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


@contextmanager
def open_workers(
    args: argparse.Namespace, name: str, workers: int, worker_connections: int | None = None
) -> Iterator[Target]:
    """``--url`` as given, or ``showcase serve --workers N`` on a free port, pinned like the
    harness's one-worker server (CPU 0), stopped by PID."""
    if args.url:
        yield Target(args.url.rstrip("/"), list(args.server_pid), {"own": False, "url": args.url})
        return
    from showcase.tools.launcher import start_server

    cpu = SERVER_CPU if pinning_wanted(args) else None
    log_path = RESULTS_DIR / "logs" / f"{name}-{os.getpid()}-{time.time_ns()}.log"
    server = start_server(log_path, workers=workers, worker_connections=worker_connections, cpu=cpu)
    try:
        settings = {
            "own": True,
            "workers": workers,
            "worker_class": "gevent",
            "worker_connections": worker_connections or DEFAULT_WORKER_CONNECTIONS,
            "server_cpu": cpu,
            "client_cpu": CLIENT_CPU if cpu is not None else None,
            "worker_pids": server.worker_pids,
        }
        yield Target(server.url, [server.pid], settings)
    finally:
        server.stop()
        if log_path.exists() and log_path.stat().st_size == 0:
            log_path.unlink()


def count_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class FdSampler:
    """Open descriptors of each worker every ``period_s`` in a thread (bounded): how the
    streams spread over the workers, and how close each came to its open-file limit."""

    def __init__(self, target: Target, period_s: float = 1.0, limit: int = 3600) -> None:
        self.pids = procfs.child_pids(target.pids[0]) if target.pids else []
        self.period_s = period_s
        self.limit = limit
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(self.limit):
            for pid in self.pids:
                fds = count_fds(pid)
                if fds is not None:
                    self.peak[pid] = max(fds, self.peak.get(pid, 0))
            if self._stop.wait(self.period_s):
                return

    def __enter__(self) -> FdSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
