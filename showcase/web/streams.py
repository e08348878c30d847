"""``GET /stream/<mode>`` (the stream contract of docs/contract.md) and ``GET /healthz``."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Response, current_app, jsonify, request

from showcase.pure.bodies import iter_body
from showcase.pure.compression import choose_encoding, compress_chunks
from showcase.pure.modes import MODES
from showcase.pure.params import StreamParams, parse_last_event_id, parse_stream_params
from showcase.pure.refusal import Refusal
from showcase.pure.sources import make_source
from showcase.runtime.lifecycle import make_wait, restart_notice
from showcase.web.answers import count_answers
from showcase.web.hub import count_rooms
from showcase.web.refusals import refusal_response
from showcase.web.responses import STREAM_HEADERS, health, stream_response

bp = Blueprint("streams", __name__)

# The mode streams are read across origins: the page opened through a proxy also reads the
# app's own port, and the other way round (docs/contract.md).
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
# Built once per ``accel`` value: a request copies one dict, as it did before these options.
HEADERS_BY_ACCEL = {
    "send": {**STREAM_HEADERS, **CORS_HEADERS},
    "omit": {
        **{name: value for name, value in STREAM_HEADERS.items() if name != "X-Accel-Buffering"},
        **CORS_HEADERS,
    },
}


def stream(mode: str) -> Response:
    try:
        if mode not in MODES:
            raise Refusal("mode", f"must be one of {', '.join(MODES)}, got {mode[:40]!r}")
        framing = MODES[mode]
        # Plain dict and environ lookups: werkzeug's MultiDict.get and headers.get build a
        # BadRequestKeyError for every absent key, and most requests leave most keys out.
        params = parse_stream_params(request.args.to_dict())
        start = (
            parse_last_event_id(request.environ.get("HTTP_LAST_EVENT_ID"))
            if framing.resumable
            else 0
        )
    except Refusal as error:
        response = refusal_response(error)
        response.headers.update(CORS_HEADERS)
        return response
    if start >= params.count:
        # Nothing left: 204 is what tells EventSource to stop reconnecting (WHATWG §9.2.3).
        return Response(status=204, headers=CORS_HEADERS)
    items = make_source(params.source, params.count, params.interval_ms, params.size, start=start)
    heartbeat_s = params.heartbeat_s or current_app.config["SHOWCASE_HEARTBEAT_S"]
    body: Iterable[bytes] = iter_body(
        items,
        framing,
        flush=params.flush,
        heartbeat_s=heartbeat_s,
        wait=make_wait(),
        ending=restart_notice if framing.resumable else None,
    )
    headers = HEADERS_BY_ACCEL[params.accel]
    if params.compress != "none":
        body, headers = compressed(body, headers, params)
    return stream_response(body, framing.mimetype, headers=headers)


def compressed(
    body: Iterable[bytes], headers: dict[str, str], params: StreamParams
) -> tuple[Iterable[bytes], dict[str, str]]:
    """The body and headers for ``compress=naive|sync``: the coding the request accepts (none:
    identity), and ``Vary: Accept-Encoding`` either way, so a cache keeps them apart."""
    headers = {**headers, "Vary": "Accept-Encoding"}
    encoding = choose_encoding(request.environ.get("HTTP_ACCEPT_ENCODING"))
    if encoding is None:
        return body, headers
    headers["Content-Encoding"] = encoding
    return compress_chunks(body, encoding, sync=params.compress == "sync"), headers


# One static rule per mode: a dictionary lookup where ``/stream/<mode>`` costs a regex match
# per request (a connect storm is thousands of requests a second). The dynamic rule stays for
# the rest, which get the contract's 400 naming the field.
for _mode in MODES:
    bp.add_url_rule(f"/stream/{_mode}", view_func=stream, defaults={"mode": _mode}, methods=["GET"])
bp.add_url_rule("/stream/<mode>", view_func=stream, methods=["GET"])


@bp.get("/healthz")
def healthz() -> Response:
    app = current_app
    return jsonify({**health(), "rooms": count_rooms(app), "answers": count_answers(app)})
