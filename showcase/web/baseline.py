"""Comparison routes for the benchmarks: what a tutorial writes, not what this project teaches.

``GET /baseline/sse`` yields one ``data:`` event per message from a plain generator (one write
per message, no coalescing, no heartbeat); ``GET /baseline/download/<name>`` reads the file in
a Python generator instead of handing it to the server's zero-copy ``sendfile`` (a missing
sample is made off the event loop, as ``/download/`` does: only the sending differs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from showcase.pure.framing.sse import SSE_MEDIA_TYPE
from showcase.pure.params import parse_stream_params
from showcase.pure.refusal import INVALID_NAME, Refusal
from showcase.runtime.files import DOWNLOAD_CHUNK_BYTES, UnsafeName, resolve_download
from showcase.web.downloads import off_the_hub
from showcase.web.refusals import refusal_response

bp = Blueprint("baseline", __name__, url_prefix="/baseline")


@bp.get("/sse")
def sse() -> Response:
    """The tutorial SSE generator: same payload as ``/stream/sse?source=ticks``."""
    try:
        params = parse_stream_params(request.args)
    except Refusal as error:
        return refusal_response(error)
    count, interval_s, pad = params.count, params.interval_ms / 1000.0, "x" * params.size

    def generate() -> Iterator[str]:
        for seq in range(count):
            if seq and interval_s:
                time.sleep(interval_s)
            payload = {"seq": seq, "ts": round(time.time() * 1000.0, 3), "pad": pad}
            yield f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"

    return Response(generate(), mimetype=SSE_MEDIA_TYPE)


@bp.get("/download/<path:name>")
def download(name: str) -> Response:
    """The file read in Python, 256 KiB at a time, with its Content-Length (no Range)."""
    try:
        # Making a missing sample writes up to 1 GiB: in the thread pool, so the worker's
        # other streams keep flowing meanwhile.
        path = off_the_hub(resolve_download, Path(current_app.config["SHOWCASE_DATA_DIR"]), name)
    except UnsafeName:
        detail = "not a plain file name in the data directory"
        return refusal_response(Refusal("name", detail, error=INVALID_NAME))
    except FileNotFoundError:
        return refusal_response(Refusal("name", "no such file", status=404))

    def generate() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while piece := handle.read(DOWNLOAD_CHUNK_BYTES):
                yield piece

    response = Response(generate(), mimetype="application/octet-stream")
    response.content_length = path.stat().st_size
    return response
