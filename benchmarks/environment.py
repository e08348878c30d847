"""What a result depends on: versions, CPU, kernel, commit, pinning (recorded in every JSON)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flask", "werkzeug", "gunicorn", "gevent", "greenlet", "httptools", "matplotlib")


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
        return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--short"))}
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
    return {
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_bytes": memory_total_bytes(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "git": git_commit(),
    }


def machine_line(env: dict[str, Any]) -> str:
    """One line naming the machine, for tables and the guide."""
    memory = env.get("memory_bytes")
    gib = f", {memory / 2**30:.0f} GiB" if memory else ""
    return (
        f"{env.get('cpu_count')} × {env.get('cpu_model')}{gib}, Linux {env.get('kernel')}, "
        f"Python {env.get('python')}, gunicorn {env.get('packages', {}).get('gunicorn')}, "
        f"gevent {env.get('packages', {}).get('gevent')}"
    )
