"""``GET /download`` (the list), ``/download/<name>`` (a file, zero-copy, with Range) and
``/download/generated?size=N`` (bytes made on the fly, chunked: no total, no resume)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for

from showcase.pure.params import parse_int
from showcase.pure.refusal import INVALID_NAME, Refusal
from showcase.runtime.files import (
    DOWNLOAD_CHUNK_BYTES,
    MAX_GENERATED_BYTES,
    UnsafeName,
    iter_file_range,
    iter_generated_bytes,
    list_downloads,
    resolve_download,
)
from showcase.web.refusals import refusal_response
from showcase.web.responses import stream_response

bp = Blueprint("downloads", __name__)
T = TypeVar("T")


def data_dir() -> Path:
    return Path(current_app.config["SHOWCASE_DATA_DIR"])


@bp.get("/download")
def index() -> Response:
    files = [
        {**asdict(entry), "url": url_for("downloads.download", name=entry.name)}
        for entry in list_downloads(data_dir())
    ]
    generated = {"url": url_for("downloads.generated"), "max_size": MAX_GENERATED_BYTES}
    return jsonify({"files": files, "generated": generated})


@bp.get("/download/generated")
def generated() -> Response:
    try:
        size = parse_int(request.args, "size", 1 << 20, 0, MAX_GENERATED_BYTES)
    except Refusal as error:
        return refusal_response(error)
    response = stream_response(iter_generated_bytes(size), "application/octet-stream")
    response.headers["Content-Disposition"] = "attachment; filename=generated.bin"
    return response


@bp.get("/download/<path:name>")
def download(name: str) -> Response:
    try:
        path = off_the_hub(resolve_download, data_dir(), name)
    except UnsafeName:
        detail = "not a plain file name in the data directory"
        return refusal_response(Refusal("name", detail, error=INVALID_NAME))
    except FileNotFoundError:
        return refusal_response(Refusal("name", "no such file", status=404))
    # send_file answers 304/206/416 and If-Range (RFC 9110 §13, §14) and hands gunicorn
    # its wsgi.file_wrapper, which gunicorn sends with sendfile().
    response = send_file(path, conditional=True, etag=True, max_age=0, as_attachment=True)
    if response.status_code == 206 and response.content_range is not None:
        seek_range(response, path)
    return response


def off_the_hub(function: Callable[..., T], *args: Any) -> T:
    """Run blocking file work (making a 1 GiB sample) in gevent's thread pool when in a gevent
    worker, so every other stream of the worker keeps flowing meanwhile."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return function(*args)
    if not monkey.is_module_patched("socket"):
        return function(*args)
    # An exception raised in the pool is printed by gevent as an unhandled error (a traceback
    # in the log for every missing file): carry it back as a value and raise it here.
    outcome: tuple[bool, Any] = get_hub().threadpool.apply(capture_outcome, (function, *args))
    succeeded, value = outcome
    if not succeeded:
        raise value
    result: T = value
    return result


def capture_outcome(function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, exception)``: ``function(*args)`` never raising."""
    try:
        return True, function(*args)
    except Exception as error:  # re-raised by the caller, in its own greenlet
        return False, error


def seek_range(response: Response, path: Path) -> None:
    """Serve a 206 from a file positioned at the range start, still zero-copy.

    Werkzeug wraps the body in a _RangeWrapper that reads and drops every byte before the
    start, and hides the file from gunicorn's sendfile. gunicorn sends from the file's
    current offset for Content-Length bytes, so a seeked file wrapper is all it needs.
    """
    assert response.content_range is not None and response.content_range.start is not None
    start = response.content_range.start
    old = response.response
    handle = path.open("rb")
    handle.seek(start)
    wrapper = request.environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        response.response = wrapper(handle, DOWNLOAD_CHUNK_BYTES)
    else:  # a server without file_wrapper (the test client): read in Python
        response.response = iter_file_range(handle, response.content_length or 0)
    close = getattr(old, "close", None)
    if close is not None:
        close()
