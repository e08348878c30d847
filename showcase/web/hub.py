"""The broadcast hub: ``POST /chat/send`` publishes to a room; ``GET /chat/events`` (SSE,
resumable) and ``GET /chat/events.ndjson`` (NDJSON, live only) stream it. docs/hub.md."""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from showcase.bodies import iter_body
from showcase.hub.broker import Broker, BrokerUnavailable
from showcase.hub.direct import socket_writer
from showcase.hub.event import HUB_NDJSON, HUB_SSE
from showcase.hub.memory import MemoryBroker
from showcase.hub.source import iter_room
from showcase.json_body import JSONBodyError, decode_json_object
from showcase.lifecycle import make_wait
from showcase.modes import Mode
from showcase.params import SERVICE_UNAVAILABLE, ParamError
from showcase.web.responses import error_response, stream_response

bp = Blueprint("hub", __name__)

ROOM_TEXT = re.compile(r"[A-Za-z0-9_-]{1,64}")
USER_TEXT = re.compile(r"[A-Za-z0-9_.-]{1,32}")
BODY_OVERHEAD_BYTES = 1024  # the JSON around the text: keys, room, user, escapes
EXTENSION = "showcase.hub"


def broker_of(app: Flask) -> Broker:
    """The app's broker, made on first use (in the worker, after the fork) from its settings:
    ``SHOWCASE_BROKER`` ``memory`` (this process) or a ``redis://`` URL."""
    broker: Broker | None = app.extensions.get(EXTENSION)
    if broker is None:
        config = app.config
        bounds = {
            "log_count": int(config["SHOWCASE_HUB_LOG_COUNT"]),
            "log_age_s": float(config["SHOWCASE_HUB_LOG_AGE_S"]),
            "queue_limit": int(config["SHOWCASE_HUB_QUEUE_LIMIT"]),
        }
        url = str(config["SHOWCASE_BROKER"])
        if url == "memory":
            broker = MemoryBroker(**bounds)  # type: ignore[arg-type]
        elif url.startswith(("redis://", "rediss://", "unix://")):
            from showcase.hub.redis_broker import RedisBroker

            broker = RedisBroker(url, **bounds)  # type: ignore[arg-type]
        else:
            raise RuntimeError(f"SHOWCASE_BROKER: memory or a redis:// URL, got {url[:80]!r}")
        app.extensions[EXTENSION] = broker
    return broker


def parse_name(value: object, field: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = value[:40] if isinstance(value, str) else value
        raise ParamError(field, f"expected {pattern.pattern}, got {shown!r}")
    return value


def check_token(header: str | None, token: str) -> None:
    """With a token configured, ``Authorization: Bearer <token>`` or ParamError (401)."""
    if not token:
        return
    given = (header or "").removeprefix("Bearer ").encode()
    if not (header or "").startswith("Bearer ") or not hmac.compare_digest(given, token.encode()):
        raise ParamError("Authorization", "a valid Bearer token is required", "unauthorized")


def read_message(max_text_bytes: int) -> tuple[str, str, str]:
    """``room``, ``user``, ``text`` of the JSON body, or ParamError: 415 for another content
    type, 413 for a body or text over the limit, 400 for the rest: among them what
    ``json_body.decode_json_object`` refuses (``field`` the path of a lone surrogate, else
    ``body``). Reads at most the limit."""
    if request.mimetype != "application/json":
        raise ParamError(
            "Content-Type",
            f"expected application/json, got {request.mimetype[:40]!r}",
            "unsupported media type",
        )
    limit = max_text_bytes + BODY_OVERHEAD_BYTES
    too_large = ParamError("body", f"larger than {limit} bytes", "request entity too large")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    try:
        body = decode_json_object(raw)
    except JSONBodyError as error:
        raise ParamError(error.field or "body", error.detail) from None
    room = parse_name(body.get("room"), "room", ROOM_TEXT)
    user = parse_name(body.get("user"), "user", USER_TEXT)
    return room, user, parse_text(body.get("text"), max_text_bytes)


def parse_text(text: object, max_text_bytes: int) -> str:
    """A message's text: a non-empty string of at most ``max_text_bytes`` of UTF-8, or
    ParamError (``request entity too large`` past it)."""
    if not isinstance(text, str) or not text:
        raise ParamError("text", "expected a non-empty string")
    if len(text.encode(errors="surrogatepass")) > max_text_bytes:
        raise ParamError(
            "text", f"longer than {max_text_bytes} bytes of UTF-8", "request entity too large"
        )
    return text


STATUS_OF_ERROR = {
    "unauthorized": 401,
    "request entity too large": 413,
    "unsupported media type": 415,
}


@bp.post("/chat/send")
def send() -> Response:
    config = current_app.config
    try:
        check_token(request.headers.get("Authorization"), config["SHOWCASE_HUB_TOKEN"])
        room, user, text = read_message(int(config["SHOWCASE_HUB_MAX_TEXT_BYTES"]))
    except ParamError as error:
        response = error_response(error, STATUS_OF_ERROR.get(error.error, 400))
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        message_id = broker_of(current_app).publish(room, user, text)
    except BrokerUnavailable as error:
        unavailable = ParamError("broker", str(error)[:200], SERVICE_UNAVAILABLE)
        return error_response(unavailable, 503)
    response = jsonify({"id": message_id})
    response.status_code = 202
    return response


def stream_room(mode: Mode) -> Response:
    try:
        room = parse_name(request.args.to_dict().get("room"), "room", ROOM_TEXT)
    except ParamError as error:
        return error_response(error)
    last_event_id = request.environ.get("HTTP_LAST_EVENT_ID") if mode.resumable else None
    app = current_app
    heartbeat_s = app.config["SHOWCASE_HEARTBEAT_S"]
    writer = socket_writer(request.environ, mode.name)
    items = iter_room(broker_of(app), room, last_event_id, heartbeat_s, writer)
    body = iter_body(items, mode, heartbeat_s=heartbeat_s, wait=make_wait())
    return stream_response(body, mode.mimetype)


@bp.get("/chat/events")
def events() -> Response:
    return stream_room(HUB_SSE)


@bp.get("/chat/events.ndjson")
def events_ndjson() -> Response:
    return stream_room(HUB_NDJSON)
