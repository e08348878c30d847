"""``showcase serve``: run gunicorn with the gevent worker and the settings module."""

from __future__ import annotations

import os
import sys

from showcase.pure.settings import DEFAULT_BIND, read_settings

__all__ = ["DEFAULT_BIND", "gunicorn_argv", "serve"]


def gunicorn_argv(
    bind: str, workers: int, worker_connections: int | None, extra: list[str]
) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:showcase.runtime.gunicorn_conf"]
    argv += ["--bind", bind, "--workers", str(workers)]
    if worker_connections is not None:
        argv += ["--worker-connections", str(worker_connections)]
    return argv + extra


def serve(extra: list[str] | None = None) -> None:
    """Replace this process with gunicorn (same PID, so whoever started us can stop it).

    Every setting reaches gunicorn and its workers as a ``SHOWCASE_*`` environment variable
    (``showcase.tools.cli`` puts each flag there); they are all validated here first, so a bad one
    stops with SettingError naming it before gunicorn starts (and gunicorn_conf checks them
    again, for a gunicorn started by hand).
    """
    settings = read_settings(os.environ)
    argv = gunicorn_argv(
        settings["SHOWCASE_BIND"],
        settings["SHOWCASE_WORKERS"],
        settings["SHOWCASE_WORKER_CONNECTIONS"],
        extra or [],
    )
    sys.stdout.flush()
    os.execv(argv[0], argv)
