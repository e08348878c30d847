"""The nginx locations ``showcase proxy`` puts side by side: what each does to a stream, and
the fix. Plain data (no Flask, no nginx): the config, the command and the page read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """One nginx ``location``: ``prefix`` is stripped before the request reaches the app
    (``/stock/stream/sse`` arrives as ``/stream/sse``); ``summary`` says in one line what
    happens to a stream there, ``fix`` in one line what repairs it; ``example`` a path
    (after the prefix) whose stream shows it, read with ``curl`` (the command and its
    options, no URL)."""

    name: str
    prefix: str
    summary: str
    fix: str
    example: str = "/stream/sse?count=10&interval=200"
    curl: str = "curl -N"


STREAMING = Location(
    "streaming",
    "/",
    "each message arrives as the app sends it (proxy_buffering off, HTTP/1.1 upstream, "
    "1 h read timeout) and a WebSocket handshake passes (Upgrade set again)",
    "nothing to fix: these are the minimal settings for a stream",
)
STOCK = Location(
    "stock",
    "/stock/",
    "nginx's defaults buffer the response: a stream without X-Accel-Buffering: no arrives "
    "all at once at the end (or 4 KiB at a time)",
    "send X-Accel-Buffering: no from the app (this project does), or proxy_buffering off",
    "/stream/sse?count=10&interval=200&accel=omit",
)
IGNORE_ACCEL = Location(
    "ignore-accel",
    "/ignore-accel/",
    "a buffering proxy that does not know X-Accel-Buffering: batched even with the header",
    "turn buffering off in the proxy itself (proxy_buffering off); the header cannot help",
)
GZIP = Location(
    "gzip",
    "/gzip/",
    "nginx compresses the stream and, with buffering off, still sends each message at once",
    "nothing to fix in nginx; compress in the app only if it flushes per message (compress=sync)",
    "/stream/ndjson?count=10&interval=200",
    "curl -N --compressed",  # asks for gzip and decodes each piece as it comes
)
SHORT_TIMEOUT = Location(
    "short-timeout",
    "/short-timeout/",
    "proxy_read_timeout 3s: nginx cuts a stream that stays silent for 3 s",
    "send a heartbeat more often than the proxy's read timeout (heartbeat=1)",
    "/stream/sse?count=3&interval=5000",
)

# curl speaks only the handshake (7.88 has no WebSocket support): enough to see the status
# line, 101 or a refusal. The key is RFC 6455 §1.3's sample.
HANDSHAKE_CURL = (
    "curl -i -N -H 'Connection: Upgrade' -H 'Upgrade: websocket' "
    "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='"
)
WEBSOCKET = Location(
    "websocket",
    "/websocket/",
    "WebSockets pass: Upgrade and Connection reach the app (a map keeps plain requests on "
    "keepalive), and the read timeout outlasts the app's 15 s ping",
    "nothing to fix: these are the settings for a WebSocket",
    "/ws?count=10&interval=200",
    HANDSHAKE_CURL,
)
NO_UPGRADE = Location(
    "no-upgrade",
    "/no-upgrade/",
    "streams pass but a WebSocket handshake fails: nginx drops the hop-by-hop Upgrade header, "
    "so the app sees a plain GET and answers 426, never 101",
    "proxy_set_header Upgrade $http_upgrade and Connection $connection_upgrade (a map), "
    "as /websocket/ does",
    "/ws?count=10&interval=200",
    HANDSHAKE_CURL,
)

LOCATIONS: tuple[Location, ...] = (
    STREAMING,
    STOCK,
    IGNORE_ACCEL,
    GZIP,
    SHORT_TIMEOUT,
    WEBSOCKET,
    NO_UPGRADE,
)


def find_location(name: str) -> Location:
    """The location called ``name``; KeyError naming the known ones otherwise."""
    for location in LOCATIONS:
        if location.name == name:
            return location
    known = ", ".join(location.name for location in LOCATIONS)
    raise KeyError(f"no nginx location {name!r}; known: {known}")
