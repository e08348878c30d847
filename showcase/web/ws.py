"""``GET /ws`` (the stream contract over WebSocket), ``GET /ws/chat`` and ``GET /ws/room``.

Each view validates everything a POST or a stream would (400 JSON, no upgrade), accepts the
handshake on gunicorn's socket and runs the connection in the request's own greenlet
(showcase/runtime/ws_loops.py). docs/contract.md, "ws".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request

from showcase.chat.answer import answer_tokens, count_tokens, iter_answer
from showcase.chat.request import MAX_BODY_BYTES, ChatRequest, parse_openai_request
from showcase.hub.broker import BrokerUnavailable, RoomsFull
from showcase.pure.params import parse_last_event_id, parse_stream_params
from showcase.pure.refusal import Refusal
from showcase.pure.sources import make_source
from showcase.pure.ws_frames import ack_frame, error_frame
from showcase.runtime.lifecycle import ConnectionOver
from showcase.runtime.ws_loops import run_chat, run_room, run_stream
from showcase.runtime.ws_session import HandshakeError, WSSession, accept_handshake
from showcase.web.hub import (
    BODY_OVERHEAD_BYTES,
    ROOM_TEXT,
    USER_TEXT,
    broker_of,
    check_token,
    parse_name,
    parse_text,
    rooms_full_response,
)
from showcase.web.refusals import refusal_response

bp = Blueprint("ws", __name__)

STREAM_MAX_MESSAGE_BYTES = 1024  # /ws takes no messages: anything is refused, a flood sooner
WS_UPGRADE = "websocket"


class TakenOver(Response):
    """What a view returns once the handshake is answered: the connection runs when gunicorn
    iterates the body, after Flask has let go of the request (its context, the view's
    frames: memory and stack depth a held connection would keep otherwise). The body yields
    nothing and ends with ``ConnectionOver``, which the worker takes as "close quietly":
    gunicorn must write no response of its own on a WebSocket."""

    def __init__(self, run: Callable[[], None]) -> None:
        super().__init__()
        self.run = run

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return SessionBody(self.run)


class SessionBody:
    __slots__ = ("run",)

    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run

    def __iter__(self) -> SessionBody:
        return self

    def __next__(self) -> bytes:
        run, self.run = self.run, None  # type: ignore[assignment]
        if run is not None:
            run()
        raise ConnectionOver("the WebSocket is over")


def upgrade_refusal() -> Response | None:
    """426 for a plain GET (no ``Upgrade: websocket``); 501 off the gunicorn worker."""
    if request.environ.get("HTTP_UPGRADE", "").lower() != WS_UPGRADE:
        expected = "expected a WebSocket handshake (Upgrade: websocket)"
        return refusal_response(Refusal("Upgrade", expected, status=426))
    if "gunicorn.socket" not in request.environ:
        return refusal_response(
            Refusal("server", "WebSocket needs the gunicorn worker", status=501)
        )
    return None


def accept(heartbeat_s: float, max_message_bytes: int) -> WSSession | Response:
    """The session on this request's socket, or the 400 for a handshake wsproto refuses."""
    try:
        data, connection = accept_handshake(request.environ)
    except HandshakeError as error:
        return refusal_response(Refusal("handshake", str(error)[:200]))
    sock = request.environ["gunicorn.socket"]
    sock.sendall(data)
    return WSSession(sock, connection, heartbeat_s=heartbeat_s, max_message_bytes=max_message_bytes)


def heartbeat_default() -> float:
    return float(current_app.config["SHOWCASE_HEARTBEAT_S"])


def stream() -> Response:
    try:
        args = request.args.to_dict()
        params = parse_stream_params(args)
        start = parse_last_id(args.get("last_id"))
    except Refusal as error:
        return refusal_response(error)
    refusal = upgrade_refusal()
    if refusal is not None:
        return refusal
    session = accept(params.heartbeat_s or heartbeat_default(), STREAM_MAX_MESSAGE_BYTES)
    if isinstance(session, Response):
        return session
    start = min(start, params.count)  # nothing left: closed with 1000 at once
    items = make_source(params.source, params.count, params.interval_ms, params.size, start=start)
    return TakenOver(lambda: run_stream(session, items))


def parse_last_id(raw: str | None) -> int:
    """``last_id=n``: resume at n + 1 (as ``Last-Event-ID`` does), or Refusal."""
    try:
        return parse_last_event_id(raw)
    except Refusal as error:
        raise Refusal("last_id", error.detail) from None


def chat() -> Response:
    refusal = upgrade_refusal()
    if refusal is not None:
        return refusal
    session = accept(heartbeat_default(), MAX_BODY_BYTES)
    if isinstance(session, Response):
        return session
    interval_ms = float(current_app.config["SHOWCASE_CHAT_INTERVAL_MS"])

    def parse_prompt(body: dict[str, Any]) -> ChatRequest:
        return parse_openai_request(body, default_stream=True)

    def answer(chat: ChatRequest) -> Any:
        return iter_answer(
            answer_tokens(chat.prompt),
            chat.interval_ms if chat.interval_ms is not None else interval_ms,
            max_tokens=chat.max_tokens,
            prompt_tokens=count_tokens(chat.prompt_chars),
        )

    return TakenOver(lambda: run_chat(session, parse_prompt, answer))


def room() -> Response:
    config = current_app.config
    token = str(config["SHOWCASE_HUB_TOKEN"])
    header = request.headers.get("Authorization")
    try:
        name = parse_name(request.args.to_dict().get("room"), "room", ROOM_TEXT)
        if header is not None:
            check_token(header, token)
    except Refusal as error:
        return refusal_response(error)
    refusal = upgrade_refusal()
    if refusal is not None:
        return refusal
    broker = broker_of(current_app)
    try:
        broker.check_room(name)  # past the worker's cap: 503 before the upgrade, as a stream
    except RoomsFull as error:
        return rooms_full_response(error)
    max_text_bytes = int(config["SHOWCASE_HUB_MAX_TEXT_BYTES"])
    session = accept(heartbeat_default(), max_text_bytes + BODY_OVERHEAD_BYTES)
    if isinstance(session, Response):
        return session
    authorized = header is not None or not token
    handle_send = send_handler(broker.publish, name, token, authorized, max_text_bytes)
    last_id = request.args.get("last_id")
    return TakenOver(lambda: run_room(session, broker, name, last_id, handle_send))


def send_handler(
    publish: Callable[[str, str, str], str],
    room: str,
    token: str,
    authorized: bool,
    max_text_bytes: int,
) -> Callable[[dict[str, Any]], str]:
    """A ``send`` frame's answer: ``ack`` with the id ``POST /chat/send`` would answer, or an
    ``error`` frame with its status and body (401 without the token, 413, 400, 503)."""

    def handle(frame: dict[str, Any]) -> str:
        try:
            if not authorized:
                given = frame.get("token")
                check_token(f"Bearer {given}" if isinstance(given, str) else None, token)
            user = parse_name(frame.get("user"), "user", USER_TEXT)
            text = parse_text(frame.get("text"), max_text_bytes)
        except Refusal as error:
            return error_frame(error.status, error.to_json())
        try:
            return ack_frame(publish(room, user, text))
        except BrokerUnavailable as error:
            unavailable = Refusal("broker", str(error)[:200], status=503)
            return error_frame(unavailable.status, unavailable.to_json())

    return handle


# werkzeug routes a request carrying ``Upgrade: websocket`` only to rules marked
# ``websocket=True``, and a plain one only to the others: each path has both, so the plain
# GET gets its 426 (or 400) from the view rather than werkzeug's routing.
for _path, _view in (("/ws", stream), ("/ws/chat", chat), ("/ws/room", room)):
    for _websocket in (True, False):
        bp.add_url_rule(_path, view_func=_view, methods=["GET"], websocket=_websocket)
