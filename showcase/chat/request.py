"""Chat requests of three APIs (OpenAI, NDJSON chat, Coze v3), validated before any byte.

Pure: no Flask, no I/O. Every refusal is a ``Refusal`` naming its parameter (``field``) with
an OpenAI-style ``code``, which the web layer answers in that API's error shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from showcase.pure.json_body import decode_json_object
from showcase.pure.refusal import Refusal

MAX_BODY_BYTES = 256 * 1024  # a chat request beyond this gets 413
MAX_MESSAGES = 256
MAX_NAME_CHARS = 200  # model, bot_id, user_id
MAX_TOKENS = 100_000
MAX_INTERVAL_MS = 5_000.0
MIN_SPEED, MAX_SPEED = 0.01, 1_000.0
OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
COZE_ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What every API asks of the answer: the prompt, its length, how much and how fast.

    ``interval_ms`` None: the server's default; ``max_tokens`` None: the whole answer.
    """

    model: str
    prompt: str  # the last user message: it picks the canned answer
    prompt_chars: int  # all messages' text, for the usage counts
    stream: bool
    max_tokens: int | None = None
    interval_ms: float | None = None
    include_usage: bool = False
    speed: float = 1.0  # Coze typewriter: every pause is divided by it
    user_id: str = ""


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or Refusal: 413 past ``MAX_BODY_BYTES``, 400 for what
    ``json_body.decode_json_object`` refuses (not JSON, nested past ``MAX_DEPTH``, not an
    object, a lone surrogate: ``field`` its path), with that refusal's code."""
    if len(raw) > MAX_BODY_BYTES:
        raise Refusal(
            None,
            f"request body larger than {MAX_BODY_BYTES} bytes",
            code="request_too_large",
            status=413,
        )
    return decode_json_object(raw)


def _string(body: Mapping[str, Any], name: str, *, required: bool, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise Refusal(
                name, f"Missing required parameter: '{name}'.", code="missing_required_parameter"
            )
        return default
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise Refusal(
            name,
            f"'{name}' must be a non-empty string of at most {MAX_NAME_CHARS} characters",
            code="invalid_type",
        )
    return value


def _bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Refusal(name, f"'{name}' must be a boolean", code="invalid_type")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    # bool is an int subclass: "max_tokens": true is not 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refusal(
            name, f"'{name}' must be an integer from {low} to {high}", code="invalid_value"
        )
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refusal(name, f"'{name}' must be a number", code="invalid_type")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise Refusal(name, f"'{name}' must be from {low:g} to {high:g}", code="invalid_value")
    return number


def _content_text(content: Any, param: str) -> str:
    """A message's text: a string, null, or OpenAI's list of ``{"type": "text", "text"}``."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise Refusal(
                    f"{param}[{index}]",
                    "only text content parts are supported",
                    code="invalid_type",
                )
            texts.append(part["text"])
        return "".join(texts)
    raise Refusal(param, "content must be a string or a list of text parts")


def _messages(raw: Any, name: str, roles: tuple[str, ...]) -> tuple[str, int]:
    """(last user text, total characters) of a message list, every item checked."""
    if raw is None:
        raise Refusal(
            name, f"Missing required parameter: '{name}'.", code="missing_required_parameter"
        )
    if not isinstance(raw, list) or not raw:
        raise Refusal(name, f"'{name}' must be a non-empty array", code="invalid_type")
    if len(raw) > MAX_MESSAGES:
        raise Refusal(name, f"'{name}' holds more than {MAX_MESSAGES} messages")
    prompt, total = "", 0
    for index, message in enumerate(raw):
        param = f"{name}.[{index}]"
        if not isinstance(message, dict):
            raise Refusal(param, "each message must be an object", code="invalid_type")
        role = message.get("role")
        if role not in roles:
            shown = json.dumps(role)[:40]
            raise Refusal(
                f"{param}.role",
                f"Invalid value: {shown}. Supported values are: {', '.join(roles)}.",
                code="invalid_value",
            )
        text = _content_text(message.get("content"), f"{param}.content")
        total += len(text)
        if role == "user":
            prompt = text
    return prompt, total


def parse_openai_request(body: Mapping[str, Any], default_stream: bool = False) -> ChatRequest:
    """``POST /v1/chat/completions``: model, messages, stream, stream_options, max_tokens
    (or max_completion_tokens) and our ``interval`` (ms per token). Unknown fields are ignored,
    as clients send many (temperature, top_p, ...)."""
    model = _string(body, "model", required=True)
    prompt, chars = _messages(body.get("messages"), "messages", OPENAI_ROLES)
    stream = _bool(body, "stream", default_stream)
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise Refusal("stream_options", "'stream_options' must be an object")
        include_usage = _bool(options, "include_usage", False)
    max_tokens = None
    for name in ("max_completion_tokens", "max_tokens"):
        if body.get(name) is not None:
            max_tokens = _int(body[name], name, 1, MAX_TOKENS)
    interval = body.get("interval")
    return ChatRequest(
        model=model,
        prompt=prompt,
        prompt_chars=chars,
        stream=stream,
        max_tokens=max_tokens,
        interval_ms=None if interval is None else _number(interval, "interval", 0, MAX_INTERVAL_MS),
        include_usage=include_usage,
    )


def parse_ndjson_request(body: Mapping[str, Any]) -> ChatRequest:
    """``POST /api/chat`` (the way local model servers take it): ``stream`` defaults to true;
    ``options.num_predict`` bounds the tokens; ``options.interval`` is ms per token."""
    options = body.get("options")
    if options is not None and not isinstance(options, dict):
        raise Refusal("options", "'options' must be an object")
    options = options or {}
    parsed = parse_openai_request(
        {key: value for key, value in body.items() if key in ("model", "messages", "stream")},
        default_stream=True,
    )
    max_tokens = options.get("num_predict")
    interval = options.get("interval")
    return ChatRequest(
        model=parsed.model,
        prompt=parsed.prompt,
        prompt_chars=parsed.prompt_chars,
        stream=parsed.stream,
        max_tokens=None
        if max_tokens is None
        else _int(max_tokens, "options.num_predict", 1, MAX_TOKENS),
        interval_ms=None
        if interval is None
        else _number(interval, "options.interval", 0, MAX_INTERVAL_MS),
    )


def parse_coze_request(body: Mapping[str, Any]) -> ChatRequest:
    """``POST /v3/chat``: bot_id, user_id, stream (must be true: this endpoint only streams),
    additional_messages of ``{role, content, content_type: "text"}``, and our ``speed``."""
    bot_id = _string(body, "bot_id", required=True)
    user_id = _string(body, "user_id", required=True)
    if not _bool(body, "stream", False):
        raise Refusal("stream", 'only "stream": true is supported here')
    raw = body.get("additional_messages")
    if isinstance(raw, list):
        for index, message in enumerate(raw):
            kind = message.get("content_type", "text") if isinstance(message, dict) else None
            if kind != "text":
                raise Refusal(
                    f"additional_messages.[{index}].content_type",
                    'only content_type "text" is supported',
                )
            if not isinstance(message.get("content"), str):
                raise Refusal(
                    f"additional_messages.[{index}].content",
                    "content must be a string",
                    code="invalid_type",
                )
    prompt, chars = _messages(raw, "additional_messages", COZE_ROLES)
    speed = body.get("speed")
    return ChatRequest(
        model=bot_id,
        prompt=prompt,
        prompt_chars=chars,
        stream=True,
        speed=1.0 if speed is None else _number(speed, "speed", MIN_SPEED, MAX_SPEED),
        user_id=user_id,
    )
