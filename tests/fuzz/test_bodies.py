"""Hostile JSON bodies on the four JSON endpoints (``POST /chat/send``,
``/v1/chat/completions``, ``/api/chat``, ``/v3/chat``): every type in every field, huge
numbers, deep nesting, strings with lone surrogates (sent as ``\\udXXX`` escapes) and NULs,
bodies around the size limits, wrong content types, invalid UTF-8."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.exchange import exchange
from tests.fuzz.invariants import (
    COZE,
    NDJSON_CHAT,
    OPENAI,
    Target,
    check_answer,
    read_sse,
)
from tests.fuzz.strategies import (
    deep_json,
    dumps,
    header_text,
    json_text,
    json_value,
    surrogate_text,
)

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

ABSENT = object()  # a field left out of the body
HUB_TEXT_BYTES = 4096  # SHOWCASE_HUB_MAX_TEXT_BYTES's default
HUB_BODY_BYTES = HUB_TEXT_BYTES + 1024  # the text and the JSON around it (showcase.web.hub)
CHAT_BODY_BYTES = 256 * 1024  # docs/chat.md: a bigger chat request gets 413
ROOM = re.compile(r"[A-Za-z0-9_-]{1,64}")
USER = re.compile(r"[A-Za-z0-9_.-]{1,32}")
JSON_TYPES = ("application/json", "application/json; charset=utf-8", "Application/JSON")
OTHER_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "")


@st.composite
def fields_of(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Every field with a value the API takes, then up to two of them replaced by any JSON
    value or left out: a request that is wrong in one place reaches the checks after it."""
    body = {name: draw(strategy, label=name) for name, strategy in fields.items()}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        hostile = st.one_of(json_value, json_text, st.just(ABSENT))
        body[name] = draw(hostile, label=f"{name} (hostile)")
    return body


def body_of(fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, **{k: v for k, v in fields.items() if v is not ABSENT}}


def has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def holds_lone_surrogate(value: Any) -> bool:
    """Some string or key anywhere in ``value`` holds a lone surrogate."""
    if isinstance(value, str):
        return has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or holds_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_lone_surrogate(item) for item in value)
    return False


def hub_statuses(content_type: str, raw: bytes, body: Any) -> set[int]:
    """What ``POST /chat/send`` answers (docs/hub.md), checked in the order the API does."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        return {415}
    if len(raw) > HUB_BODY_BYTES:
        return {413}
    if not isinstance(body, dict):
        return {400}
    if holds_lone_surrogate(body):  # any string or key of the body, refused at decoding
        return {400}
    for name, pattern in (("room", ROOM), ("user", USER)):
        value = body.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return {400}
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return {400}
    return {413} if len(text.encode()) > HUB_TEXT_BYTES else {202}


message_fields = fields_of(
    {
        "room": st.sampled_from(["lobby", "fuzz", "a" * 64]),
        "user": st.sampled_from(["ann", "b.o-b_1", "u" * 32]),
        "text": st.one_of(
            surrogate_text,
            json_text,
            st.integers(min_value=1, max_value=HUB_TEXT_BYTES + 2).map(lambda n: "x" * n),
            st.integers(min_value=1, max_value=1500).map(lambda n: "é" * n),
        ),
    }
)


@given(
    fields=message_fields,
    extra=st.dictionaries(json_text, json_value, max_size=2),
    content_type=st.one_of(st.sampled_from(JSON_TYPES), st.sampled_from(JSON_TYPES + OTHER_TYPES)),
    chunked=st.booleans(),
)
@FUZZ
def test_hub_send_answers_any_message(
    target: Target, fields: dict[str, Any], extra: dict[str, Any], content_type: str, chunked: bool
) -> None:
    body = body_of(fields, extra)
    raw = dumps(body)
    with target.example():
        answer = exchange(
            target.url,
            "POST",
            "/chat/send",
            [("Content-Type", content_type)],
            raw,
            chunked_body=chunked,
        )
        check_answer(answer, {202, 400, 413, 415}, "contract")
        expected = hub_statuses(content_type, raw, body)
        assert answer.status in expected, f"expected {expected}: {answer.body[:300]!r}"
        if answer.status == 202:
            check_delivered(target, body, json.loads(answer.body)["id"])


def check_delivered(target: Target, body: dict[str, Any], message_id: str) -> None:
    """A room's reader resuming just before the message gets it, text intact."""
    marker = f"id: {message_id}\n".encode()
    answer = exchange(
        target.url,
        "GET",
        f"/chat/events?room={body['room']}",
        [("Last-Event-ID", str(int(message_id) - 1))],
        read_s=2.0,
        enough=lambda data: marker in data and data.endswith(b"\n\n"),
    )
    check_answer(answer, {200}, "contract", "sse")
    events = [e for e in read_sse(answer.body, False) if e.id == message_id]
    assert events and json.loads(events[0].data)["text"] == body["text"], events


raw_body = st.one_of(
    st.binary(max_size=300),
    deep_json,
    st.builds(lambda depth: '{"room": "lobby", "user": "ann", "text": ' + depth + "}", deep_json),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'"text"',
            b"\xff\xfe{}",
            b'{"room": "lobby", "user": "ann", "text": "\xff\xfe"}',
            b'{"room": "lobby", "user": "ann", "text": "a\x00b"}',
            b'{"room": "lobby", "user": "ann", "text": "\\ud800"}',
            b'{"room": "lobby", "user": "ann", "text": "\xed\xa0\x80"}',
            b'{"room": "lobby", "user": "ann", "text": 1e999}',
            b'{"room": "lobby", "user": "ann", "text": "x"}' + b" " * 6000,
            '{"room": "lobby", "user": "ann", "text": "hi"}'.encode("utf-16"),
            b'{"room": "lobby", "user": "ann", "text": "hi", "room": "other"}',
        ]
    ),
).map(lambda body: body.encode() if isinstance(body, str) else body)


@given(
    raw=raw_body,
    content_type=st.one_of(st.sampled_from(JSON_TYPES + OTHER_TYPES), header_text),
)
@FUZZ
def test_hub_send_answers_any_bytes(target: Target, raw: bytes, content_type: str) -> None:
    with target.example():
        answer = exchange(target.url, "POST", "/chat/send", [("Content-Type", content_type)], raw)
        check_answer(answer, {202, 400, 413, 415}, "contract")


# The chat APIs: a body built field by field, each field good, hostile or absent.
def message(roles: tuple[str, ...]) -> st.SearchStrategy[Any]:
    content = st.one_of(
        st.sampled_from(["hi", "sse", "你好"]),
        json_text,
        st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": json_text}), max_size=2),
    )
    good = st.fixed_dictionaries(
        {"role": st.sampled_from(roles), "content": content},
        optional={"content_type": st.sampled_from(["text", "object_string"])},
    )
    return st.one_of(good, good, json_value)


def messages(roles: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.lists(message(roles), min_size=1, max_size=3)


small_int = st.integers(min_value=1, max_value=40)
chat_bodies = {
    "/v1/chat/completions": fields_of(
        {
            "model": st.sampled_from(["showcase-typist", "m"]),
            "messages": messages(("system", "user", "assistant")),
            "stream": st.booleans(),
            "max_tokens": small_int,
            "interval": st.sampled_from([0, 0, 0.5, 5000]),
            "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        }
    ),
    "/api/chat": fields_of(
        {
            "model": st.sampled_from(["m", "llama"]),
            "messages": messages(("user", "assistant")),
            "stream": st.booleans(),
            "options": st.fixed_dictionaries(
                {}, optional={"num_predict": small_int, "interval": st.sampled_from([0, 1])}
            ),
        }
    ),
    "/v3/chat": fields_of(
        {
            "bot_id": st.just("b"),
            "user_id": st.just("u"),
            "stream": st.just(True),
            "additional_messages": messages(("user", "assistant")),
            "speed": st.sampled_from([1000, 1000, 100, 0.01]),
        }
    ),
}
SHAPES = {"/v1/chat/completions": OPENAI, "/api/chat": NDJSON_CHAT, "/v3/chat": COZE}
STREAMS = {"/v1/chat/completions": "openai", "/api/chat": "ndjson-chat", "/v3/chat": "coze"}


def check_chat_answer(target: Target, path: str, raw: bytes, content_type: str) -> None:
    with target.example():
        answer = exchange(
            target.url, "POST", path, [("Content-Type", content_type)], raw, read_s=1.0
        )
        media = answer.headers.get("content-type", "")
        streamed = media.startswith(("text/event-stream", "application/x-ndjson"))
        check_answer(answer, {200, 400, 413}, SHAPES[path], STREAMS[path] if streamed else None)
        if answer.status == 200 and not streamed:
            assert isinstance(json.loads(answer.body), dict)


@pytest.mark.parametrize("path", sorted(chat_bodies))
@given(data=st.data(), extra=st.dictionaries(json_text, json_value, max_size=2))
@FUZZ
def test_chat_api_answers_any_fields(
    target: Target, path: str, data: st.DataObject, extra: dict[str, Any]
) -> None:
    body = body_of(data.draw(chat_bodies[path], label="fields"), extra)
    check_chat_answer(target, path, dumps(body), "application/json")


def spliced(prefix: str) -> st.SearchStrategy[bytes]:
    """A body whose field ``prefix`` leads into is deep JSON, raw bytes or a huge number."""
    hostile = st.one_of(
        deep_json.map(str.encode),
        st.sampled_from([b"1e999", b"-1e999", b"9" * 5000, b'"\\ud800"', b'"\xff"', b'"\x00"']),
    )
    return hostile.map(lambda value: prefix.encode() + value + b"}")


chat_raw = {
    "/v1/chat/completions": '{"model": "m", "messages": ',
    "/api/chat": '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": ',
    "/v3/chat": '{"bot_id": "b", "user_id": "u", "stream": true, "additional_messages": ',
}


@pytest.mark.parametrize("path", sorted(chat_raw))
@given(
    data=st.data(),
    content_type=st.one_of(st.sampled_from(JSON_TYPES + OTHER_TYPES), header_text),
)
@FUZZ
def test_chat_api_answers_any_bytes(
    target: Target, path: str, data: st.DataObject, content_type: str
) -> None:
    raw = data.draw(
        st.one_of(
            raw_body,
            spliced(chat_raw[path]),
            st.sampled_from([b" " * (CHAT_BODY_BYTES - 1) + b"{}", b" " * CHAT_BODY_BYTES + b"{}"]),
        ),
        label="body",
    )
    check_chat_answer(target, path, raw, content_type)
