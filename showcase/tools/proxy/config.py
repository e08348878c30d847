"""``render_config``: the nginx config ``showcase proxy`` runs, written to be read and copied
(one comment per directive saying why). Text only: no nginx, no files touched here."""

from __future__ import annotations

import textwrap
from pathlib import Path

from showcase.pure.framing.sse import SSE_MEDIA_TYPE
from showcase.tools.proxy.locations import LOCATIONS, STREAMING, Location
from showcase.tools.proxy.tls import certificate_paths

UPSTREAM_NAME = "showcase_app"
STREAMING_READ_TIMEOUT = "1h"
SHORT_READ_TIMEOUT = "3s"
# Above the app's ping (SHOWCASE_HEARTBEAT_S, 15 s by default): a quiet WebSocket is pinged
# before nginx would cut it.
WEBSOCKET_READ_TIMEOUT = "60s"
GZIP_TYPES = (SSE_MEDIA_TYPE, "application/x-ndjson", "text/plain")
WORKER_CONNECTIONS = 4096
OPEN_FILES = 2 * WORKER_CONNECTIONS
UPSTREAM_KEEPALIVE = 16
COMMENT_WIDTH = 88  # a location's summary, wrapped to stay under 100 columns indented


def upstream_address(upstream: str) -> str:
    """``HOST:PORT`` of the app from ``http://HOST:PORT`` (a trailing ``/`` allowed) or
    ``HOST:PORT``; ValueError for anything else (https, a path): nginx proxies to the
    app's plain HTTP port."""
    address = upstream.removeprefix("http://").rstrip("/")
    if "://" in address or "/" in address or ":" not in address:
        raise ValueError(f"expected http://HOST:PORT or HOST:PORT for the app, got {upstream!r}")
    return address


def streaming_directives(read_timeout: str, indent: str, *, upgrade: bool = False) -> list[str]:
    """The minimal settings under which nginx passes a stream on message by message; with
    ``upgrade``, a WebSocket handshake passes too (the settings to copy)."""
    lines = [
        "# HTTP/1.1 to the app (nginx's default is 1.0): chunked bodies, reusable connections.",
        "proxy_http_version 1.1;",
    ]
    if upgrade:
        lines += [
            "# Upgrade and Connection are hop-by-hop: set again, a WebSocket handshake passes.",
            "proxy_set_header Upgrade $http_upgrade;",
            '# "upgrade" for a handshake; "" otherwise, not nginx\'s "close": keepalive reuses it.',
            "proxy_set_header Connection $connection_upgrade;",
        ]
    else:
        lines += [
            '# No "Connection: close" to the app (nginx adds it by default): keepalive reuses it.',
            'proxy_set_header Connection "";',
        ]
    lines += [
        "# Pass each read from the app to the client at once instead of collecting it first.",
        "proxy_buffering off;",
    ]
    if read_timeout == STREAMING_READ_TIMEOUT:
        lines += [
            "# A stream may be quiet between messages; the app's heartbeat (15 s) stays far",
            "# below this, so only a dead app is cut.",
        ]
    else:
        lines += [
            "# Cut a response when the app sends nothing for this long (a load balancer's",
            "# idle timeout, made short to show it): a heartbeat more often keeps it open.",
        ]
    lines.append(f"proxy_read_timeout {read_timeout};")
    return [indent + line for line in lines]


def websocket_directives(indent: str) -> list[str]:
    """What a WebSocket needs: the handshake's hop-by-hop headers passed on, a read timeout
    above the app's ping interval."""
    lines = [
        "# HTTP/1.1 to the app: an upgrade needs it (nginx's default is 1.0).",
        "proxy_http_version 1.1;",
        "# Upgrade and Connection are hop-by-hop: nginx drops them unless set again here.",
        "proxy_set_header Upgrade $http_upgrade;",
        '# "upgrade" for a handshake, "" (keepalive) otherwise: the map in the http block.',
        "proxy_set_header Connection $connection_upgrade;",
        "# Pass a plain stream's reads on at once too (a WebSocket is never buffered).",
        "proxy_buffering off;",
        "# Longer than the app's ping (15 s) on a quiet socket: only a dead app is cut.",
        f"proxy_read_timeout {WEBSOCKET_READ_TIMEOUT};",
    ]
    return [indent + line for line in lines]


def location_block(location: Location) -> list[str]:
    """One ``location`` with its summary and fix as the comment above it."""
    indent = " " * 12
    # With a URI part ("/") in proxy_pass, nginx replaces the matched prefix with it:
    # /stock/stream/sse?count=5 reaches the app as /stream/sse?count=5.
    target = f"http://{UPSTREAM_NAME}" if location is STREAMING else f"http://{UPSTREAM_NAME}/"
    said = f"{location.name}: {location.summary}. Fix: {location.fix}."
    lines = [f"        # {line}" for line in textwrap.wrap(said, COMMENT_WIDTH)]
    lines.append(f"        location {location.prefix} {{")
    if location is STREAMING:
        lines.append(f"{indent}# The app, the request's path unchanged.")
    elif location.name == "stock":
        lines += [
            f"{indent}# proxy_pass alone, nginx's defaults: HTTP/1.0 to the app, proxy_buffering",
            f"{indent}# on, X-Accel-Buffering honoured. The trailing / strips {location.prefix}.",
        ]
    else:
        lines.append(f"{indent}# The app, with {location.prefix} stripped by the trailing /.")
    lines.append(f"{indent}proxy_pass {target};")
    if location.name == "ignore-accel":
        lines += [
            f"{indent}# nginx's default, said: collect the response before passing it on.",
            f"{indent}proxy_buffering on;",
            f"{indent}# Act like a proxy that does not know the header: the app's",
            f'{indent}# "X-Accel-Buffering: no" no longer turns buffering off.',
            f"{indent}proxy_ignore_headers X-Accel-Buffering;",
        ]
    elif location.name == "short-timeout":
        lines += streaming_directives(SHORT_READ_TIMEOUT, indent)
    elif location.name == "websocket":
        lines += websocket_directives(indent)
    elif location is STREAMING:
        lines += streaming_directives(STREAMING_READ_TIMEOUT, indent, upgrade=True)
    elif location.name != "stock":
        lines += streaming_directives(STREAMING_READ_TIMEOUT, indent)
    if location.name == "gzip":
        lines += [
            f"{indent}# Compress what nginx passes on; with buffering off each read is",
            f"{indent}# still flushed to the client as it comes.",
            f"{indent}gzip on;",
            f"{indent}# The stream types (text/html is always compressed once gzip is on).",
            f"{indent}gzip_types {' '.join(GZIP_TYPES)};",
            f"{indent}# Vary: Accept-Encoding, so a cache keeps compressed and plain apart.",
            f"{indent}gzip_vary on;",
        ]
    lines.append("        }")
    return lines


def render_config(upstream: str, port: int, tls_port: int, run_dir: Path) -> str:
    """The whole nginx config: ``upstream`` is the app (``http://HOST:PORT`` or ``HOST:PORT``),
    ``port`` the plain HTTP listener with every location of ``LOCATIONS``, ``tls_port`` the
    TLS + HTTP/2 listener (the streaming settings at ``/``), ``run_dir`` where nginx keeps
    its pid, log, temporary files and the certificate (``showcase.tools.proxy.tls``).

    Deterministic: the same arguments give the same text (docs/nginx.conf is the output
    for the default ports and is tested against it).
    """
    address = upstream_address(upstream)
    run = str(run_dir)
    cert, key = certificate_paths(run_dir)
    head = f"""\
# nginx in front of the Streaming Showcase, generated by `showcase proxy`
# (showcase/tools/proxy/config.py). Each location of the first server shows one thing a reverse
# proxy does to a stream, and its fix. For a deployment copy the upstream, `location /` and
# the TLS server; the other locations are there to show failures.

# Stay in the foreground, a child of `showcase proxy`, which stops it by its PID.
daemon off;
# One process: one PID to stop, no worker left behind. A deployment drops these two lines.
master_process off;
# Under the run directory, so nothing needs root's /run or /var/log.
pid {run}/nginx.pid;
# Startup errors and cut streams ("upstream timed out") are written here.
error_log {run}/error.log warn;

# Open files allowed (often 1,024 by default): two per stream, and some to spare.
worker_rlimit_nofile {OPEN_FILES};

events {{
    # Each proxied stream holds two connections (client and app): about 2,000 streams.
    worker_connections {WORKER_CONNECTIONS};
}}

http {{
    # The app logs what matters; a line per request here would only repeat it.
    access_log off;
    # Temporary files under the run directory too (a buffering location spills big bodies).
    client_body_temp_path {run}/client_body;
    # Where proxy_buffering on writes a response that outgrows its memory buffers.
    proxy_temp_path {run}/proxy;
    # Unused modules' temporary paths, moved off /var/lib/nginx so no root is needed.
    fastcgi_temp_path {run}/fastcgi;
    # (as above)
    uwsgi_temp_path {run}/uwsgi;
    # (as above)
    scgi_temp_path {run}/scgi;

    # Connection for the app: "upgrade" when the client asked for one (a WebSocket
    # handshake), else empty, so plain requests keep the upstream keepalive.
    map $http_upgrade $connection_upgrade {{
        # A handshake: Upgrade: websocket came with the request.
        default upgrade;
        # No Upgrade header: no Connection header either (keepalive to the app).
        '' "";
    }}

    upstream {UPSTREAM_NAME} {{
        # The app: gunicorn with gevent workers (`showcase serve`).
        server {address};
        # Idle connections to the app kept for reuse (needs HTTP/1.1 and Connection "").
        keepalive {UPSTREAM_KEEPALIVE};
    }}

    server {{
        # Plain HTTP on loopback only: the locations side by side.
        listen 127.0.0.1:{port};

"""
    body: list[str] = []
    for location in LOCATIONS:
        body += location_block(location)
        body.append("")
    body[-1] = "    }"
    tls = f"""
    server {{
        # TLS and HTTP/2: a page's EventSources share one connection instead of the six
        # an HTTP/1.1 browser opens per origin (the seventh waits, with no error).
        listen 127.0.0.1:{tls_port} ssl http2;
        # Self-signed for 127.0.0.1 and localhost, made with `openssl req` on the first run.
        ssl_certificate {cert};
        # Its private key (mode 0600).
        ssl_certificate_key {key};

        # {STREAMING.name}: the same settings as `location /` above, over HTTP/2.
        location / {{
            # The app, the request's path unchanged.
            proxy_pass http://{UPSTREAM_NAME};
"""
    tail = "\n".join(streaming_directives(STREAMING_READ_TIMEOUT, " " * 12, upgrade=True))
    return head + "\n".join(body) + "\n" + tls + tail + "\n        }\n    }\n}\n"
