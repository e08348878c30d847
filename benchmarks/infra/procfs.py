"""CPU time, resident memory and I/O counters of processes, read from /proc (Linux): server,
workers, nginx. CPU comes from schedstat (nanoseconds) where the kernel has it: /proc/<pid>/stat
counts in clock ticks (10 ms at 100 Hz), too coarse for a run of a few hundred milliseconds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# "schedstat": ns on the CPU per thread (CONFIG_SCHED_INFO); "stat": utime + stime in ticks.
CPU_CLOCK = "schedstat" if Path("/proc/self/schedstat").exists() else "stat"


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU seconds (user + system) and RSS bytes of a set of processes at one moment, and
    the clock the CPU was read from (``schedstat`` in ns, or ``stat`` in ticks)."""

    cpu_s: float
    rss_bytes: int
    pids: tuple[int, ...]
    clock: str = CPU_CLOCK


def stat_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/<pid>/stat, after the ``comm``),
    in clock ticks: a thread that ended still counts, but 10 ms is the resolution."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def schedstat_cpu_seconds(pid: int) -> float:
    """Time on the CPU of every live thread of ``pid``: the first field of each
    /proc/<pid>/task/<tid>/schedstat, in ns. A thread that has ended no longer counts
    (gunicorn's gevent worker and nginx serve from one thread)."""
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended while we read
    return total_ns / 1e9


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` on the finest clock this kernel offers (``CPU_CLOCK``).

    schedstat sums the threads alive now: a thread that exits takes its time with it. Fit
    for the server (its threads live as long as it does), not for a process whose threads
    come and go between two readings."""
    if CPU_CLOCK == "schedstat":
        return schedstat_cpu_seconds(pid)
    return stat_cpu_seconds(pid)


def io_counters(pid: int) -> dict[str, int]:
    """/proc/<pid>/io: ``syscr``/``syscw`` count read- and write-type system calls,
    ``rchar``/``wchar`` their bytes. ``sendfile`` counts as one of each with its bytes; a
    socket ``send`` counts as neither (fs/read_write.c counts what goes through the VFS)."""
    counters: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        counters[name.strip()] = int(value)
    return counters


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
