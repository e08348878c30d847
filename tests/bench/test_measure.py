"""The server sampler runs in the client's process: it measures its own CPU, so that a
client CPU figure taken around it can leave it out."""

from __future__ import annotations

import os
import time

from benchmarks.infra.harness import Target
from benchmarks.infra.measure import Sampler


def test_sampler_measures_its_own_cpu() -> None:
    target = Target("http://127.0.0.1:1", [os.getpid()])
    with Sampler(target, period_s=0.001, limit=200) as sampler:
        deadline = time.monotonic() + 5
        while len(sampler.samples) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(sampler.samples) >= 50
    assert sampler.cpu_s > 0
    assert all(cpu > 0 and rss > 0 for _, cpu, rss in sampler.samples)
