"""Resumable, cancellable answers (docs/answers.md): ``start_answer`` for the streamed chat
POSTs, ``GET /v1/chat/completions/<id>/stream`` and ``GET /api/chat/<id>`` (replay after a
position, then follow), ``POST /v1/chat/completions/<id>/cancel``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from showcase.answers.framing import completion_of, ndjson_answer_mode, openai_answer_mode
from showcase.answers.log import (
    AnswerMeta,
    AnswersFull,
    AnswerStore,
    AnswerStoreUnavailable,
    check_answer_id,
    parse_position,
    unknown_answer,
)
from showcase.answers.memory import MemoryAnswers
from showcase.answers.runner import start_generation
from showcase.answers.source import iter_followed
from showcase.pure.bodies import iter_body
from showcase.pure.message import Message, Pause
from showcase.pure.modes import Mode
from showcase.pure.refusal import Refusal
from showcase.runtime.alarm import new_alarm, stop_pause
from showcase.runtime.lifecycle import STREAMS, ending_for, make_wait
from showcase.web.refusals import refusal_response
from showcase.web.responses import STREAM_HEADERS, stream_response

bp = Blueprint("answers", __name__)

EXTENSION = "showcase.answers"


def answers_of(app: Flask) -> AnswerStore:
    """The app's answer store, made on first use (in the worker, after the fork): in this
    process, or on the Redis of ``SHOWCASE_BROKER``."""
    store: AnswerStore | None = app.extensions.get(EXTENSION)
    if store is None:
        config = app.config
        ttl_s = float(config["SHOWCASE_ANSWER_TTL_S"])
        max_running = int(config["SHOWCASE_ANSWER_MAX"])
        url = str(config["SHOWCASE_BROKER"])
        if url == "memory":
            store = MemoryAnswers(ttl_s=ttl_s, max_running=max_running)
        else:
            from showcase.answers.redis_answers import RedisAnswers

            store = RedisAnswers(url, ttl_s=ttl_s, max_running=max_running)
        app.extensions[EXTENSION] = store
    return store


def count_answers(app: Flask) -> int:
    """The answers this worker generates now (for /healthz); 0 before its store was made."""
    store: AnswerStore | None = app.extensions.get(EXTENSION)
    return store.count_running() if store is not None else 0


def server_stopping() -> bool:
    """This worker is stopping (SIGTERM): the answers it generates end."""
    return STREAMS.stopping


def unavailable_response(error: AnswerStoreUnavailable, shape: str) -> Response:
    refusal = Refusal(None, str(error)[:200], status=503, code="log_unavailable")
    return refusal_response(refusal, shape)


def answer_headers(answer_id: str) -> Mapping[str, str]:
    return {**STREAM_HEADERS, "X-Answer-Id": answer_id}


def start_answer(
    answer_id: str, meta: AnswerMeta, items: Iterator[Message | Pause], mode: Mode, shape: str
) -> Response:
    """Start generating ``items`` into a new log and stream it from the start in ``mode``;
    503 in ``shape`` before any byte past the worker's limit."""
    app = current_app
    store = answers_of(app)
    try:
        stop = store.create(answer_id, meta)
    except AnswersFull as error:
        return refusal_response(Refusal(None, str(error), status=503, code="answers_full"), shape)
    except AnswerStoreUnavailable as error:
        return unavailable_response(error, shape)
    orphan_s = float(app.config["SHOWCASE_ANSWER_ORPHAN_S"])
    pause = stop_pause(stop)
    start_generation(store, answer_id, items, stop, orphan_s, server_stopping, pause)
    return follow_response(store, answer_id, None, mode)


def follow_response(store: AnswerStore, answer_id: str, after: int | None, mode: Mode) -> Response:
    heartbeat_s = current_app.config["SHOWCASE_HEARTBEAT_S"]
    items = iter_followed(store, answer_id, after, heartbeat_s, new_alarm())
    ending = ending_for(mode.mimetype)
    body = iter_body(items, mode, heartbeat_s=heartbeat_s, wait=make_wait(), ending=ending)
    return stream_response(body, mode.mimetype, headers=answer_headers(answer_id))


def resume(answer_id: str, shape: str) -> Response:
    """An answer's items after the reader's position, then live: 204 when none is left."""
    store = answers_of(current_app)
    try:
        check_answer_id(answer_id)
        after = parse_position(request.args.get("after"), request.headers.get("Last-Event-ID"))
        found = store.peek(answer_id)
        if found is None:
            raise unknown_answer(answer_id)
    except Refusal as error:
        return refusal_response(error, shape)
    except AnswerStoreUnavailable as error:
        return unavailable_response(error, shape)
    meta, peek = found
    if peek.over and (after if after is not None else -1) >= peek.last_seq:
        return Response(status=204)
    if shape == "openai":
        mode = openai_answer_mode(completion_of(answer_id, meta), preamble=after is None)
    else:
        mode = ndjson_answer_mode(answer_id, meta.model)
    return follow_response(store, answer_id, after, mode)


@bp.get("/v1/chat/completions/<answer_id>/stream")
def completion_stream(answer_id: str) -> Response:
    return resume(answer_id, "openai")


@bp.get("/api/chat/<answer_id>")
def ndjson_stream(answer_id: str) -> Response:
    return resume(answer_id, "ndjson")


@bp.post("/v1/chat/completions/<answer_id>/cancel")
def cancel(answer_id: str) -> Response:
    store = answers_of(current_app)
    try:
        check_answer_id(answer_id)
        status = store.cancel(answer_id)
        if status is None:
            raise unknown_answer(answer_id)
    except Refusal as error:
        return refusal_response(error, "openai")
    except AnswerStoreUnavailable as error:
        return unavailable_response(error, "openai")
    return jsonify({"id": answer_id, "object": "chat.completion.cancellation", "status": status})
