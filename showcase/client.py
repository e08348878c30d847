"""Python clients for the stream contract (requests), reading with the framing parsers.

Each ``iter_*`` opens ``GET /stream/<mode>``, checks the status before the body, and yields
items as they arrive; leaving the loop closes the connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from showcase.framing.ndjson import NDJSONParser
from showcase.framing.sse import ServerSentEvent, SSEParser

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # longer than any pause the contract allows plus a heartbeat


class ClientError(Exception):
    """A stream that could not be read: refused connection, non-2xx status, bad framing."""


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
    """The response of ``GET {base_url}/stream/{mode}``, status already checked."""
    url = f"{base_url.rstrip('/')}/stream/{mode}"
    getter = session.get if session is not None else requests.get
    try:
        response = getter(
            url,
            params=dict(params or {}),
            headers=dict(headers or {}),
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except requests.ConnectionError as error:
        raise ClientError(
            f"cannot connect to {base_url}: is the server running? ({error})"
        ) from None
    with response:
        if not 200 <= response.status_code < 300:
            detail = describe_error_body(response)
            raise ClientError(f"{url} answered {response.status_code}: {detail}")
        yield response


def iter_body(response: requests.Response) -> Iterator[bytes]:
    """Body bytes as they arrive, one item per read (per HTTP chunk when chunked)."""
    try:
        yield from response.iter_content(chunk_size=None)
    except requests.RequestException as error:
        raise ClientError(f"the stream broke: {error}") from None


def iter_sse(
    base_url: str = DEFAULT_BASE_URL,
    params: Mapping[str, Any] | None = None,
    last_event_id: str | None = None,
) -> Iterator[ServerSentEvent]:
    """Server-Sent Events from ``/stream/sse``; ``last_event_id`` resumes after that id."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    parser = SSEParser()
    with open_stream(base_url, "sse", params, headers) as response:
        if response.status_code == 204:
            return
        for data in iter_body(response):
            yield from parser.feed(data)
        yield from parser.close()


def iter_ndjson(
    base_url: str = DEFAULT_BASE_URL, params: Mapping[str, Any] | None = None
) -> Iterator[Any]:
    """JSON values from ``/stream/ndjson``, one per line."""
    parser = NDJSONParser()
    with open_stream(base_url, "ndjson", params) as response:
        for data in iter_body(response):
            yield from parser.feed(data)
        yield from parser.close()


def iter_chunks(
    base_url: str = DEFAULT_BASE_URL, params: Mapping[str, Any] | None = None
) -> Iterator[bytes]:
    """Raw body reads from ``/stream/chunked``: reads are not messages."""
    with open_stream(base_url, "chunked", params) as response:
        yield from iter_body(response)


def latency_ms(ts: float, now: float | None = None) -> float:
    """Receive time − send time, both Unix epoch ms on the same clock."""
    return (time.time() if now is None else now) * 1000.0 - ts
