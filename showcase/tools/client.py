"""Python clients for the stream contract (requests), reading with the framing parsers.

Each ``iter_*`` opens ``GET /stream/<mode>``, checks the status before the body, and yields
items as they arrive; leaving the loop closes the connection. ``iter_sse(..., reconnect=True)``
resumes like a browser's EventSource (WHATWG HTML §9.2). ``iter_ws`` reads ``GET /ws`` (the
websockets library's sync client) and ``iter_poll`` long-polls ``GET /poll``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode

import requests
import websockets.exceptions as ws_errors
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout
from websockets.sync.client import connect as ws_connect

from showcase.pure.framing.ndjson import NDJSONError, NDJSONParser
from showcase.pure.framing.sse import SSE_MEDIA_TYPE, ServerSentEvent, SSEError, SSEParser

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
    "iter_poll",
    "iter_sse",
    "iter_ws",
    "latency_ms",
    "map_request_errors",
    "map_ws_errors",
    "open_stream",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # longer than any pause the contract allows plus a heartbeat
# Reconnecting (WHATWG HTML §9.2.3): wait the server's last ``retry:``, or this before it
# sent one (Chromium's EventSource waits 3 s); never longer than the cap, so a server that
# asks for hours does not park the client.
DEFAULT_RETRY_MS = 3000
MAX_RETRY_MS = 30_000
MAX_ATTEMPTS = 5  # consecutive connections that bring no event, then ReconnectError

logger = logging.getLogger(__name__)


class ClientError(Exception):
    """A stream that could not be read. Every failure of these clients is one of its
    subclasses; its message is one line for a person (whitespace runs become a space)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class InvalidURLError(ClientError):
    """The URL cannot be asked at all (no ``http://`` or ``https://``, no host)."""


class ConnectError(ClientError):
    """No connection: refused, unknown host, or none within ``CONNECT_TIMEOUT_S``."""


class ReadTimeoutError(ClientError):
    """The server sent nothing for the read timeout, before the headers or between reads."""


class BrokenStreamError(ClientError):
    """The body broke off: the connection was reset or a chunk was cut short."""


class MalformedStreamError(ClientError):
    """The body is not the stream it claims to be: a parser refused it (``SSEError``,
    ``NDJSONError``) or a message lacks what the contract promises."""


class HTTPStatusError(ClientError):
    """The server answered a status outside 2xx (``status``); reconnecting will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ReconnectError(ClientError):
    """``iter_sse(reconnect=True)`` gave up: ``attempts`` connections in a row brought no
    event. ``last_event_id`` is where a later resume would start; the last failure is the
    ``__cause__``."""

    def __init__(self, message: str, attempts: int, last_event_id: str | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_event_id = last_event_id


# Failures that the same request would meet again: never retried by a reconnecting client.
FINAL_ERRORS = (HTTPStatusError, InvalidURLError, MalformedStreamError)


def root_reason(error: BaseException) -> str:
    """The innermost cause of ``error`` in a few words (``Connection refused``), not the
    pool, retry and adapter layers requests and urllib3 wrap around it."""
    seen: list[BaseException] = [error]
    while (inner := seen[-1].__cause__ or seen[-1].__context__) is not None and len(seen) < 20:
        seen.append(inner)
    for cause in reversed(seen):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(seen[-1])[:200]


@contextmanager
def map_request_errors(base_url: str, read_timeout_s: float | None = None) -> Iterator[None]:
    """Inside the block, every failure of requests (sending, connecting, reading the body)
    and of the stream parsers becomes a ClientError subclass with one clear sentence; the
    original is the ``__cause__``. ClientErrors pass through. ``read_timeout_s`` (default
    ``READ_TIMEOUT_S``) is only for the message. The one place I/O errors are translated
    (the pattern of httpx's ``map_httpcore_exceptions``)."""
    try:
        yield
    except ClientError:
        raise
    except (
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidURL,
        requests.exceptions.URLRequired,
    ) as error:
        raise InvalidURLError(
            f"cannot open {base_url!r}: a URL here is http://HOST:PORT or https://HOST:PORT"
        ) from error
    except requests.ConnectTimeout as error:
        raise ConnectError(
            f"cannot connect to {base_url}: no connection within {CONNECT_TIMEOUT_S:g} s"
        ) from error
    except requests.ReadTimeout as error:
        raise ReadTimeoutError(timeout_message(base_url, read_timeout_s)) from error
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as error:
        raise BrokenStreamError(
            f"the stream from {base_url} broke: {root_reason(error)}"
        ) from error
    except requests.ConnectionError as error:
        # requests reports a read timeout in the body as a ConnectionError around urllib3's.
        if error.args and isinstance(error.args[0], Urllib3ReadTimeout):
            raise ReadTimeoutError(timeout_message(base_url, read_timeout_s)) from error
        raise ConnectError(
            f"cannot connect to {base_url}: {root_reason(error)} (is the server running?)"
        ) from error
    except requests.RequestException as error:
        raise ClientError(f"request to {base_url} failed: {root_reason(error)}") from error
    except UnicodeEncodeError as error:  # a header value http.client cannot send as Latin-1
        raise ClientError(f"cannot send the request to {base_url}: {error}") from error
    except (SSEError, NDJSONError) as error:
        raise MalformedStreamError(f"malformed stream from {base_url}: {error}") from error


def timeout_message(base_url: str, read_timeout_s: float | None) -> str:
    seconds = READ_TIMEOUT_S if read_timeout_s is None else read_timeout_s
    return f"{base_url} sent nothing for {seconds:g} s (read timeout)"


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
    with map_request_errors(base_url):
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
    with map_request_errors(base_url, read_timeout_s):
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
                with map_request_errors(base_url):
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
            with map_request_errors(base_url):
                values = parser.feed(data)
            yield from values
        with map_request_errors(base_url):
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
        raise ReadTimeoutError(timeout_message(base_url, None)) from error
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
            with map_request_errors(base_url):
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
