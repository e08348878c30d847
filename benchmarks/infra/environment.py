"""What a result depends on: versions of every package on the measured path (the project's
too), the server settings that shape the figures, CPU model and count, kernel, the commit and
whether the tree had local changes, the CPU clock (recorded in every JSON)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "streaming-showcase"
# Every package a measured byte passes through, server side and load side: a version left
# out is a figure nobody can explain later. Absent ones are recorded as None.
PACKAGES = (
    PROJECT,
    *("flask", "werkzeug", "jinja2", "gunicorn", "gevent", "greenlet", "packaging"),
    *("wsproto", "simple-websocket", "flask-sock", "h11"),  # the WebSocket lanes
    *("redis", "hiredis"),  # the hub's Redis broker
    *("requests", "urllib3", "websockets", "uvloop", "httptools", "aiohttp"),  # load clients
    *("matplotlib", "rich"),
)
# Settings a server started by a benchmark inherits from its environment and that move the
# figures (a benchmark's own flags are in its result's config).
SHAPING_SETTINGS = (
    *("SHOWCASE_GC_THRESHOLD", "SHOWCASE_HEARTBEAT_S", "SHOWCASE_SEND_TIMEOUT_S"),
    *("SHOWCASE_WORKER_CONNECTIONS", "SHOWCASE_WORKERS", "SHOWCASE_ACCESS_LOG"),
    *("SHOWCASE_RESTART_RETRY_MS", "SHOWCASE_RESTART_JITTER_MS", "SHOWCASE_CHAT_INTERVAL_MS"),
    "SHOWCASE_HUB_QUEUE_LIMIT",
)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "HEAD") or None,
            # Changed tracked files only: results and logs the run itself writes do not count.
            "dirty": bool(git("status", "--short", "--untracked-files=no")),
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def memory_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def server_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The SHAPING_SETTINGS as a server started from ``environ`` reads them, and the
    worker's resolved ``gc_threshold`` (the project's own when the setting is empty)."""
    from showcase.pure.settings import SettingError, read_settings

    environ = dict(os.environ if environ is None else environ)
    try:
        values = read_settings(environ)
    except SettingError as error:  # the server would refuse to start: say why
        return {"error": str(error)}
    settings: dict[str, Any] = {}
    for name in SHAPING_SETTINGS:
        value = values.get(name)
        settings[name] = list(value) if isinstance(value, tuple) else value
    from showcase.runtime.gunicorn_conf import GC_THRESHOLD

    # The broker's kind only: its URL may carry a password.
    broker = str(values.get("SHOWCASE_BROKER") or "memory")
    settings["broker"] = broker.split("://", 1)[0] if "://" in broker else broker
    settings["gc_threshold"] = list(values.get("SHOWCASE_GC_THRESHOLD") or GC_THRESHOLD)
    return settings


def describe_environment() -> dict[str, Any]:
    """Everything about this machine and checkout that a reader needs to weigh the numbers."""
    from benchmarks.infra.procfs import CPU_CLOCK

    return {
        "version": package_version(PROJECT),
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_bytes": memory_total_bytes(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "settings": server_settings(),
        "git": git_commit(),
        "cpu_clock": CPU_CLOCK,
    }
