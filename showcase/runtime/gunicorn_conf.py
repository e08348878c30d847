"""gunicorn settings for ``showcase serve`` (``gunicorn -c python:showcase.runtime.gunicorn_conf``).

Every value can be overridden on gunicorn's command line; ``showcase serve`` does that for
bind, workers and worker connections. Loading this module validates every ``SHOWCASE_*``
setting (showcase/pure/settings.py), in the arbiter, before any worker forks: a bad value stops the
server with one line naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from showcase.pure.settings import SettingError, read_settings

try:
    SETTINGS = read_settings(os.environ)
except SettingError as error:
    # SystemExit passes through gunicorn's config loader, which would print a traceback
    # for any other exception.
    raise SystemExit(f"showcase: error: {error}") from None

wsgi_app = "showcase.web:create_app()"
bind = [SETTINGS["SHOWCASE_BIND"]]
workers = SETTINGS["SHOWCASE_WORKERS"]
# gunicorn's gevent worker, plus a send deadline and a cheaper write (showcase/runtime/worker.py).
worker_class = "showcase.runtime.worker.StreamWorker"
# The gevent worker's pool size caps concurrent connections per worker, silently (default
# 1000). The process's file-descriptor limit is raised to match in post_worker_init.
worker_connections = SETTINGS["SHOWCASE_WORKER_CONNECTIONS"]
backlog = 4096
timeout = 30  # the worker's own heartbeat to the arbiter; streams are not limited by it
graceful_timeout = 10  # SIGTERM: every stream is cut at once (lifecycle.py), then the worker exits
keepalive = 5
accesslog = SETTINGS["SHOWCASE_ACCESS_LOG"] or None
errorlog = "-"
loglevel = SETTINGS["SHOWCASE_LOG_LEVEL"]
control_socket_disable = True  # several servers (tests, benchmarks) would share one path


def post_worker_init(worker: Any) -> None:
    """Runs in each worker after gevent's monkey-patching."""
    import resource

    from showcase.runtime import lifecycle

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = worker.worker_connections + 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    lifecycle.install_in_worker()
    tune_gc()


def pre_exec(server: Any) -> None:
    """Before ``kill -USR2`` re-executes the arbiter (a binary upgrade): run gunicorn as the
    module it was started as.

    gunicorn re-executes ``sys.executable`` with ``sys.argv``, and under ``python -m gunicorn``
    (``showcase serve``) ``sys.argv[0]`` is gunicorn's ``__main__.py``: run as a script, its
    folder comes first on ``sys.path`` and ``gunicorn/http`` hides the standard ``http``, so
    the new arbiter cannot load the worker class and the upgrade fails.
    """
    server.START_CTX["args"] = reexec_args(server.START_CTX["args"])


def reexec_args(args: list[str]) -> list[str]:
    """``[python, .../gunicorn/__main__.py, *rest]`` as ``[python, -m, gunicorn, *rest]``;
    any other command line as it is."""
    if len(args) >= 2 and Path(args[1]).parts[-2:] == ("gunicorn", "__main__.py"):
        return [args[0], "-m", "gunicorn", *args[2:]]
    return list(args)


# What the worker imported and built at boot lives as long as the worker: keep it out of
# every full collection, whose cost grows with the objects it walks (gc.freeze). And collect
# the young generation less often: a worker allocates in bursts (a fan-out to thousands of
# subscribers, a storm of new streams) whose objects mostly die young anyway, and with the
# default of 700 allocations one broadcast to thousands of subscribers ran a young collection
# every 700 objects it made.
GC_THRESHOLD = (50_000, 20, 100)


def tune_gc() -> None:
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*(SETTINGS["SHOWCASE_GC_THRESHOLD"] or GC_THRESHOLD))
