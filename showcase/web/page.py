"""The teaching page: ``GET /`` (every mode side by side), ``GET /wire/<mode>`` (raw bytes of a
stream, read over a real socket to this server) and ``GET /guide/`` (docs/choosing.md, with the
plots, results and documents it links beside it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from showcase.pure.modes import MODES
from showcase.pure.params import (
    MAX_COUNT,
    MAX_INTERVAL_MS,
    MAX_SIZE_BYTES,
    SURROUNDING_BLANKS,
    parse_int,
    parse_stream_params,
)
from showcase.pure.refusal import Refusal
from showcase.pure.sources import SOURCES
from showcase.runtime.files import SAMPLES
from showcase.tools.proxy.locations import LOCATIONS
from showcase.tools.wire import DEFAULT_LIMIT_BYTES, MAX_LIMIT_BYTES, build_wire_request, capture
from showcase.web import ROOT
from showcase.web.refusals import refusal_response
from showcase.web.wire_view import capture_polls, capture_ws, describe_capture

bp = Blueprint("page", __name__)

GUIDE_PATH = ROOT / "docs" / "choosing.md"
WIRE_DEFAULTS = {"count": "5", "interval": "20"}  # small and quick: the wire view is a peek
# The stream parameters the wire view passes on, as the client wrote them once validated:
# reformatting a number could change it, and flush/heartbeat are what make coalescing and
# heartbeats visible on the wire.
STREAM_FIELDS = ("count", "interval", "size", "source", "flush", "heartbeat")
# Beside the stream modes: the WebSocket's handshake and frames, and a few polls.
WIRE_MODES = (*MODES, "ws", "poll")
# HTTP/1.1 browsers open at most six connections per origin (Chromium, Firefox, Safari).
CONNECTIONS_PER_ORIGIN = 6
# Set by `showcase proxy` for the app it starts: where the app, nginx and nginx's TLS port
# listen, and nginx's locations. Absent: the deployment view offers the direct lanes only.
DEPLOY_ENV = "SHOWCASE_DEPLOY"
DEPLOY_ORIGINS = ("direct", "proxy", "tls")


@bp.app_context_processor
def guide_flag() -> dict[str, bool]:
    """Every template may link the guide, and does so only once docs/choosing.md exists."""
    return {"guide": GUIDE_PATH.is_file()}


@bp.get("/")
def index() -> str:
    limits = {
        "count": MAX_COUNT,
        "interval": MAX_INTERVAL_MS,
        "size": MAX_SIZE_BYTES,
        "connections": CONNECTIONS_PER_ORIGIN,
    }
    urls: dict[str, Any] = {mode: url_for("streams.stream", mode=mode) for mode in MODES}
    urls |= {
        "wire": url_for("page.wire", mode="MODE").replace("MODE", "{mode}"),
        "files": {name: url_for("downloads.download", name=name) for name in SAMPLES},
        "generated": url_for("downloads.generated"),
        "ws": ws_path(),
        "poll": url_for("poll.poll"),
    }
    return render_template(
        "index.html",
        sources=list(SOURCES),
        samples=SAMPLES,
        limits=limits,
        urls=urls,
        wire_modes=list(WIRE_MODES),
        deploy=read_deploy(current_app.config["SHOWCASE_DEPLOY"]),
    )


def read_deploy(text: str | None) -> dict[str, Any] | None:
    """``SHOWCASE_DEPLOY`` as the page's deployment lanes, or None when unset or malformed.

    The value is a JSON object: ``direct``, ``proxy`` and ``tls`` as ``http(s)://host:port``
    origins and ``locations`` mapping each nginx location's name to its prefix (``/`` or
    ``/name/``), in order. The result keeps the three origins (no trailing slash) and lists
    the locations as ``{"name", "prefix", "summary", "fix"}``, the last two from
    ``showcase.tools.proxy.LOCATIONS`` (empty for a name it does not know). A malformed value is
    ignored, not an error: the page still serves, with the direct lanes only.
    """
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    origins = {name: value.get(name) for name in DEPLOY_ORIGINS}
    locations = value.get("locations")
    if not all(
        isinstance(url, str) and url.startswith(("http://", "https://")) for url in origins.values()
    ):
        return None
    if not isinstance(locations, dict):
        return None
    known = {location.name: location for location in LOCATIONS}
    lanes = []
    for name, prefix in locations.items():
        if not (isinstance(prefix, str) and prefix.startswith("/") and prefix.endswith("/")):
            return None
        location = known.get(name)
        summary, fix = (location.summary, location.fix) if location else ("", "")
        lanes.append({"name": name, "prefix": prefix, "summary": summary, "fix": fix})
    return {**{name: str(url).rstrip("/") for name, url in origins.items()}, "locations": lanes}


def own_address() -> tuple[str, int] | None:
    """Where this server accepted the current request: the accepted socket's own (host, port),
    as it is, so a connection to it reaches this server whatever ``--bind`` said (a 0.0.0.0
    bind gives the address the client reached, never 0.0.0.0). None without a TCP socket.

    It comes from the accepted socket, never from the Host header, which the client writes:
    trusting it would let anyone make the server connect to any host and port (SSRF).
    """
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    getsockname = getattr(sock, "getsockname", None)
    if getsockname is None:
        return None
    try:
        address: Any = getsockname()
    except OSError:
        return None
    if not isinstance(address, tuple) or len(address) < 2:
        return None  # a Unix socket: there is no TCP port to connect to
    return str(address[0]), int(address[1])


@bp.get("/wire/<mode>")
def wire(mode: str) -> Response:
    """JSON: the request sent, each read with its arrival time, and labelled byte ranges."""
    try:
        if mode not in WIRE_MODES:
            modes = ", ".join(WIRE_MODES)
            raise Refusal("mode", f"must be one of {modes}, got {mode[:40]!r}")
        query = {**WIRE_DEFAULTS, **request.args.to_dict()}
        limit = parse_int(query, "limit", DEFAULT_LIMIT_BYTES, 1, MAX_LIMIT_BYTES)
        parse_stream_params(query)  # refuse here what the stream would refuse
    except Refusal as error:
        return refusal_response(error)
    address = own_address()
    if address is None:
        detail = "the wire view needs a real server socket (gunicorn or werkzeug)"
        return refusal_response(Refusal("server", detail, status=503))
    host, port = address
    stream_query = {
        name: query[name].strip(SURROUNDING_BLANKS) for name in STREAM_FIELDS if name in query
    }
    if mode == "poll":
        path = url_for("poll.poll")
        return jsonify(capture_polls(host, port, path, stream_query, limit))
    if mode == "ws":
        return jsonify(capture_ws(host, port, ws_path(), stream_query, limit))
    path = url_for("streams.stream", mode=mode)
    raw_request = build_wire_request(host, port, path, stream_query)
    result = capture(host, port, raw_request, limit_bytes=limit)
    return jsonify(describe_capture(mode, raw_request, result, limit))


def ws_path() -> str:
    """``/ws``: werkzeug builds a WebSocket rule's URL absolute (``ws://host/ws``); the page
    and the wire view's request line want the path."""
    return urlsplit(url_for("ws.stream")).path


# CommonMark plus tables; raw HTML is escaped and javascript: links are refused by the
# library's link validation, so the file cannot inject markup.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
# The same grammar with HTML blocks recognised, used only to find the lines of HTML comments
# (CommonMark HTML block type 2), so that a fenced or indented <!-- … --> stays as written.
COMMENT_FINDER = MarkdownIt("commonmark", {"html": True}).enable("table")


@bp.get("/guide/")
def guide() -> Response | str:
    """docs/choosing.md as HTML; at ``/guide/`` so its ``img/…`` plots resolve below it."""
    if not GUIDE_PATH.is_file():
        detail = "docs/choosing.md has not been written yet"
        return refusal_response(Refusal("guide", detail, status=404))
    text = GUIDE_PATH.read_text(encoding="utf-8")
    return render_template("guide.html", body=render_markdown(text))


# What the guide may serve beside it: fixed names, so no path from a request reaches the disk
# unchecked. Each benchmark has its plot (img/) and its committed results (results/); a test
# checks these lists against docs/.
GUIDE_DOCUMENTS = ("choosing.md", "contract.md", "chat.md", "answers.md", "hub.md", "nginx.conf")
GUIDE_BENCHMARKS = (
    "latency",
    "throughput",
    "framing",
    "held_streams",
    "idle_memory",
    "download",
    "relay",
    "answers",
    "hub",
    "deploy",
    "disconnect",
    "restart",
)


def guide_file(folder: str, name: str, allowed: tuple[str, ...]) -> Path:
    """docs/<folder>/<name> when ``name`` is on the ``allowed`` list and the file exists; else a
    404 Refusal (the name is never joined to a path before it is found on the list)."""
    if name not in allowed:
        raise Refusal("guide", f"no document {name[:80]!r}", status=404)
    path = GUIDE_PATH.parent / folder / allowed[allowed.index(name)]
    if not path.is_file():
        raise Refusal("guide", f"no document {name[:80]!r}", status=404)
    return path


@bp.get("/guide/img/<name>")
def guide_image(name: str) -> Response:
    """The guide's plots (docs/img/), by allow-listed name only."""
    try:
        path = guide_file("img", name, tuple(f"{stem}.png" for stem in GUIDE_BENCHMARKS))
    except Refusal as error:
        return refusal_response(error)
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/guide/<name>")
def guide_document(name: str) -> Response | str:
    """The files the guide links beside it (docs/chat.md, docs/nginx.conf, …), by allow-listed
    name only: Markdown as HTML like the guide, anything else as plain text."""
    try:
        path = guide_file("", name, GUIDE_DOCUMENTS)
    except Refusal as error:
        return refusal_response(error)
    if path.suffix != ".md":
        return send_file(path, mimetype="text/plain", max_age=0)
    text = path.read_text(encoding="utf-8")
    return render_template("guide.html", body=render_markdown(text), title=name)


@bp.get("/guide/results/<name>")
def guide_result(name: str) -> Response:
    """The committed results the guide's tables were written from (docs/results/)."""
    try:
        path = guide_file("results", name, tuple(f"{stem}.json" for stem in GUIDE_BENCHMARKS))
    except Refusal as error:
        return refusal_response(error)
    return send_file(path, mimetype="application/json", max_age=0)


def render_markdown(text: str) -> Markup:
    """Markdown as HTML: raw HTML shows as text, except comments (``<!-- … -->`` blocks, such as
    the guide's "Generated by" note), which are dropped as a browser would hide them."""
    env: dict[str, Any] = {}
    tokens = MARKDOWN.parse(strip_html_comments(text), env)
    name_headings(tokens)
    return Markup(MARKDOWN.renderer.render(tokens, MARKDOWN.options, env))


def slug_heading(text: str) -> str:
    """A heading's anchor as GitHub writes it (so ``doc.md#section`` links work on both):
    lower case, punctuation dropped except ``-`` and ``_``, each space a ``-``."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def name_headings(tokens: list[Token]) -> None:
    """Give each heading an ``id`` (its slug; a repeated one gets ``-1``, ``-2``… as GitHub
    does), so the documents' ``#section`` links land."""
    seen: dict[str, int] = {}
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or [])
        slug = slug_heading(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        opening.attrSet("id", f"{slug}-{count}" if count else slug)


def strip_html_comments(text: str) -> str:
    """``text`` without the lines of its comment blocks; code blocks and inline text untouched."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    dropped: set[int] = set()
    for token in COMMENT_FINDER.parse(text):
        comment = token.type == "html_block" and token.content.lstrip(" ").startswith("<!--")
        if comment and token.map:
            dropped.update(range(*token.map))
    return "\n".join(line for number, line in enumerate(lines) if number not in dropped)
