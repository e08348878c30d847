"""Python clients for the stream contract (requests), reading with the framing parsers.

Each ``iter_*`` opens ``GET /stream/<mode>``, checks the status before the body, and yields
items as they arrive; leaving the loop closes the connection. ``iter_sse(..., reconnect=True)``
resumes like a browser's EventSource (WHATWG HTML §9.2). Every failure is a ``ClientError``
(showcase/tools/client_errors.py); ``iter_ws`` and ``iter_poll`` are in ws_poll_client.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSE_MEDIA_TYPE, ServerSentEvent, SSEParser
from showcase.tools.client_errors import (
    CONNECT_TIMEOUT_S,
    FINAL_ERRORS,
    BrokenStreamError,
    ClientError,
    ConnectError,
    HTTPStatusError,
    InvalidURLError,
    MalformedStreamError,
    ReadTimeoutError,
    ReconnectError,
    map_request_errors,
)

__all__ = [
    "BrokenStreamError",
    "ClientError",
    "ConnectError",
    "DEFAULT_BASE_URL",
    "HTTPStatusError",
    "InvalidURLError",
    "MalformedStreamError",
    "ReadTimeoutError",
    "ReconnectError",
    "iter_chunks",
    "iter_ndjson",
    "iter_sse",
    "latency_ms",
    "map_request_errors",
    "open_stream",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
READ_TIMEOUT_S = 120.0  # longer than any pause the contract allows plus a heartbeat
# Reconnecting (WHATWG HTML §9.2.3): wait the server's last ``retry:``, or this before it
# sent one (Chromium's EventSource waits 3 s); never longer than the cap, so a server that
# asks for hours does not park the client.
DEFAULT_RETRY_MS = 3000
MAX_RETRY_MS = 30_000
MAX_ATTEMPTS = 5  # consecutive connections that bring no event, then ReconnectError

logger = logging.getLogger(__name__)


def describe_error_body(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('error')} ({body.get('field')}: {body.get('detail')})"
    return json.dumps(body)[:200]


@contextmanager
def open_stream(
    base_url: str,
    mode: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> Iterator[requests.Response]:
    """The response of ``GET {base_url}/stream/{mode}``, status already checked.

    Raises HTTPStatusError for a status outside 2xx, another ClientError (see
    ``map_request_errors``) when the request fails.
    """
    url = f"{base_url.rstrip('/')}/stream/{mode}"
    getter = session.get if session is not None else requests.get
    with map_request_errors(base_url, READ_TIMEOUT_S):
        response = getter(
            url,
            params=dict(params or {}),
            headers=dict(headers or {}),
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
    with response:
        if not 200 <= response.status_code < 300:
            detail = describe_error_body(response)
            raise HTTPStatusError(
                f"{url} answered {response.status_code}: {detail}", response.status_code
            )
        yield response


def iter_body(
    response: requests.Response, base_url: str, read_timeout_s: float | None = None
) -> Iterator[bytes]:
    """Body bytes as they arrive, one item per read (per HTTP chunk when chunked); failures
    as ``map_request_errors`` maps them (``read_timeout_s`` for its message)."""
    seconds = READ_TIMEOUT_S if read_timeout_s is None else read_timeout_s  # read per call
    with map_request_errors(base_url, seconds):
        yield from response.iter_content(chunk_size=None)


def iter_sse_connection(
    base_url: str,
    params: Mapping[str, Any] | None,
    last_event_id: str | None,
    parser: SSEParser,
) -> Generator[ServerSentEvent, None, bool]:
    """The events of one connection to ``/stream/sse``, parsed by ``parser`` (which keeps
    the last event ID and retry across connections). Returns True when the server answered
    ``204 No Content``: nothing is left to send. Raises ClientError (HTTPStatusError for a
    non-2xx status) when the connection fails or breaks."""
    headers = {"Accept": SSE_MEDIA_TYPE, "Cache-Control": "no-cache"}
    if last_event_id:  # §9.2.3: the header is sent only when the ID is not empty
        headers["Last-Event-ID"] = last_event_id
    with open_stream(base_url, "sse", params, headers) as response:
        if response.status_code == 204:
            return True
        try:
            for data in iter_body(response, base_url):
                with map_request_errors(base_url, READ_TIMEOUT_S):
                    events = parser.feed(data)
                yield from events
        finally:
            parser.close()  # an event cut off by the end of the body is never dispatched
    return False


def iter_sse(
    base_url: str = DEFAULT_BASE_URL,
    params: Mapping[str, Any] | None = None,
    last_event_id: str | None = None,
    *,
    reconnect: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    max_retry_ms: int = MAX_RETRY_MS,
) -> Iterator[ServerSentEvent]:
    """Server-Sent Events from ``/stream/sse``; ``last_event_id`` resumes after that id.

    Without ``reconnect`` the events of one connection; a broken connection raises
    ClientError. With ``reconnect`` it behaves like EventSource (WHATWG HTML §9.2): when
    the body ends or the connection fails, it waits the server's last ``retry:`` (at most
    ``max_retry_ms``; ``DEFAULT_RETRY_MS`` before the server sent one) and reconnects with
    ``Last-Event-ID``, so the server resumes after the last event received; it stops when
    the server answers 204. A status outside 2xx raises HTTPStatusError at once, as
    EventSource fails the connection instead of retrying; so do a URL that cannot be
    opened (InvalidURLError) and a malformed stream (MalformedStreamError). After ``max_attempts``
    consecutive connections that brought no event it raises ReconnectError.
    """
    parser = SSEParser()
    if not reconnect:
        yield from iter_sse_connection(base_url, params, last_event_id, parser)
        return
    resume = last_event_id
    failures = 0
    while True:
        delivered = 0
        failure: ClientError | None = None
        events = iter_sse_connection(base_url, params, resume, parser)
        try:
            while True:
                event = next(events)
                delivered += 1
                resume = event.id
                yield event
        except StopIteration as end:
            if end.value:
                return  # 204: the server has nothing left after ``resume``
        except FINAL_ERRORS:
            raise
        except ClientError as error:
            failure = error
        finally:
            events.close()
        failures = 0 if delivered else failures + 1
        if failures >= max_attempts:
            why = f": {failure}" if failure is not None else " (each body ended empty)"
            raise ReconnectError(
                f"gave up after {failures} connections in a row brought no event{why}",
                failures,
                resume,
            ) from failure
        retry_ms = DEFAULT_RETRY_MS if parser.retry is None else parser.retry
        wait_s = min(retry_ms, max_retry_ms) / 1000.0
        logger.info(
            "%s; reconnecting in %.1f s with Last-Event-ID: %s",
            failure or "the stream ended",
            wait_s,
            resume or "(none)",
        )
        time.sleep(wait_s)


def iter_ndjson(
    base_url: str = DEFAULT_BASE_URL, params: Mapping[str, Any] | None = None
) -> Iterator[Any]:
    """JSON values from ``/stream/ndjson``, one per line."""
    parser = NDJSONParser()
    with open_stream(base_url, "ndjson", params) as response:
        for data in iter_body(response, base_url):
            with map_request_errors(base_url, READ_TIMEOUT_S):
                values = parser.feed(data)
            yield from values
        with map_request_errors(base_url, READ_TIMEOUT_S):
            values = parser.close()
        yield from values


def iter_chunks(
    base_url: str = DEFAULT_BASE_URL, params: Mapping[str, Any] | None = None
) -> Iterator[bytes]:
    """Raw body reads from ``/stream/chunked``: reads are not messages."""
    with open_stream(base_url, "chunked", params) as response:
        yield from iter_body(response, base_url)


def latency_ms(ts: float, now: float | None = None) -> float:
    """Receive time − send time, both Unix epoch ms on the same clock."""
    return (time.time() if now is None else now) * 1000.0 - ts
