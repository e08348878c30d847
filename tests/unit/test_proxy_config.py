"""The generated nginx config (text only, no nginx run here): docs/nginx.conf is its output
for the default ports, every directive has its comment, every location is there as the
spec names it, and the command's helpers (URLs, SHOWCASE_DEPLOY) say the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from showcase.pure.settings import read_setting
from showcase.tools.proxy import LOCATIONS, Proxy, find_location, render_config
from showcase.tools.proxy.command import (
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    app_url,
    deployment,
)
from showcase.tools.proxy.config import upstream_address
from showcase.tools.server import DEFAULT_BIND

ROOT = Path(__file__).resolve().parents[2]
DOC_RUN_DIR = Path("/tmp/showcase-proxy")  # the run directory docs/nginx.conf names
SPEC_PREFIXES = {
    "streaming": "/",
    "stock": "/stock/",
    "ignore-accel": "/ignore-accel/",
    "gzip": "/gzip/",
    "short-timeout": "/short-timeout/",
    "websocket": "/websocket/",
    "no-upgrade": "/no-upgrade/",
}


def default_config() -> str:
    return render_config(f"http://{DEFAULT_BIND}", DEFAULT_PORT, DEFAULT_TLS_PORT, DOC_RUN_DIR)


def location_body(config: str, prefix: str, occurrence: int = 0) -> str:
    """The text between ``location <prefix> {`` and its closing brace."""
    starts = [m.end() for m in re.finditer(rf"location {re.escape(prefix)} {{\n", config)]
    start = starts[occurrence]
    return config[start : config.index("\n        }", start)]


def directives(block: str) -> list[str]:
    """The directive lines of a block (comments, blank lines and braces left out)."""
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#") and line.strip() != "}"
    ]


def test_the_committed_config_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "nginx.conf").read_text()
    assert committed == default_config(), (
        "docs/nginx.conf drifted: showcase proxy --print-config --run-dir /tmp/showcase-proxy "
        "> docs/nginx.conf"
    )


def test_every_directive_and_location_follows_a_comment() -> None:
    """Blocks that only group (events, http, upstream, server) are left out; a location
    is commented with what happens to a stream there."""
    lines = default_config().splitlines()
    uncommented = []
    for number, line in enumerate(lines):
        text = line.strip()
        grouping = text.endswith("{") and not text.startswith("location ")
        if not text or text.startswith("#") or text == "}" or grouping:
            continue
        if not lines[number - 1].strip().startswith("#"):
            uncommented.append(text)
    assert uncommented == []


def test_the_locations_are_the_spec_s_in_order() -> None:
    assert [(location.name, location.prefix) for location in LOCATIONS] == list(
        SPEC_PREFIXES.items()
    )
    for location in LOCATIONS:
        assert location.summary and "\n" not in location.summary
        assert location.fix and "\n" not in location.fix
        assert location.example.startswith(("/stream/", "/ws?"))


def test_streaming_has_the_minimal_correct_settings_and_passes_the_path_unchanged() -> None:
    body = directives(location_body(default_config(), "/"))
    assert body == [
        "proxy_pass http://showcase_app;",
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_buffering off;",
        "proxy_read_timeout 1h;",
    ]


def test_stock_is_proxy_pass_alone() -> None:
    assert directives(location_body(default_config(), "/stock/")) == [
        "proxy_pass http://showcase_app/;"
    ]


def test_ignore_accel_buffers_and_ignores_the_header() -> None:
    body = directives(location_body(default_config(), "/ignore-accel/"))
    assert "proxy_buffering on;" in body
    assert "proxy_ignore_headers X-Accel-Buffering;" in body


@pytest.mark.parametrize(
    ("prefix", "extra", "timeout"),
    [
        (
            "/gzip/",
            [
                "gzip on;",
                "gzip_types text/event-stream application/x-ndjson text/plain;",
                "gzip_vary on;",
            ],
            "1h",
        ),
        ("/short-timeout/", [], "3s"),
    ],
)
def test_gzip_and_short_timeout_are_streaming_plus_one_change(
    prefix: str, extra: list[str], timeout: str
) -> None:
    body = directives(location_body(default_config(), prefix))
    assert body == [
        "proxy_pass http://showcase_app/;",  # the trailing / strips the prefix
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_buffering off;",
        f"proxy_read_timeout {timeout};",
        *extra,
    ]


def test_websocket_passes_the_upgrade_with_a_read_timeout_above_the_ping() -> None:
    config = default_config()
    assert directives(location_body(config, "/websocket/")) == [
        "proxy_pass http://showcase_app/;",
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_buffering off;",
        "proxy_read_timeout 60s;",
    ]
    # The map: "upgrade" for a handshake, nothing (keepalive) for a plain request.
    start = config.index("map $http_upgrade $connection_upgrade {\n")
    block = config[start : config.index("}", start)]
    assert directives(block.split("\n", 1)[1]) == ["default upgrade;", "'' \"\";"]
    assert config.index("map $http_upgrade") < config.index("server {")
    # The app closes a socket that misses two pings; nginx must wait longer than that.
    assert 60 > 2 * read_setting("SHOWCASE_HEARTBEAT_S", {})


def test_no_upgrade_is_the_streaming_settings_without_upgrade() -> None:
    body = directives(location_body(default_config(), "/no-upgrade/"))
    assert body == [
        "proxy_pass http://showcase_app/;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_buffering off;",
        "proxy_read_timeout 1h;",
    ]
    assert not any("Upgrade" in line for line in body)


def test_every_prefixed_location_strips_its_prefix() -> None:
    config = default_config()
    for location in LOCATIONS[1:]:
        assert directives(location_body(config, location.prefix))[0].endswith("showcase_app/;")


def test_tls_server_listens_with_http2_and_streams_at_the_root() -> None:
    config = default_config()
    assert f"listen 127.0.0.1:{DEFAULT_TLS_PORT} ssl http2;" in config
    assert f"ssl_certificate {DOC_RUN_DIR}/localhost.crt;" in config
    assert f"ssl_certificate_key {DOC_RUN_DIR}/localhost.key;" in config
    tls_root = directives(location_body(config, "/", occurrence=1))
    assert tls_root == directives(location_body(config, "/"))


def test_the_config_names_only_its_run_directory_and_loopback() -> None:
    config = render_config("127.0.0.1:9000", 9001, 9002, Path("/srv/run"))
    assert "server 127.0.0.1:9000;" in config
    assert "listen 127.0.0.1:9001;" in config
    assert "listen 127.0.0.1:9002 ssl http2;" in config
    paths = set(re.findall(r" (/[\w./-]+);", config))
    assert paths and all(path.startswith("/srv/run/") for path in paths)
    assert re.findall(r"listen (\S+)", config) == ["127.0.0.1:9001;", "127.0.0.1:9002"]


@pytest.mark.parametrize(
    ("upstream", "address"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_upstream_takes_a_url_or_host_port(upstream: str, address: str) -> None:
    assert upstream_address(upstream) == address


@pytest.mark.parametrize(
    "upstream", ["https://127.0.0.1:8000", "http://127.0.0.1:8000/app", "127.0.0.1", ""]
)
def test_upstream_refuses_what_nginx_cannot_proxy_to(upstream: str) -> None:
    with pytest.raises(ValueError):
        upstream_address(upstream)


def test_url_for_puts_the_path_behind_the_location_prefix() -> None:
    proxy = Proxy("http://127.0.0.1:8080", "https://127.0.0.1:8443", 1, Path("/tmp"))
    assert proxy.url_for("streaming", "/stream/sse?count=3") == (
        "http://127.0.0.1:8080/stream/sse?count=3"
    )
    assert proxy.url_for("stock", "/stream/sse") == "http://127.0.0.1:8080/stock/stream/sse"
    assert proxy.url_for("short-timeout", "/") == "http://127.0.0.1:8080/short-timeout/"
    with pytest.raises(KeyError, match="streaming, stock"):
        proxy.url_for("buffered", "/")
    with pytest.raises(ValueError):
        proxy.url_for("stock", "stream/sse")
    assert find_location("gzip").prefix == "/gzip/"


def test_showcase_deploy_names_every_lane() -> None:
    deploy = json.loads(json.dumps(deployment("http://127.0.0.1:8000", 8080, 8443)))
    assert deploy == {
        "direct": "http://127.0.0.1:8000",
        "proxy": "http://127.0.0.1:8080",
        "tls": "https://127.0.0.1:8443",
        "locations": SPEC_PREFIXES,
    }


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("0.0.0.0:8001", "http://127.0.0.1:8001"),
        (":8002", "http://127.0.0.1:8002"),
    ],
)
def test_app_url_reaches_the_bound_app(bind: str, url: str) -> None:
    assert app_url(bind) == url


@pytest.mark.parametrize("bind", ["127.0.0.1:0", "127.0.0.1", "unix:/tmp/app.sock"])
def test_app_url_needs_a_fixed_port(bind: str) -> None:
    with pytest.raises(ValueError, match="fixed port"):
        app_url(bind)
