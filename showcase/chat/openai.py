"""The OpenAI Chat Completions shapes of an answer: ``chat.completion.chunk`` SSE events
ending in ``data: [DONE]``, the whole ``chat.completion`` object, the model list and the
error object. Pure: no Flask, no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from showcase.pure.framing.ndjson import encode_json
from showcase.pure.framing.sse import SSE_MIMETYPE, encode_comment, encode_event
from showcase.pure.message import Message
from showcase.pure.modes import Mode

DONE = encode_event("[DONE]")


@dataclass(frozen=True, slots=True)
class Completion:
    """What every chunk of one answer repeats: ``id``, ``created`` (Unix s), ``model``."""

    id: str
    created: int
    model: str
    include_usage: bool = False


def new_completion(model: str, created: int, *, include_usage: bool = False) -> Completion:
    return Completion(f"chatcmpl-{secrets.token_hex(12)}", created, model, include_usage)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chunk(
    completion: Completion,
    delta: dict[str, str],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; with include_usage every chunk carries ``usage: null``
    until the last, as OpenAI's do."""
    body: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if completion.include_usage:
        body["usage"] = None
    return body


def encode_completion_chunk(body: dict[str, Any]) -> bytes:
    return encode_event(encode_json(body))


def openai_mode(completion: Completion) -> Mode:
    """The SSE stream of one answer: the role delta first (the preamble), a content delta
    per token Message, and for the end Message the ``finish_reason`` chunk, the usage chunk
    (``choices: []``, only with include_usage) and ``data: [DONE]``. An error Message
    becomes ``{"error": {...}}`` then ``[DONE]``, the way OpenAI reports a failure mid-stream."""
    # The token chunk is built by splicing: one JSON encode of the token, not of the chunk.
    head, _, tail = encode_json(chunk(completion, {"content": "\0"})).partition('"\\u0000"')

    def encode(message: Message) -> bytes:
        if message.event == "token":
            return b"data: " + (head + encode_json(message.text) + tail).encode() + b"\n\n"
        if message.event == "end":
            data = message.data
            parts = [encode_completion_chunk(chunk(completion, {}, data["finish_reason"]))]
            if completion.include_usage:
                body = chunk(completion, {})
                body["choices"] = []
                body["usage"] = usage(data["prompt_tokens"], data["completion_tokens"])
                parts.append(encode_completion_chunk(body))
            return b"".join([*parts, DONE])
        error = error_body(message.data["detail"], code=message.data["reason"], kind="server_error")
        return encode_completion_chunk(error) + DONE

    return Mode(
        name="openai",
        mimetype=SSE_MIMETYPE,
        encode=encode,
        preamble=encode_completion_chunk(chunk(completion, {"role": "assistant", "content": ""})),
        heartbeat=encode_comment("heartbeat"),
    )


def build_completion(
    completion: Completion,
    tokens: Iterable[str],
    finish_reason: str,
    prompt_tokens: int,
) -> dict[str, Any]:
    """The ``chat.completion`` object of a request with ``"stream": false``."""
    tokens = list(tokens)
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(tokens), "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage(prompt_tokens, len(tokens)),
    }


def model_list(models: Iterable[str], created: int) -> dict[str, Any]:
    """``GET /v1/models``."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "showcase"}
            for name in models
        ],
    }


def error_body(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
