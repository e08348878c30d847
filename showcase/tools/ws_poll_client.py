"""Python clients for the two transports the streams are weighed against: ``iter_ws`` reads
``GET /ws`` (the websockets library's sync client) and ``iter_poll`` long-polls ``GET /poll``.
Every failure is a ``ClientError`` (showcase/tools/client_errors.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode

import requests
import websockets.exceptions as ws_errors
from websockets.sync.client import connect as ws_connect

from showcase.tools.client import (
    DEFAULT_BASE_URL,
    DEFAULT_RETRY_MS,
    MAX_ATTEMPTS,
    MAX_RETRY_MS,
    READ_TIMEOUT_S,
    describe_error_body,
)
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
    root_reason,
    timeout_message,
)

__all__ = ["iter_poll", "iter_ws", "map_ws_errors"]

logger = logging.getLogger(__name__)


WS_MAX_MESSAGE_BYTES = 4 << 20  # a 1 MiB pad and its JSON, with room to spare
POLL_WAIT_MS = 25_000


def ws_url(base_url: str, path: str) -> str:
    """``http(s)://host`` as ``ws(s)://host`` plus ``path``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + path
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + path
    raise InvalidURLError(
        f"cannot open {base_url!r}: a URL here is http://HOST:PORT or https://HOST:PORT"
    )


@contextmanager
def map_ws_errors(base_url: str) -> Iterator[None]:
    """``map_request_errors`` for the websockets client: a refused handshake is an
    HTTPStatusError (the server's 400 JSON in the message), a close other than 1000 a
    BrokenStreamError naming the code and reason (1001: the server is restarting)."""
    try:
        yield
    except ClientError:
        raise
    except ws_errors.InvalidURI as error:
        raise InvalidURLError(f"cannot open {base_url!r}: {error}") from error
    except ws_errors.InvalidStatus as error:
        response = error.response
        body = bytes(response.body or b"").decode("utf-8", "replace")
        try:
            shown = describe_json_error(json.loads(body))
        except ValueError:
            shown = body[:200].strip()
        raise HTTPStatusError(
            f"{base_url} refused the WebSocket with {response.status_code}: {shown}",
            response.status_code,
        ) from error
    except ws_errors.ConnectionClosed as error:
        close = error.rcvd
        if close is None:
            raise BrokenStreamError(f"the WebSocket to {base_url} broke: no close frame") from error
        raise BrokenStreamError(
            f"the WebSocket to {base_url} closed with {close.code}: {close.reason}"
        ) from error
    except ws_errors.WebSocketException as error:
        raise MalformedStreamError(f"WebSocket error from {base_url}: {error}") from error
    except TimeoutError as error:
        raise ReadTimeoutError(timeout_message(base_url, READ_TIMEOUT_S)) from error
    except OSError as error:
        raise ConnectError(
            f"cannot connect to {base_url}: {root_reason(error)} (is the server running?)"
        ) from error
    except ValueError as error:  # a frame that is not JSON
        raise MalformedStreamError(f"malformed frame from {base_url}: {error}") from error


def describe_json_error(body: Any) -> str:
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('error')} ({body.get('field')}: {body.get('detail')})"
    return json.dumps(body)[:200]


def iter_ws(
    base_url: str = DEFAULT_BASE_URL,
    params: Mapping[str, Any] | None = None,
    last_id: int | None = None,
    *,
    reconnect: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    max_retry_ms: int = MAX_RETRY_MS,
) -> Iterator[Any]:
    """The payloads of ``GET /ws``, one JSON value per text frame; ``last_id`` resumes
    after that seq. Ends at the server's 1000 close; any other close raises
    BrokenStreamError, every failure a ClientError.

    With ``reconnect`` a close other than 1000, or a broken connection, is followed by a
    new connection with ``last_id`` = the last seq received, after the ``retry_ms`` of a
    1001 close (a restarting server's jittered delay; ``DEFAULT_RETRY_MS`` otherwise, at
    most ``max_retry_ms``), as ``iter_sse(reconnect=True)`` does; ReconnectError after
    ``max_attempts`` connections in a row that brought nothing."""
    if not reconnect:
        yield from iter_ws_connection(base_url, params, last_id)
        return
    resume = last_id
    failures = 0
    while True:
        delivered = 0
        try:
            for payload in iter_ws_connection(base_url, params, resume):
                delivered += 1
                if isinstance(payload, dict) and isinstance(payload.get("seq"), int):
                    resume = payload["seq"]
                yield payload
            return
        except FINAL_ERRORS:
            raise
        except ClientError as error:
            failure = error
        failures = 0 if delivered else failures + 1
        if failures >= max_attempts:
            raise ReconnectError(
                f"gave up after {failures} connections in a row brought no message: {failure}",
                failures,
                None if resume is None else str(resume),
            ) from failure
        wait_s = min(restart_retry_ms(failure), max_retry_ms) / 1000.0
        logger.info("%s; reconnecting in %.1f s with last_id=%s", failure, wait_s, resume)
        time.sleep(wait_s)


def restart_retry_ms(failure: ClientError) -> int:
    """The ``retry_ms`` of a 1001 close's JSON reason, else ``DEFAULT_RETRY_MS``."""
    closed = failure.__cause__
    if isinstance(closed, ws_errors.ConnectionClosed) and closed.rcvd is not None:
        if closed.rcvd.code == 1001:
            try:
                retry = json.loads(closed.rcvd.reason)["retry_ms"]
            except (ValueError, KeyError, TypeError):
                return DEFAULT_RETRY_MS
            if isinstance(retry, int) and retry >= 0:
                return retry
    return DEFAULT_RETRY_MS


def iter_ws_connection(
    base_url: str, params: Mapping[str, Any] | None, last_id: int | None
) -> Iterator[Any]:
    """The payloads of one connection to ``/ws`` (``iter_ws`` without reconnecting)."""
    query = dict(params or {})
    if last_id is not None:
        query["last_id"] = last_id
    encoded = urlencode(query)
    url = ws_url(base_url, "/ws" + (f"?{encoded}" if encoded else ""))
    with ExitStack() as stack:
        with map_ws_errors(base_url):
            connection = stack.enter_context(
                ws_connect(
                    url,
                    open_timeout=CONNECT_TIMEOUT_S,
                    max_size=WS_MAX_MESSAGE_BYTES,
                    compression=None,
                )
            )
        while True:
            with map_ws_errors(base_url):
                try:
                    frame = connection.recv(timeout=READ_TIMEOUT_S)
                except ws_errors.ConnectionClosedOK as closed:
                    if closed.rcvd is not None and closed.rcvd.code == 1000:
                        return
                    raise
                payload = json.loads(frame)
            yield payload


def iter_poll(
    base_url: str = DEFAULT_BASE_URL,
    params: Mapping[str, Any] | None = None,
    wait_ms: int = POLL_WAIT_MS,
    session: requests.Session | None = None,
) -> Iterator[Any]:
    """The payloads of the stream by long polling ``GET /poll`` with the ``next`` and
    ``start`` of each answer, until one says ``done``. Raises ClientError subclasses."""
    url = f"{base_url.rstrip('/')}/poll"
    http = session or requests.Session()
    query: dict[str, Any] = {**dict(params or {}), "wait": wait_ms}
    try:
        while True:
            with map_request_errors(base_url, READ_TIMEOUT_S):
                response = http.get(url, params=query, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
            if not 200 <= response.status_code < 300:
                raise HTTPStatusError(
                    f"{url} answered {response.status_code}: {describe_error_body(response)}",
                    response.status_code,
                )
            try:
                answer = response.json()
                messages, after, done = answer["messages"], answer["next"], answer["done"]
                query["start"] = answer["start"]
            except (ValueError, KeyError, TypeError) as error:
                raise MalformedStreamError(
                    f"malformed poll answer from {base_url}: {error}"
                ) from error
            yield from messages
            query["after"] = after
            if done:
                return
    finally:
        if session is None:
            http.close()
