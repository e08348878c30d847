"""``POST /v1/chat/completions`` and ``GET /v1/models`` (OpenAI-compatible), ``POST /api/chat``
(NDJSON chat): the answer typed token by token through ``bodies.iter_body``."""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from showcase.answers.framing import ndjson_answer_mode, openai_answer_mode
from showcase.answers.log import AnswerMeta
from showcase.chat.answer import MODEL, answer_tokens, count_tokens, end_message, iter_answer
from showcase.chat.ndjson import build_reply, ndjson_chat_mode
from showcase.chat.openai import (
    build_completion,
    model_list,
    new_completion,
    openai_mode,
)
from showcase.chat.request import (
    MAX_BODY_BYTES,
    ChatRequest,
    parse_json_body,
    parse_ndjson_request,
    parse_openai_request,
)
from showcase.pure.bodies import iter_body
from showcase.pure.message import Message, Pause
from showcase.pure.modes import Mode
from showcase.pure.refusal import Refusal
from showcase.runtime.lifecycle import ending_for, make_wait
from showcase.web.answers import start_answer
from showcase.web.refusals import refusal_response
from showcase.web.responses import stream_response

bp = Blueprint("chat", __name__)

MODELS_CREATED = 1_767_225_600  # 2026-01-01: a fixed "created" for the model list


def read_json_body() -> bytes:
    """The request body, never more than ``MAX_BODY_BYTES + 1`` bytes of it read."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise Refusal(
            None,
            f"request body larger than {MAX_BODY_BYTES} bytes",
            code="request_too_large",
            status=413,
        )
    return request.stream.read(MAX_BODY_BYTES + 1)


def answer_items(chat: ChatRequest) -> Iterator[Message | Pause]:
    """The answer to ``chat``, paced at its interval or the server's."""
    interval = chat.interval_ms
    if interval is None:
        interval = current_app.config["SHOWCASE_CHAT_INTERVAL_MS"]
    return iter_answer(
        answer_tokens(chat.prompt),
        interval,
        max_tokens=chat.max_tokens,
        prompt_tokens=count_tokens(chat.prompt_chars),
    )


def logging_answers() -> bool:
    """``SHOWCASE_ANSWER_LOG``: streamed answers are generated apart and resumable."""
    return bool(current_app.config["SHOWCASE_ANSWER_LOG"] == "on")


def answer_meta(chat: ChatRequest, created: int, include_usage: bool) -> AnswerMeta:
    return AnswerMeta(
        model=chat.model,
        created=created,
        include_usage=include_usage,
        prompt_tokens=count_tokens(chat.prompt_chars),
        started_ms=time.time() * 1000.0,
    )


def stream_answer(chat: ChatRequest, mode: Mode) -> Response:
    """The plain answer to ``chat`` in ``mode`` (``SHOWCASE_ANSWER_LOG=off``): no log, no ids."""
    items = answer_items(chat)
    heartbeat_s = current_app.config["SHOWCASE_HEARTBEAT_S"]
    ending = ending_for(mode.mimetype)
    body = iter_body(items, mode, heartbeat_s=heartbeat_s, wait=make_wait(), ending=ending)
    return stream_response(body, mode.mimetype)


def whole_answer(chat: ChatRequest) -> tuple[tuple[str, ...], str]:
    """The tokens a ``stream: false`` request gets at once, and the finish reason."""
    tokens = answer_tokens(chat.prompt)
    if chat.max_tokens is not None and chat.max_tokens < len(tokens):
        return tokens[: chat.max_tokens], "length"
    return tokens, "stop"


@bp.post("/v1/chat/completions")
def completions() -> Response:
    try:
        chat = parse_openai_request(parse_json_body(read_json_body()))
    except Refusal as error:
        return refusal_response(error, "openai")
    completion = new_completion(chat.model, int(time.time()), include_usage=chat.include_usage)
    if chat.stream and logging_answers():
        meta = answer_meta(chat, completion.created, chat.include_usage)
        mode = openai_answer_mode(completion, preamble=True)
        return start_answer(completion.id, meta, answer_items(chat), mode, "openai")
    if chat.stream:
        return stream_answer(chat, openai_mode(completion))
    tokens, finish = whole_answer(chat)
    return jsonify(build_completion(completion, tokens, finish, count_tokens(chat.prompt_chars)))


@bp.get("/v1/models")
def models() -> Response:
    return jsonify(model_list([MODEL], MODELS_CREATED))


@bp.post("/api/chat")
def ndjson_chat() -> Response:
    try:
        chat = parse_ndjson_request(parse_json_body(read_json_body()))
    except Refusal as error:
        return refusal_response(error, "ndjson")
    if chat.stream and logging_answers():
        answer_id = new_completion(chat.model, 0).id
        meta = answer_meta(chat, int(time.time()), False)
        mode = ndjson_answer_mode(answer_id, chat.model)
        return start_answer(answer_id, meta, answer_items(chat), mode, "ndjson")
    if chat.stream:
        return stream_answer(chat, ndjson_chat_mode(chat.model))
    tokens, finish = whole_answer(chat)
    started = time.time() * 1000.0
    end = end_message(len(tokens), started, finish, count_tokens(chat.prompt_chars))
    return jsonify(build_reply(chat.model, tokens, end))
