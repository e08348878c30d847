"""``showcase serve``: run gunicorn with the gevent worker and the settings module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_BIND = "127.0.0.1:8000"
MAX_SEND_TIMEOUT_S = 3600.0  # an hour: past that a stalled reader is simply never cut


def gunicorn_argv(
    bind: str, workers: int, worker_connections: int | None, extra: list[str]
) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:showcase.gunicorn_conf"]
    argv += ["--bind", bind, "--workers", str(workers)]
    if worker_connections is not None:
        argv += ["--worker-connections", str(worker_connections)]
    return argv + extra


def serve(
    bind: str = DEFAULT_BIND,
    workers: int = 1,
    worker_connections: int | None = None,
    data_dir: Path | None = None,
    heartbeat_s: float | None = None,
    extra: list[str] | None = None,
    send_timeout_s: float | None = None,
    broker: str | None = None,
) -> None:
    """Replace this process with gunicorn (same PID, so whoever started us can stop it).

    The app's settings reach the workers as environment variables (``SHOWCASE_DATA_DIR``,
    ``SHOWCASE_HEARTBEAT_S``, ``SHOWCASE_SEND_TIMEOUT_S``, ``SHOWCASE_BROKER``); None leaves a
    variable as it is, so the server's default (or the caller's environment) applies. The
    values are not checked here: ``showcase.cli`` validates them before calling.
    """
    if data_dir is not None:
        os.environ["SHOWCASE_DATA_DIR"] = str(data_dir.resolve())
    if heartbeat_s is not None:
        os.environ["SHOWCASE_HEARTBEAT_S"] = str(heartbeat_s)
    if send_timeout_s is not None:
        os.environ["SHOWCASE_SEND_TIMEOUT_S"] = str(send_timeout_s)
    if broker is not None:
        os.environ["SHOWCASE_BROKER"] = broker
    argv = gunicorn_argv(bind, workers, worker_connections, extra or [])
    sys.stdout.flush()
    os.execv(argv[0], argv)
