"""Every failure of the Python clients, one ``ClientError`` family, and the one place that
maps requests' and urllib3's exceptions to it (as httpx's ``map_httpcore_exceptions`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

from showcase.pure.framing.ndjson import NDJSONError
from showcase.pure.framing.sse import SSEError

CONNECT_TIMEOUT_S = 5.0


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
def map_request_errors(base_url: str, read_timeout_s: float) -> Iterator[None]:
    """Inside the block, every failure of requests (sending, connecting, reading the body)
    and of the stream parsers becomes a ClientError subclass with one clear sentence; the
    original is the ``__cause__``. ClientErrors pass through. ``read_timeout_s`` (the
    caller's read timeout) is only for the message. The one place I/O errors are translated
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


def timeout_message(base_url: str, read_timeout_s: float) -> str:
    return f"{base_url} sent nothing for {read_timeout_s:g} s (read timeout)"
