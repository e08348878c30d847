"""The Coze relay's upstream: one real HTTP connection read with requests as bytes arrive;
and what both relays share (``Upstream``, ``check_event_stream``).

With ``hop_upstream`` (the plain hop's socket reader), the only modules of ``showcase.chat``
that do I/O. Under the gevent worker the socket is cooperative, so a relay blocks its own
greenlet on the read, never the worker.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import requests

from showcase.chat.forward import UpstreamError

CONNECT_TIMEOUT_S = 5.0
# Longer than the upstream's heartbeat (15 s by default): silence past this is a stall.
READ_TIMEOUT_S = 45.0


class HopResponseLike(Protocol):
    """What ``check_event_stream`` reads of a response: ``hop_upstream.HopResponse`` too."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a relay reads (a URL from the server's configuration, never from a request)
    and how long it waits to connect and between reads."""

    url: str
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else ValueError (a configuration error)."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"a relay upstream must be an http(s) URL, got {url!r}")
    return url


def open_stream(
    upstream: Upstream, params: Mapping[str, str], headers: Mapping[str, str]
) -> requests.Response:
    """``GET`` the upstream with ``stream=True``: returns once the status line and headers
    are in, the body unread. Raises UpstreamError when it refuses or times out."""
    try:
        # What requests.get does, minus the environment: an upstream is a configured URL, so
        # no proxy variables or netrc apply, and looking them up cost 160 µs a request.
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(
                upstream.url,
                params=dict(params),
                headers={"Accept-Encoding": "identity", **headers},
                stream=True,
                timeout=(upstream.connect_timeout_s, upstream.read_timeout_s),
                allow_redirects=False,  # a redirect could lead anywhere: the URL is configured
            )
    except requests.Timeout as error:
        raise UpstreamError("upstream_timeout", f"{upstream.url}: {type(error).__name__}") from None
    except requests.RequestException as error:
        raise UpstreamError("upstream_refused", f"{upstream.url}: {type(error).__name__}") from None
    reset_on_close(response)
    return response


def reset_on_close(response: requests.Response) -> None:
    """Make closing this connection send a TCP reset rather than a FIN (SO_LINGER 0).

    After a FIN, the upstream's next write still succeeds (the kernel takes it; the reset
    comes back later) and only the write after that fails: an upstream with a 1 s heartbeat
    would keep serving a departed relay for about 2 s, and each hop of a chain adds as much.
    After a reset its next write fails, within one heartbeat. It must be set before the
    close: urllib3 closes the connection itself when its reading generator is closed. At the
    end of a complete body the upstream has sent everything, so a reset loses nothing.
    """
    connection = getattr(response.raw, "connection", None)
    setsockopt = getattr(getattr(connection, "sock", None), "setsockopt", None)
    if setsockopt is not None:
        try:
            setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the upstream already closed it: there is nothing left to reset


def check_event_stream(response: requests.Response | HopResponseLike) -> None:
    """UpstreamError unless the upstream answered 200 with ``text/event-stream``."""
    if response.status_code != 200:
        raise UpstreamError("upstream_status", f"the upstream answered {response.status_code}")
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != "text/event-stream":
        raise UpstreamError("upstream_invalid", f"the upstream sent {media_type or 'no type'}")


def iter_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: each read returns whatever the socket has (one chunk of the
    upstream's chunked body), never waiting for a buffer to fill. Failures become
    UpstreamError: a stall past the read timeout, a connection that dies mid-stream. The
    connection is closed (with a reset, see ``reset_on_close``) when the body ends or this
    generator is closed (the client left)."""
    try:
        yield from response.iter_content(chunk_size=None)
    except requests.ConnectionError as error:
        # requests reports a read timeout while streaming as a ConnectionError around
        # urllib3's ReadTimeoutError.
        if "timed out" in str(error).lower() or "timeout" in repr(error).lower():
            raise UpstreamError("upstream_timeout", "no bytes from the upstream in time") from None
        raise UpstreamError("upstream_broken", "the upstream connection broke") from None
    except requests.RequestException as error:
        raise UpstreamError(
            "upstream_broken", f"the upstream died mid-stream: {type(error).__name__}"
        ) from None
    finally:
        response.close()
