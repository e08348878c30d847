"""The broadcast hub: ``POST /chat/send`` publishes to a room; ``GET /chat/events`` (SSE,
resumable) and ``GET /chat/events.ndjson`` (NDJSON, live only) stream it. docs/hub.md."""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from showcase.hub.broker import Broker, BrokerUnavailable, RoomsFull
from showcase.hub.direct import socket_writer
from showcase.hub.event import HUB_NDJSON, HUB_SSE
from showcase.hub.memory import MemoryBroker
from showcase.hub.source import iter_room
from showcase.pure.bodies import iter_body
from showcase.pure.json_body import decode_json_object
from showcase.pure.modes import Mode
from showcase.pure.refusal import Refusal
from showcase.runtime.lifecycle import make_wait
from showcase.web.refusals import refusal_response
from showcase.web.responses import stream_response

bp = Blueprint("hub", __name__)

ROOM_TEXT = re.compile(r"[A-Za-z0-9_-]{1,64}")
USER_TEXT = re.compile(r"[A-Za-z0-9_.-]{1,32}")
BODY_OVERHEAD_BYTES = 1024  # the JSON around the text: keys, room, user, escapes
EXTENSION = "showcase.hub"


def broker_of(app: Flask) -> Broker:
    """The app's broker, made on first use (in the worker, after the fork) from its settings:
    ``SHOWCASE_BROKER`` ``memory`` (this process) or a Redis URL, validated when the server
    started (showcase/pure/settings.py)."""
    broker: Broker | None = app.extensions.get(EXTENSION)
    if broker is None:
        config = app.config
        bounds = {
            "log_count": int(config["SHOWCASE_HUB_LOG_COUNT"]),
            "log_age_s": float(config["SHOWCASE_HUB_LOG_AGE_S"]),
            "queue_limit": int(config["SHOWCASE_HUB_QUEUE_LIMIT"]),
            "max_rooms": int(config["SHOWCASE_HUB_MAX_ROOMS"]),
        }
        url = str(config["SHOWCASE_BROKER"])
        if url == "memory":
            broker = MemoryBroker(**bounds)  # type: ignore[arg-type]
        else:
            from showcase.hub.redis_broker import RedisBroker

            broker = RedisBroker(url, **bounds)  # type: ignore[arg-type]
        app.extensions[EXTENSION] = broker
    return broker


def count_rooms(app: Flask) -> int:
    """The rooms this worker holds (for /healthz); 0 before its broker was made."""
    broker: Broker | None = app.extensions.get(EXTENSION)
    return broker.count_rooms() if broker is not None else 0


def rooms_full_response(error: RoomsFull) -> Response:
    return refusal_response(Refusal("room", str(error), status=503))


def parse_name(value: object, field: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = value[:40] if isinstance(value, str) else value
        raise Refusal(field, f"expected {pattern.pattern}, got {shown!r}")
    return value


def check_token(header: str | None, token: str) -> None:
    """With a token configured, ``Authorization: Bearer <token>`` or Refusal (401)."""
    if not token:
        return
    given = (header or "").removeprefix("Bearer ").encode()
    if not (header or "").startswith("Bearer ") or not hmac.compare_digest(given, token.encode()):
        raise Refusal("Authorization", "a valid Bearer token is required", status=401)


def read_message(max_text_bytes: int) -> tuple[str, str, str]:
    """``room``, ``user``, ``text`` of the JSON body, or Refusal: 415 for another content
    type, 413 for a body or text over the limit, 400 for the rest: among them what
    ``json_body.decode_json_object`` refuses (``field`` the path of a lone surrogate, else
    ``body``). Reads at most the limit."""
    if request.mimetype != "application/json":
        raise Refusal(
            "Content-Type",
            f"expected application/json, got {request.mimetype[:40]!r}",
            status=415,
        )
    limit = max_text_bytes + BODY_OVERHEAD_BYTES
    too_large = Refusal("body", f"larger than {limit} bytes", status=413)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    try:
        body = decode_json_object(raw)
    except Refusal as error:
        if error.field is not None:
            raise
        raise Refusal("body", error.detail, code=error.code) from None
    room = parse_name(body.get("room"), "room", ROOM_TEXT)
    user = parse_name(body.get("user"), "user", USER_TEXT)
    return room, user, parse_text(body.get("text"), max_text_bytes)


def parse_text(text: object, max_text_bytes: int) -> str:
    """A message's text: a non-empty string of at most ``max_text_bytes`` of UTF-8, or
    Refusal (413 past it)."""
    if not isinstance(text, str) or not text:
        raise Refusal("text", "expected a non-empty string")
    if len(text.encode(errors="surrogatepass")) > max_text_bytes:
        raise Refusal("text", f"longer than {max_text_bytes} bytes of UTF-8", status=413)
    return text


@bp.post("/chat/send")
def send() -> Response:
    config = current_app.config
    try:
        check_token(request.headers.get("Authorization"), config["SHOWCASE_HUB_TOKEN"])
        room, user, text = read_message(int(config["SHOWCASE_HUB_MAX_TEXT_BYTES"]))
    except Refusal as error:
        return refusal_response(error)
    try:
        message_id = broker_of(current_app).publish(room, user, text)
    except RoomsFull as error:
        return rooms_full_response(error)
    except BrokerUnavailable as error:
        return refusal_response(Refusal("broker", str(error)[:200], status=503))
    response = jsonify({"id": message_id})
    response.status_code = 202
    return response


def stream_room(mode: Mode) -> Response:
    app = current_app
    broker = broker_of(app)
    try:
        room = parse_name(request.args.to_dict().get("room"), "room", ROOM_TEXT)
        # Refused here, before any byte: the join itself waits for the body's first next().
        # Should the last place be taken meanwhile, the join ends it with an error event.
        broker.check_room(room)
    except Refusal as error:
        return refusal_response(error)
    except RoomsFull as error:
        return rooms_full_response(error)
    last_event_id = request.environ.get("HTTP_LAST_EVENT_ID") if mode.resumable else None
    heartbeat_s = app.config["SHOWCASE_HEARTBEAT_S"]
    writer = socket_writer(request.environ, mode.name)
    items = iter_room(broker, room, last_event_id, heartbeat_s, writer)
    body = iter_body(items, mode, heartbeat_s=heartbeat_s, wait=make_wait())
    return stream_response(body, mode.mimetype)


@bp.get("/chat/events")
def events() -> Response:
    return stream_room(HUB_SSE)


@bp.get("/chat/events.ndjson")
def events_ndjson() -> Response:
    return stream_room(HUB_NDJSON)
