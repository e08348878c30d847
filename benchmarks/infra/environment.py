"""What a result depends on: versions (the project's too), CPU model and count, kernel, the
commit and whether the tree had local changes, the CPU clock (recorded in every JSON)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "streaming-showcase"
PACKAGES = (
    PROJECT,
    "flask",
    "werkzeug",
    "gunicorn",
    "gevent",
    "greenlet",
    "httptools",
    "matplotlib",
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
        "git": git_commit(),
        "cpu_clock": CPU_CLOCK,
    }
