"""``GET /poll?after=N&wait=MS``: long polling (``wait=0``: short polling) of the stream
contract, on the stateless schedule of showcase/pure/poll.py. docs/contract.md, "poll"."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request

from showcase.pure.message import Message
from showcase.pure.poll import (
    PollParams,
    due_through,
    encode_answer,
    next_due_ms,
    parse_poll_params,
)
from showcase.pure.refusal import Refusal
from showcase.pure.sources import make_source, now_ms
from showcase.runtime.lifecycle import STREAMS, ConnectionOver, make_wait, wait_readable
from showcase.web.refusals import refusal_response
from showcase.web.responses import stream_response

bp = Blueprint("poll", __name__)

MIMETYPE = "application/json"
HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}


@bp.get("/poll")
def poll() -> Response:
    try:
        params = parse_poll_params(request.args.to_dict())
    except Refusal as error:
        response = refusal_response(error)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    now = now_ms()
    start = params.start_ms if params.start_ms is not None else now
    last = due_through(params.stream, start, now)
    if last > params.after or params.wait_ms == 0:
        return Response(encode_due(params, start, last), mimetype=MIMETYPE, headers=HEADERS)
    # The wait happens in the body, as a stream's pauses do: counted in open_streams, cut on
    # SIGTERM, and with Flask's request context already let go while it waits.
    sock = request.environ.get("gunicorn.socket")
    body = iter_waited_answer(params, start, now + params.wait_ms, sock)
    return stream_response(body, MIMETYPE, headers=HEADERS)


def encode_due(params: PollParams, start_ms: float, last: int) -> bytes:
    """The answer holding messages ``after + 1`` … ``last``."""
    stream = params.stream
    # Interval 0: the due messages at once, without the pauses (the schedule spaced them).
    items = make_source(stream.source, last + 1, 0.0, stream.size, start=params.after + 1)
    messages = (item for item in items if isinstance(item, Message))
    body, _ = encode_answer(messages, params.after, stream.count, start_ms)
    return body


def iter_waited_answer(
    params: PollParams, start_ms: float, deadline_ms: float, sock: Any
) -> Iterator[bytes]:
    """The answer, once message ``after + 1`` is due or the deadline passed (a stopping
    server: at once, with what is due). A client that left while it waited ends the body
    with ``ConnectionOver``: nothing to answer, nothing to log."""
    watch = sock is not None and hasattr(sock, "_read_event")
    wait = make_wait()
    while True:
        now = now_ms()
        last = due_through(params.stream, start_ms, now)
        due = next_due_ms(params.stream, start_ms, params.after)
        until = deadline_ms if due is None else min(due, deadline_ms)
        if last > params.after or now >= deadline_ms:
            break
        seconds = max(until - now, 1.0) / 1000.0
        if watch:
            if wait_readable(sock, seconds):
                if client_left(sock):
                    raise ConnectionOver("the client left while its poll waited")
                watch = False  # a pipelined request: plain pauses for the rest
            elif STREAMS.stopping:
                break
        elif not wait(seconds):
            break
    yield encode_due(params, start_ms, due_through(params.stream, start_ms, now_ms()))


def client_left(sock: Any) -> bool:
    """A readable socket with nothing to read: the client closed (or reset) it."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK) == b"")
    except OSError:
        return True
