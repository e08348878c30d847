"""``GET /poll?after=N&wait=MS``: long polling (``wait=0``: short polling) of the stream
contract, on the stateless schedule of showcase/poll.py. docs/contract.md, "poll"."""

from __future__ import annotations

import socket
from typing import Any

from flask import Blueprint, Response, request
from greenlet import getcurrent

from showcase.lifecycle import STREAMS, StreamCut, make_wait, wait_readable
from showcase.message import Message
from showcase.params import ParamError
from showcase.poll import (
    PollParams,
    due_through,
    encode_answer,
    next_due_ms,
    parse_poll_params,
)
from showcase.sources import make_source, now_ms
from showcase.web.responses import error_response

bp = Blueprint("poll", __name__)

HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}


@bp.get("/poll")
def poll() -> Response:
    try:
        params = parse_poll_params(request.args.to_dict())
    except ParamError as error:
        response = error_response(error)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    now = now_ms()
    start = params.start_ms if params.start_ms is not None else now
    last = due_through(params.stream, start, now)
    if last <= params.after and params.wait_ms > 0:
        last = wait_for_due(params, start, now + params.wait_ms)
    stream = params.stream
    first = params.after + 1
    # Interval 0: the due messages at once, without the pauses (the schedule spaced them).
    items = make_source(stream.source, last + 1, 0.0, stream.size, start=first)
    messages = (item for item in items if isinstance(item, Message))
    body, _ = encode_answer(messages, params.after, stream.count, start)
    return Response(body, mimetype="application/json", headers=HEADERS)


def wait_for_due(params: PollParams, start_ms: float, deadline_ms: float) -> int:
    """Wait (counted as an open stream) until message ``after + 1`` is due or the deadline
    passes; the last seq due then. A stopping server answers at once with what is due; a
    client that left ends the wait (``StreamCut``: the worker closes quietly)."""
    sock = request.environ.get("gunicorn.socket")
    watch = sock is not None and hasattr(sock, "_read_event")
    wait = make_wait()
    waiting = object()
    STREAMS.enter(waiting, getcurrent())
    try:
        while True:
            now = now_ms()
            last = due_through(params.stream, start_ms, now)
            if last > params.after:
                return last
            due = next_due_ms(params.stream, start_ms, params.after)
            until = deadline_ms if due is None else min(due, deadline_ms)
            if now >= deadline_ms:
                return last
            seconds = max(until - now, 1.0) / 1000.0
            if watch:
                if wait_readable(sock, seconds):
                    if client_left(sock):
                        raise StreamCut("the client left while its poll waited")
                    watch = False  # a pipelined request: plain pauses for the rest
                elif STREAMS.stopping:
                    return due_through(params.stream, start_ms, now_ms())
            elif not wait(seconds):
                return due_through(params.stream, start_ms, now_ms())
    finally:
        STREAMS.leave(waiting)


def client_left(sock: Any) -> bool:
    """A readable socket with nothing to read: the client closed (or reset) it."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK) == b"")
    except OSError:
        return True
