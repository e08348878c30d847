"""The connect-storm floor of gunicorn + gevent: a bare WSGI app, no Flask.

``held_streams``'s storm runs against it as a reference, under the same gunicorn settings and
worker class as ``showcase serve``: what a new stream costs when the app does nothing but
parse two query fields and yield paced ``data:`` lines. Whatever the showcase (or any Flask
app) spends above it is the framework's and the app's; what it spends itself is the server's.

    python -m gunicorn -c python:showcase.runtime.gunicorn_conf --bind 127.0.0.1:0 \\
        benchmarks.reference.bare_wsgi:app

It answers ``GET /healthz`` with ``{"open_streams": N, "open_connections": N}`` (the
streams it serves, and the worker's count of connections: what the benchmark polls) and
``GET /stream/sse?count=N&interval=MS`` with ``count`` messages ``interval`` ms apart, each
``data: {"seq": n, "ts": ms}``; anything else is 404.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from showcase.runtime.lifecycle import STREAMS  # the worker (StreamWorker) counts connections there

MAX_COUNT = 100_000
MAX_INTERVAL_MS = 60_000.0

StartResponse = Callable[..., Any]
OPEN = {"streams": 0}


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        health = {"open_streams": OPEN["streams"], "open_connections": STREAMS.connections}
        body = json.dumps(health).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path != "/stream/sse":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    try:
        count = int(query.get("count", "20"))
        interval_s = float(query.get("interval", "1000")) / 1000.0
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"count and interval must be numbers\n"]
    if not (0 < count <= MAX_COUNT and 0 <= interval_s * 1000.0 <= MAX_INTERVAL_MS):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"count or interval out of range\n"]
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    return paced(count, interval_s)


def paced(count: int, interval_s: float) -> Iterator[bytes]:
    OPEN["streams"] += 1
    try:
        for seq in range(count):
            if seq and interval_s:
                time.sleep(interval_s)  # gevent's sleep: the worker has monkey-patched time
            ts = round(time.time() * 1000.0, 3)
            yield f'data: {{"seq":{seq},"ts":{ts}}}\n\n'.encode()
    finally:
        OPEN["streams"] -= 1
