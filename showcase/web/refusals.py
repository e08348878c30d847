"""Every refusal answered in one place: ``Refusal`` as the contract's JSON body, or as the
error object of the chat API the request was made to. Before the first byte of an answer,
so the status says it (an error inside a stream is its framing's last event instead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify

from showcase.chat.coze import ERROR_CODE as COZE_SERVER_ERROR
from showcase.chat.openai import error_body
from showcase.pure.refusal import Refusal

COZE_REQUEST_ERROR = 4000  # Coze's code for a request it refuses (4xx)


def contract_body(refusal: Refusal) -> dict[str, Any]:
    """``{"error", "field", "detail"}``: the stream contract's and the hub's shape."""
    return refusal.to_json()


def openai_body(refusal: Refusal) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``, as the official client reads it."""
    return error_body(refusal.detail, param=refusal.field, code=refusal.code)


def ndjson_chat_body(refusal: Refusal) -> dict[str, Any]:
    """``{"error": message}`` as local model servers answer, with the parameter beside it."""
    return {"error": refusal.detail, "param": refusal.field}


def coze_body(refusal: Refusal) -> dict[str, Any]:
    """``{"code", "msg"}``: a request refused carries its ``param``, a failed upstream its
    ``reason`` (``upstream_timeout``, …)."""
    if refusal.status < 500:
        return {"code": COZE_REQUEST_ERROR, "msg": refusal.detail, "param": refusal.field}
    return {"code": COZE_SERVER_ERROR, "msg": refusal.detail, "reason": refusal.error}


SHAPES: dict[str, Callable[[Refusal], dict[str, Any]]] = {
    "contract": contract_body,
    "openai": openai_body,
    "ndjson": ndjson_chat_body,
    "coze": coze_body,
}


def refusal_response(refusal: Refusal, shape: str = "contract") -> Response:
    """``refusal`` as a JSON answer with its status; a 401 says how to authenticate."""
    response = jsonify(SHAPES[shape](refusal))
    response.status_code = refusal.status
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
