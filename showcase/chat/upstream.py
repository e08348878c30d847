"""What both relays share about their upstream: where it is and how long to wait for it
(``Upstream``), and what counts as an event stream (``check_event_stream``).

Both read through ``hop_upstream`` (a plain socket, bounded reads), the only module of
``showcase.chat`` that does I/O. Under the gevent worker the socket is cooperative, so a
relay blocks its own greenlet on the read, never the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from showcase.chat.forward import UpstreamError
from showcase.pure.framing.sse import SSE_MEDIA_TYPE

CONNECT_TIMEOUT_S = 5.0
# Longer than the upstream's heartbeat (15 s by default): silence past this is a stall.
READ_TIMEOUT_S = 45.0


class ResponseHead(Protocol):
    """What ``check_event_stream`` reads of a response (``hop_upstream.HopResponse``)."""

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


def check_event_stream(response: ResponseHead) -> None:
    """UpstreamError unless the upstream answered 200 with ``text/event-stream``."""
    if response.status_code != 200:
        raise UpstreamError("upstream_status", f"the upstream answered {response.status_code}")
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != SSE_MEDIA_TYPE:
        raise UpstreamError("upstream_invalid", f"the upstream sent {media_type or 'no type'}")
