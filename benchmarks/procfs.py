"""CPU time and resident memory of processes, read from /proc (Linux): server, workers, nginx."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU seconds (user + system) and RSS bytes of a set of processes at one moment."""

    cpu_s: float
    rss_bytes: int
    pids: tuple[int, ...]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/<pid>/stat, after the ``comm``)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` from /proc/<pid>/status (0 for a process that has no memory left)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (the gunicorn workers of an arbiter)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(p) for p in task.read_text().split()]
    return children


def process_tree(pids: list[int]) -> list[int]:
    """``pids`` and their children, the ones still alive."""
    seen: list[int] = []
    for pid in pids:
        try:
            for each in [pid, *child_pids(pid)]:
                if each not in seen:
                    seen.append(each)
        except OSError:
            continue
    return seen


def sample(pids: list[int]) -> ProcSample:
    """CPU and RSS summed over ``pids`` and their children; vanished processes count 0."""
    cpu = 0.0
    rss = 0
    alive: list[int] = []
    for pid in process_tree(pids):
        try:
            cpu += cpu_seconds(pid)
            rss += rss_bytes(pid)
            alive.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return ProcSample(cpu_s=cpu, rss_bytes=rss, pids=tuple(alive))


def self_cpu_seconds() -> float:
    """CPU seconds of this process and the children it waited for (client processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
