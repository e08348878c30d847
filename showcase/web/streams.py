"""``GET /stream/<mode>`` (the stream contract of docs/contract.md) and ``GET /healthz``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from showcase.bodies import iter_body
from showcase.lifecycle import make_wait
from showcase.modes import MODES
from showcase.params import ParamError, parse_last_event_id, parse_stream_params
from showcase.sources import make_source
from showcase.web.responses import error_response, health, stream_response

bp = Blueprint("streams", __name__)


def stream(mode: str) -> Response:
    try:
        if mode not in MODES:
            raise ParamError("mode", f"must be one of {', '.join(MODES)}, got {mode[:40]!r}")
        framing = MODES[mode]
        # Plain dict and environ lookups: werkzeug's MultiDict.get and headers.get build a
        # BadRequestKeyError for every absent key, and most requests leave most keys out.
        params = parse_stream_params(request.args.to_dict())
        start = (
            parse_last_event_id(request.environ.get("HTTP_LAST_EVENT_ID"))
            if framing.resumable
            else 0
        )
    except ParamError as error:
        return error_response(error)
    if start >= params.count:
        # Nothing left: 204 is what tells EventSource to stop reconnecting (WHATWG §9.2.3).
        return Response(status=204)
    items = make_source(params.source, params.count, params.interval_ms, params.size, start=start)
    heartbeat_s = params.heartbeat_s or current_app.config["SHOWCASE_HEARTBEAT_S"]
    body = iter_body(items, framing, flush=params.flush, heartbeat_s=heartbeat_s, wait=make_wait())
    return stream_response(body, framing.mimetype)


# One static rule per mode: a dictionary lookup where ``/stream/<mode>`` costs a regex match
# per request (a connect storm is thousands of requests a second). The dynamic rule stays for
# the rest, which get the contract's 400 naming the field.
for _mode in MODES:
    bp.add_url_rule(f"/stream/{_mode}", view_func=stream, defaults={"mode": _mode}, methods=["GET"])
bp.add_url_rule("/stream/<mode>", view_func=stream, methods=["GET"])


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(health())
