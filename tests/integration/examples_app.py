"""One WSGI app holding every docs/examples/*_server.py app, each at its own path, so one
gunicorn + gevent server runs them all; plus ``/healthz`` (start_server waits on it) and ``/``,
an empty page the browser tests run the JavaScript clients on (same origin, no CORS)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PAGE = b"<!doctype html><meta charset=utf-8><title>examples</title><body></body>"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def load_app(path: Path) -> WSGIApp:
    """The ``app`` of the example file at ``path``, imported as it is written."""
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app  # type: ignore[no-any-return]


# The first path segment of each example's routes: /sse, /ndjson, /download/<name>, …
APPS = {path.stem.removesuffix("_server"): load_app(path) for path in EXAMPLES.glob("*_server.py")}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path in ("/", "/healthz"):
        body = PAGE if path == "/" else b'{"ok": true}'
        kind = "text/html" if path == "/" else "application/json"
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]
    target = APPS.get(path.strip("/").split("/")[0])
    if target is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    return target(environ, start_response)
