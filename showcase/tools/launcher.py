"""Start and stop a real ``showcase serve`` (gunicorn + gevent) on a free loopback port.

Used by the integration tests, the browser tests and the benchmarks. The port comes from
``--bind 127.0.0.1:0`` and gunicorn's ``Listening at:`` log line, so there is no race.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from showcase.tools.processes import stop_process
from showcase.tools.server import gunicorn_argv

LISTENING = re.compile(r"Listening at: (http://127\.\d+\.\d+\.\d+:\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


def fetch_health(url: str) -> dict[str, int]:
    """``GET {url}/healthz`` of any server that follows the contract (status checked)."""
    response = requests.get(f"{url}/healthz", timeout=5)
    response.raise_for_status()
    data: dict[str, int] = response.json()
    return data


def wait_for_health(
    url: str, key: str, predicate: Callable[[int], bool], timeout_s: float = 15.0
) -> int:
    """Poll ``/healthz`` until ``predicate(health[key])`` or time is up; the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = fetch_health(url)[key]
        if predicate(current) or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def wait_for_open_streams(
    url: str, predicate: Callable[[int], bool], timeout_s: float = 15.0
) -> int:
    """Poll ``/healthz`` until ``predicate(open_streams)`` or time is up; the last count."""
    return wait_for_health(url, "open_streams", predicate, timeout_s)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Return once ``url/healthz`` answers 200; RuntimeError if ``process`` exits first or
    ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the app did not answer at {url} (exit status {process.poll()})")


class ServerError(RuntimeError):
    """The server did not start; the message carries its log."""


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    worker_pids: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict[str, int]:
        return fetch_health(self.url)

    def wait_open_streams(self, expected: int, timeout_s: float = 15.0) -> int:
        """Poll ``/healthz`` until ``open_streams == expected`` or time is up; the last count."""
        return wait_for_open_streams(self.url, lambda count: count == expected, timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the arbiter we started (by PID), wait; SIGKILL if it will not go."""
        return stop_process(self.process, timeout_s)


def start_server(
    log_path: Path,
    *,
    workers: int = 1,
    worker_connections: int | None = None,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    cpu: int | None = None,
    app: str | None = None,
) -> RunningServer:
    """Spawn ``python -m showcase serve --bind 127.0.0.1:0`` and wait until it answers.

    ``cpu`` pins the server to one core with taskset (benchmarks). ``app`` (``module:name``)
    serves another WSGI app with the same gunicorn settings instead; it must answer
    ``/healthz`` like the showcase (the benchmarks' bare reference app does).
    """
    if app is None:
        argv = [sys.executable, "-m", "showcase", "serve", "--bind", "127.0.0.1:0"]
        argv += ["--workers", str(workers)]
        if worker_connections is not None:
            argv += ["--worker-connections", str(worker_connections)]
        argv += list(extra)
    else:
        argv = gunicorn_argv("127.0.0.1:0", workers, worker_connections, [*extra, app])
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    log.close()
    server = RunningServer(url="", process=process, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = server.log()
        match = LISTENING.search(text)
        pids = [int(pid) for pid in BOOTED.findall(text)]
        if match and len(pids) >= workers:
            server.url = match.group(1)
            server.worker_pids = pids
            try:
                server.health()
                return server
            except requests.RequestException:
                pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    server.stop()
    raise ServerError(f"server did not start within {START_TIMEOUT_S} s:\n{server.log()}")
