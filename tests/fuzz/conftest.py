"""The fuzz suite's server, its watcher and baseline, and the Hypothesis profile.

``SHOWCASE_FUZZ_EXAMPLES=N`` sets the examples per test (default ``DEFAULT_EXAMPLES``, small
so ``make test`` stays fast); each fuzz test's timeout grows with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from showcase.tools.launcher import RunningServer, start_server
from tests.fuzz.exchange import exchange
from tests.fuzz.invariants import MAX_GAP_S, Target, Watcher

DEFAULT_EXAMPLES = 25
SECONDS_PER_EXAMPLE = 2.0  # the timeout's share per example: most take a few milliseconds
HEARTBEAT_S = "0.25"  # a departed reader is noticed at a write: heartbeats make one soon


def fuzz_examples() -> int:
    raw = os.environ.get("SHOWCASE_FUZZ_EXAMPLES", "")
    return int(raw) if raw.strip() else DEFAULT_EXAMPLES


settings.register_profile(
    "showcase-fuzz",
    max_examples=fuzz_examples(),
    deadline=None,  # a real server on shared cores: time per example says nothing here
    print_blob=True,  # a failure prints @reproduce_failure(...) besides the minimal example
    # Examples run against module-scoped servers, never function-scoped fixtures; slow
    # generation (large bodies, long lines) is the point of some strategies.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("showcase-fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    timeout_s = max(120.0, 30.0 + fuzz_examples() * SECONDS_PER_EXAMPLE)
    for item in items:
        if item.get_closest_marker("fuzz") is not None:
            item.add_marker(pytest.mark.timeout(timeout_s))


def start_fuzz_server(log_path: Path, data_dir: Path, env: dict[str, str]) -> RunningServer:
    return start_server(
        log_path,
        env={
            "SHOWCASE_DATA_DIR": str(data_dir),
            "SHOWCASE_HEARTBEAT_S": HEARTBEAT_S,
            "SHOWCASE_CHAT_INTERVAL_MS": "0",  # chat answers end in milliseconds
            **env,
        },
    )


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One gevent worker for the query, header and body modules (relays read itself)."""
    root = tmp_path_factory.mktemp("fuzz")
    running = start_fuzz_server(root / "gunicorn.log", root / "data", {})
    yield running
    running.stop()


def warm_up(url: str) -> None:
    """Touch what a worker makes on first use (the 1 MiB sample, the hub's broker, the
    relay's path), so the baseline holds it."""
    exchange(url, "GET", "/download/1MiB.bin", read_s=10)
    exchange(url, "GET", "/chat/events?room=warm", read_s=0.3)
    exchange(url, "GET", "/relay/stream/sse?count=1&interval=0", read_s=5)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    exchange(url, "POST", "/v1/chat/completions", [("Content-Type", "application/json")], body)


@pytest.fixture(scope="module")
def target(fuzz_server: RunningServer) -> Iterator[Target]:
    """The session's fuzz server with a watcher for this module; after the module, the
    watched stream must never have gone silent for long."""
    yield from watch(fuzz_server, warm_up)


def watch(server: RunningServer, warm: Callable[[str], None]) -> Iterator[Target]:
    watcher = Watcher(server.url)
    try:
        pid = server.worker_pids[0]
        assert server.health()["pid"] == pid
        fuzzed = Target(server, watcher, pid)
        warm(server.url)
        fuzzed.take_baseline()
        yield fuzzed
        gap = watcher.max_gap_s(fuzzed.module_started)
        assert watcher.error is None, watcher.error
        assert gap <= MAX_GAP_S, f"the watched stream went silent for {gap:.2f} s in this module"
    finally:
        watcher.close()
