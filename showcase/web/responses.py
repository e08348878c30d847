"""Streaming responses: every header a stream needs, set in one place, and the open-stream count."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator

from flask import Response, jsonify

from showcase.params import ParamError

# Proxies (nginx) buffer unless told not to; browsers may sniff text/plain before showing it.
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "X-Content-Type-Options": "nosniff",
}


class StreamCounter:
    """Streams this worker process is serving right now (a stream counts from its first byte)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0
        self.started = 0

    def track(self, body: Iterable[bytes]) -> Iterator[bytes]:
        with self._lock:
            self.open += 1
            self.started += 1
        try:
            yield from body
        finally:
            # Runs when the body ends, and when the server closes it after a failed write.
            with self._lock:
                self.open -= 1


STREAMS = StreamCounter()


def stream_response(body: Iterable[bytes], mimetype: str, status: int = 200) -> Response:
    """A generator response with no Content-Length, so HTTP/1.1 sends it chunked."""
    response = Response(STREAMS.track(body), status=status, content_type=mimetype)
    response.headers.update(STREAM_HEADERS)
    return response


def error_response(error: ParamError, status: int = 400) -> Response:
    response = jsonify(error.to_json())
    response.status_code = status
    return response


def health() -> dict[str, int]:
    return {"open_streams": STREAMS.open, "started_streams": STREAMS.started, "pid": os.getpid()}
