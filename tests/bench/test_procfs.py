"""CPU and I/O counters read from /proc: a clock fine enough for short runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.infra import procfs

TICK_S = 1 / procfs.CLOCK_TICKS_PER_S


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="kernel without schedstat")
def test_cpu_seconds_resolves_less_than_a_clock_tick() -> None:
    """/proc/<pid>/stat counts in ticks (10 ms at 100 Hz): 2 ms of work would read 0 or 10 ms.

    Measured in a fresh one-thread interpreter: schedstat sums the live threads, and the test
    process's threads (samplers of other tests) may end in between and take their time along.
    """
    script = (
        "import os, time\n"
        "from benchmarks.infra import procfs\n"
        "pid = os.getpid()\n"
        "before = procfs.cpu_seconds(pid)\n"
        "started = time.process_time()\n"
        f"while time.process_time() - started < {TICK_S / 5!r}:\n"
        "    pass\n"
        "print(procfs.cpu_seconds(pid) - before, procfs.sample([pid]).clock)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    spent, clock = result.stdout.split()
    assert 0 < float(spent) < TICK_S
    assert clock == "schedstat"


def test_io_counters_count_write_syscalls_and_bytes(tmp_path: Path) -> None:
    before = procfs.io_counters(os.getpid())
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        for _ in range(10):
            os.write(fd, b"x" * 1000)
    finally:
        os.close(fd)
    after = procfs.io_counters(os.getpid())
    assert after["syscw"] - before["syscw"] >= 10
    assert after["wchar"] - before["wchar"] >= 10_000
