"""Hostile JSON bodies on every JSON endpoint: a lone surrogate anywhere (value or key) and
nesting past the bound are a 400 in that API's error shape, naming the field, before any
stream byte or any publish."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from showcase.pure.json_body import MAX_DEPTH

Field = Callable[[dict[str, Any]], object]

# path, a good body, where the named field is in that API's error shape
ENDPOINTS: dict[str, tuple[str, dict[str, Any], Field]] = {
    "hub": (
        "/chat/send",
        {"room": "r", "user": "ann", "text": "hi"},
        lambda body: body["field"],
    ),
    "openai": (
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "interval": 0},
        lambda body: body["error"]["param"],
    ),
    "ndjson": (
        "/api/chat",
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": {}},
        lambda body: body["param"],
    ),
    "coze": (
        "/v3/chat",
        {
            "bot_id": "b",
            "user_id": "u",
            "stream": True,
            "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
        },
        lambda body: body["param"],
    ),
}
# the string fields of each body, by path: each gets a lone surrogate in turn
STRING_FIELDS = {
    "hub": ["text", "user", "room"],
    "openai": ["model", "messages.[0].content", "messages.[0].role"],
    "ndjson": ["model", "messages.[0].content"],
    "coze": ["bot_id", "user_id", "additional_messages.[0].content"],
}
WHOLE_BODY = {"hub": "body", "openai": None, "ndjson": None, "coze": None}
# A body the parser takes: the hub stores it, the chat APIs answer; the Coze relay, which the
# test client gives no server socket to reach its own upstream through, answers 502 after it.
ACCEPTED = {"hub": 202, "openai": 200, "ndjson": 200, "coze": 502}


def post(client: FlaskClient, api: str, raw: bytes) -> TestResponse:
    return client.post(ENDPOINTS[api][0], data=raw, content_type="application/json")


def with_value(body: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A deep copy of ``body`` with the field at ``path`` (``a.[0].b``) set to ``value``."""
    copy = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target: Any = copy
    for step in parents:
        target = target[int(step[1:-1])] if step.startswith("[") else target[step]
    target[last] = value
    return copy


def assert_refused(response: TestResponse, api: str, field: str | None) -> dict[str, Any]:
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert ENDPOINTS[api][2](body) == field
    return body


def assert_nothing_published(client: FlaskClient, api: str) -> None:
    if api == "hub":  # the first message accepted after the refusal has the first id
        response = client.post("/chat/send", json=ENDPOINTS["hub"][1])
        assert response.status_code == 202
        assert response.get_json() == {"id": "1"}


CASES = [(api, field) for api, fields in STRING_FIELDS.items() for field in fields]


@pytest.mark.parametrize(("api", "field"), CASES)
def test_lone_surrogate_in_a_field_is_400_naming_it(
    client: FlaskClient, api: str, field: str
) -> None:
    body = with_value(ENDPOINTS[api][1], field, "ok \ud800 then")
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as \ud800
    assert b"\\ud800" in raw
    error = assert_refused(post(client, api, raw), api, field)
    assert "surrogate" in json.dumps(error)
    assert_nothing_published(client, api)


@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_lone_surrogate_in_a_key_is_400_naming_it(client: FlaskClient, api: str) -> None:
    raw = json.dumps({**ENDPOINTS[api][1], "x\udfff": 1}).encode()
    assert_refused(post(client, api, raw), api, "x\\udfff")
    assert_nothing_published(client, api)


@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_a_paired_surrogate_escape_is_accepted(client: FlaskClient, api: str) -> None:
    path, good, _ = ENDPOINTS[api]
    field = STRING_FIELDS[api][0] if api == "hub" else "messages.[0].content"
    if api == "coze":
        field = "additional_messages.[0].content"
    raw = json.dumps(with_value(good, field, "party \U0001f389")).encode()
    assert b"\\ud83c\\udf89" in raw
    response = post(client, api, raw)
    assert response.status_code == ACCEPTED[api]
    response.close()


DEEP_BODIES = {
    "arrays": lambda good: b"[" * 5000,
    "objects": lambda good: b'{"a":' * 1000,  # within the hub's size limit
    "closed arrays": lambda good: b"[" * 2500 + b"]" * 2500,
    "inside a valid field": lambda good: json.dumps(
        {**good, "extra": json.loads("[" * 900 + "]" * 900)}
    ).encode(),
    "one past the bound": lambda good: json.dumps(
        {**good, "extra": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
    ).encode(),
}


@pytest.mark.parametrize("shape", list(DEEP_BODIES))
@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_deep_nesting_is_400_not_a_recursion_error(
    client: FlaskClient, api: str, shape: str
) -> None:
    raw = DEEP_BODIES[shape](ENDPOINTS[api][1])
    error = assert_refused(post(client, api, raw), api, WHOLE_BODY[api])
    assert f"more than {MAX_DEPTH} levels" in json.dumps(error)
    assert_nothing_published(client, api)


@pytest.mark.parametrize("api", list(ENDPOINTS))
def test_nesting_at_the_bound_is_accepted(client: FlaskClient, api: str) -> None:
    depth = MAX_DEPTH - 1  # the body itself is the first level
    good = ENDPOINTS[api][1]
    raw = json.dumps({**good, "extra": json.loads("[" * depth + "]" * depth)}).encode()
    response = post(client, api, raw)
    assert response.status_code == ACCEPTED[api]
    response.close()


def test_openai_error_codes_say_what_was_refused(client: FlaskClient) -> None:
    good = ENDPOINTS["openai"][1]
    surrogate = json.dumps({**good, "model": "\ud800"}).encode()
    assert post(client, "openai", surrogate).get_json()["error"]["code"] == "invalid_string"
    deep = post(client, "openai", b"[" * 5000).get_json()["error"]
    assert deep["code"] == "too_deep"
    assert deep["type"] == "invalid_request_error"
