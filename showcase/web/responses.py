"""Streaming responses: every header a stream needs, set in one place, and the open-stream count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask import Response
from greenlet import getcurrent
from werkzeug.datastructures import Headers

from showcase.runtime.lifecycle import STREAMS

# Proxies (nginx) buffer unless told not to; browsers may sniff text/plain before showing it.
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "X-Content-Type-Options": "nosniff",
}


class TrackedBody:
    """A response body that registers its stream with ``lifecycle.STREAMS`` while it is sent.

    Not a generator around the body: ``__iter__`` hands the server the body's own iterator,
    so no frame sits between the server's write loop and the body while a stream is paused
    (a held greenlet keeps a copy of that stack). The server calls ``close()`` at the end, after
    a failed write, and for a HEAD request that never iterated.
    """

    __slots__ = ("_body", "_open")

    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self._open = False

    def __iter__(self) -> Iterator[bytes]:
        if not self._open:
            self._open = True
            STREAMS.enter(self, getcurrent())
        return iter(self._body)

    def close(self) -> None:
        if self._open:
            STREAMS.leave(self)
            self._open = False
        close = getattr(self._body, "close", None)
        if close is not None:
            close()  # runs the generator's finally: the source's cleanup


class StreamResponse(Response):
    """A streaming response whose headers go to the server as the view left them.

    werkzeug's ``get_wsgi_headers`` copies every header into a new ``Headers`` and reads them
    all, looking for a Location to make absolute, a Content-Location to quote and a body whose
    length it could count. A stream has none of these, so a plain 200 skips the copy: the
    headers are built once, in one list, and every new stream saves the copy and the lookups
    (the worker's CPU per new stream is in docs/results/held_streams.json, the connect storm
    of ``showcase bench held_streams``). Any other status (a 204 drops its Content-Length),
    or a view that set either location, takes werkzeug's path.
    """

    def get_wsgi_headers(self, environ: Any) -> Headers:
        headers = self.headers
        if self.status_code == 200 and not ("location" in headers or "content-location" in headers):
            return headers
        return super().get_wsgi_headers(environ)


def stream_response(
    body: Iterable[bytes],
    mimetype: str,
    status: int = 200,
    headers: Mapping[str, str] = STREAM_HEADERS,
) -> StreamResponse:
    """A generator response with no Content-Length, so HTTP/1.1 sends it chunked.

    ``mimetype``: the Content-Type as sent, charset included (``Mode.mimetype``).
    ``headers``: ``STREAM_HEADERS``, or a mapping that the caller built from them (``accel``,
    ``compress`` and CORS for the mode streams).
    ``direct_passthrough``: the server iterates the body itself, not werkzeug's encoding and
    closing wrappers (two more generator levels per write); the body yields bytes only.
    """
    # One list, one Headers: setting Content-Type and then each header would scan the list
    # for an old value every time.
    header_list = [("Content-Type", mimetype), *headers.items()]
    return StreamResponse(
        TrackedBody(body), status=status, headers=header_list, direct_passthrough=True
    )


def health() -> dict[str, int]:
    return STREAMS.health()
