"""The relay floor of gunicorn + gevent: a bare WSGI relay, no Flask, no parsing.

``relay``'s benchmark runs it as a reference next to ``/relay/stream/sse``, under the same
gunicorn settings and worker class: what one hop costs when the app does nothing but open
its upstream and pass each read on. Whatever the showcase's hop spends above it is Flask's
and the project's (parsing, re-encoding, resume, heartbeats); what it spends itself is the
server's, the event loop's and the kernel's.

    BARE_RELAY_UPSTREAM=http://127.0.0.1:8000/stream/sse \\
        python -m gunicorn -c python:showcase.runtime.gunicorn_conf --bind 127.0.0.1:0 \\
        benchmarks.reference.bare_relay:app

``GET /relay/stream/sse?<query>`` opens ``BARE_RELAY_UPSTREAM`` (an ``http://`` URL with an
IP address) with the request's query over HTTP/1.0, so the upstream sends its body as it is,
unchunked, until it closes; the relay passes every read through as one write. ``/healthz``
and everything else is ``bare_wsgi``'s, whose open-stream count the relay's streams share.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from benchmarks.reference import bare_wsgi

ROUTE = "/relay/stream/sse"
READ_TIMEOUT_S = 45.0  # what the showcase's hop waits for a read (SHOWCASE_RELAY_READ_TIMEOUT_S)
MAX_HEAD_BYTES = 64 * 1024
RECV_BYTES = 64 * 1024

StartResponse = Callable[..., Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != ROUTE:
        return bare_wsgi.app(environ, start_response)
    upstream = urlsplit(os.environ["BARE_RELAY_UPSTREAM"])
    target = upstream.path + "?" + environ.get("QUERY_STRING", "")
    # Connected as the showcase's hop connects to an IP address: gevent's create_connection
    # would resolve even a literal address through its thread pool.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(READ_TIMEOUT_S)
        sock.connect((upstream.hostname, upstream.port))
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: {upstream.netloc}\r\n\r\n".encode("latin-1"))
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(RECV_BYTES)
            if not data or len(head) > MAX_HEAD_BYTES:
                raise ConnectionError("no response head from the upstream")
            head += data
    except BaseException:
        sock.close()
        raise
    head, _, rest = head.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ", 2)[1:]
    start_response(
        b" ".join(status).decode("latin-1"),
        [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
    )
    return passed_through(sock, rest)


def passed_through(sock: socket.socket, first: bytes) -> Iterator[bytes]:
    bare_wsgi.OPEN["streams"] += 1
    try:
        if first:
            yield first
        while data := sock.recv(RECV_BYTES):
            yield data
    finally:
        bare_wsgi.OPEN["streams"] -= 1
        sock.close()
