"""Relays over a real upstream connection: ``POST /v3/chat`` (a Coze-style typewriter over
``GET /upstream/mock``) and ``GET /relay/stream/sse`` (a plain SSE hop, chainable).

Upstream URLs come from the server's configuration only ("self": this server, reached on
the socket that accepted the request, never the Host header). Nothing in a request's body,
query or headers names a host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from flask import Blueprint, Response, current_app, request

from showcase.chat.answer import answer_tokens, count_tokens, iter_deltas
from showcase.chat.coze import coze_mode, new_chat
from showcase.chat.forward import UpstreamError, iter_relayed
from showcase.chat.hop_upstream import HopResponse, open_hop
from showcase.chat.request import (
    MAX_SPEED,
    MIN_SPEED,
    parse_coze_request,
    parse_json_body,
)
from showcase.chat.typewriter import iter_typed
from showcase.chat.upstream import Upstream, check_event_stream, check_url
from showcase.pure.bodies import iter_body
from showcase.pure.framing.sse import SSE_MIMETYPE
from showcase.pure.message import Message, Pause
from showcase.pure.modes import Mode
from showcase.pure.params import (
    StreamParams,
    decimal_text,
    parse_float,
    parse_last_event_id,
    parse_stream_params,
)
from showcase.pure.refusal import Refusal
from showcase.pure.sources import PAUSE_FACTORS
from showcase.runtime.lifecycle import (
    STREAMS,
    ending_for,
    make_wait,
    restart_notice,
    unless_stopping,
)
from showcase.web.chat import read_json_body
from showcase.web.page import own_address
from showcase.web.refusals import refusal_response
from showcase.web.responses import stream_response

bp = Blueprint("relay", __name__)

MAX_PROMPT_CHARS = 4_000  # the longest question /upstream/mock takes in its query
# What the Coze relay passes upstream: enough to pick the answer, and short enough that the
# request line stays under gunicorn's 4094 bytes once percent-encoded (9 bytes a CJK char).
UPSTREAM_PROMPT_CHARS = 200


def configured_upstream(key: str, own_path: str, silence_s: float = 0.0) -> Upstream:
    """The upstream named by setting ``key``; UpstreamError when it cannot be reached.

    Its read timeout is ``SHOWCASE_RELAY_READ_TIMEOUT_S`` past ``silence_s``, the
    longest silence the relay asked the upstream for (a heartbeat of 60 s is no stall)."""
    url = current_app.config[key]
    if url == "self":
        address = own_address()
        if address is None:
            raise UpstreamError("upstream_refused", "no server socket to reach this server on")
        host = f"[{address[0]}]" if ":" in address[0] else address[0]  # IPv6: RFC 3986 §3.2.2
        url = f"http://{host}:{address[1]}{own_path}"
    else:
        try:
            url = check_url(url)
        except ValueError as error:
            raise UpstreamError("upstream_refused", f"{key}: {error}") from None
    return Upstream(
        url,
        connect_timeout_s=current_app.config["SHOWCASE_RELAY_CONNECT_TIMEOUT_S"],
        read_timeout_s=silence_s + current_app.config["SHOWCASE_RELAY_READ_TIMEOUT_S"],
    )


def relay_response(
    upstream: HopResponse | None,
    items: Iterable[Message | Pause],
    mode: Mode,
) -> Response:
    """Stream ``items`` (the Coze relay and its mock upstream). The source's generator closes
    its upstream when the body ends or is closed; the response's close does it too, for a body
    werkzeug wraps (a HEAD's, never iterated)."""
    heartbeat_s = current_app.config["SHOWCASE_HEARTBEAT_S"]
    ending = ending_for(mode.mimetype)
    if ending is not None:
        items = unless_stopping(items)
    body = iter_body(items, mode, heartbeat_s=heartbeat_s, wait=make_wait(), ending=ending)
    response = stream_response(body, mode.mimetype)
    if upstream is not None:
        response.call_on_close(upstream.close)
    return response


@bp.get("/upstream/mock")
def upstream_mock() -> Response:
    """A Coze-like upstream: the answer to ``q`` in deltas of a few characters, at irregular
    times ÷ ``speed``."""
    try:
        prompt = request.args.get("q", "")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise Refusal("q", f"at most {MAX_PROMPT_CHARS} characters")
        speed = parse_float(request.args, "speed", 1.0, MIN_SPEED, MAX_SPEED)
        assert speed is not None
    except Refusal as error:
        return refusal_response(error)
    chat = new_chat("mock", int(time.time()))
    return relay_response(
        None, iter_deltas("".join(answer_tokens(prompt)), speed=speed), coze_mode(chat)
    )


@bp.post("/v3/chat")
def coze_chat() -> Response:
    try:
        chat = parse_coze_request(parse_json_body(read_json_body()))
    except Refusal as error:
        return refusal_response(error, "coze")
    mode = coze_mode(new_chat(chat.model, int(time.time())))
    query = {"q": chat.prompt[:UPSTREAM_PROMPT_CHARS], "speed": repr(chat.speed)}
    hop = None
    try:
        hop = open_hop(configured_upstream("SHOWCASE_RELAY_COZE_URL", "/upstream/mock"), query, {})
        check_event_stream(hop)
    except UpstreamError as error:
        if hop is not None:
            hop.close()
        # Before the first byte: a status says it (502, 504), not a 200 with an error event.
        failure = Refusal("upstream", error.detail, status=error.status, error=error.reason)
        return refusal_response(failure, "coze")
    items = iter_typed(
        hop.iter_chunks(), speed=chat.speed, prompt_tokens=count_tokens(chat.prompt_chars)
    )
    return relay_response(hop, items, mode)


@bp.get("/relay/stream/sse")
def relay_sse() -> Response:
    """The stream contract's ``/stream/sse``, read from the configured upstream and forwarded
    event by event. ``Last-Event-ID`` goes upstream; a 204 or a 4xx comes back as it was; any
    other failure before the first byte is a 502 (504: a timeout) with a JSON body, and one
    after it ends the stream with ``event: error``."""
    try:
        params = parse_stream_params(request.args.to_dict())
        last_event_id = request.headers.get("Last-Event-ID")
        parse_last_event_id(last_event_id)
    except Refusal as error:
        return refusal_response(error)
    # Only the contract's parameters go upstream, rebuilt from their parsed values.
    query = {
        "count": str(params.count),
        "interval": decimal_text(params.interval_ms),
        "size": str(params.size),
        "source": params.source,
        "flush": params.flush,
    }
    if params.heartbeat_s is not None:
        query["heartbeat"] = decimal_text(params.heartbeat_s)
    headers = {"Last-Event-ID": last_event_id.strip()} if last_event_id else {}
    hop = None
    try:
        upstream = configured_upstream(
            "SHOWCASE_RELAY_SSE_URL", "/stream/sse", asked_silence_s(params)
        )
        hop = open_hop(upstream, query, headers)
        if hop.status_code == 204 or 400 <= hop.status_code < 500:
            # Passed through: "nothing left" (EventSource stops), or the upstream's refusal.
            content_type = hop.headers.get("Content-Type", "application/json")
            data = hop.read_small()
            return Response(data or None, status=hop.status_code, content_type=content_type)
        check_event_stream(hop)
    except UpstreamError as error:
        if hop is not None:
            hop.close()
        # Before the first byte, as nginx answers: an EventSource stops at a 502 or a 504,
        # where a 200 ending with an error event would make it reconnect for ever.
        failure = Refusal("upstream", error.detail, status=error.status, error=error.reason)
        return refusal_response(failure)
    body = iter_relayed(hop.iter_chunks(), stopping=server_stopping, ending=restart_notice)
    response = stream_response(body, SSE_MIMETYPE)
    # A HEAD's body is never iterated: its response's close resets the upstream then.
    response.call_on_close(hop.close)
    return response


def asked_silence_s(params: StreamParams) -> float:
    """The longest silence a ``/stream/sse`` upstream may keep when asked for ``params``: a
    source's longest pause (the ``text`` source waits up to 8 intervals after a line end),
    cut to the heartbeat when one is asked (the upstream writes one after that much
    silence). Without one, the upstream's own heartbeat may cut it sooner: it is unknown."""
    longest_pause_s = params.interval_ms * max(PAUSE_FACTORS.values()) / 1000.0
    if params.heartbeat_s is None:
        return longest_pause_s
    return min(longest_pause_s, params.heartbeat_s)


def server_stopping() -> bool:
    return STREAMS.stopping
