"""The chat endpoints in-process: every malformed request gets its API's error shape and
status before any stream byte; the answers' shapes; no host is ever taken from a request."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from showcase.chat.request import MAX_BODY_BYTES
from showcase.pure.framing.sse import SSEParser
from showcase.pure.sources import passage_tokens

GOOD = {"model": "m", "messages": [{"role": "user", "content": "tell me"}]}


def events(body: bytes) -> list[Any]:
    parser = SSEParser()
    return parser.feed(body) + parser.close()


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "m"}).encode(), 400, "messages"),
        (json.dumps({"messages": GOOD["messages"]}).encode(), 400, "model"),
        (json.dumps({**GOOD, "messages": []}).encode(), 400, "messages"),
        (json.dumps({**GOOD, "messages": "hi"}).encode(), 400, "messages"),
        (
            json.dumps({**GOOD, "messages": [{"role": "wizard", "content": "x"}]}).encode(),
            400,
            "messages.[0].role",
        ),
        (
            json.dumps({**GOOD, "messages": [{"role": "user", "content": 5}]}).encode(),
            400,
            "messages.[0].content",
        ),
        (json.dumps({**GOOD, "stream": "yes"}).encode(), 400, "stream"),
        (json.dumps({**GOOD, "max_tokens": 0}).encode(), 400, "max_tokens"),
        (json.dumps({**GOOD, "max_tokens": True}).encode(), 400, "max_tokens"),
        (json.dumps({**GOOD, "interval": -1}).encode(), 400, "interval"),
        (json.dumps({**GOOD, "stream_options": []}).encode(), 400, "stream_options"),
        (b'{"model": "m", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}', 413, None),
    ],
)
def test_openai_bad_requests_get_openai_errors(
    client: FlaskClient, body: bytes, status: int, param: str | None
) -> None:
    response = client.post("/v1/chat/completions", data=body, content_type="application/json")
    assert response.status_code == status
    assert response.content_type == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_openai_stream_shape(client: FlaskClient) -> None:
    request = {**GOOD, "stream": True, "interval": 0, "stream_options": {"include_usage": True}}
    response = client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    received = events(response.get_data())
    assert received[-1].data == "[DONE]"
    chunks = [json.loads(event.data) for event in received[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-2]]
    assert content == list(passage_tokens())
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == len(passage_tokens())


def test_openai_non_stream_and_max_tokens(client: FlaskClient) -> None:
    response = client.post("/v1/chat/completions", json={**GOOD, "max_tokens": 5})
    assert response.status_code == 200
    body = response.get_json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "".join(passage_tokens()[:5])
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


def test_models_list(client: FlaskClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.get_json()
    assert body["object"] == "list"
    assert [model["object"] for model in body["data"]] == ["model"]


def test_ndjson_chat_streams_lines_then_done(client: FlaskClient) -> None:
    interval_ms = 20
    request = {**GOOD, "options": {"interval": interval_ms, "num_predict": 4}}
    started_ns = time.monotonic_ns()
    response = client.post("/api/chat", json=request)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data().splitlines()]
    elapsed_ns = time.monotonic_ns() - started_ns
    assert [line["done"] for line in lines] == [False] * 4 + [True]
    assert "".join(line["message"]["content"] for line in lines) == "".join(passage_tokens()[:4])
    assert lines[-1]["done_reason"] == "length"
    assert lines[-1]["eval_count"] == 4
    # In ns, as Ollama writes it: at least the three pauses between four tokens, at most
    # the time the whole request took here.
    total_ns = lines[-1]["total_duration"]
    assert 3 * interval_ms * 1_000_000 <= total_ns <= elapsed_ns
    assert lines[-1]["eval_duration"] == total_ns


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nope", 400),
        (json.dumps({"model": "m", "messages": [{"role": "robot", "content": "x"}]}).encode(), 400),
        (json.dumps({"model": "m", "messages": [], "options": 3}).encode(), 400),
        (b"x" * (MAX_BODY_BYTES + 1), 413),
    ],
)
def test_ndjson_chat_bad_requests(client: FlaskClient, body: bytes, status: int) -> None:
    response = client.post("/api/chat", data=body, content_type="application/json")
    assert response.status_code == status
    assert isinstance(response.get_json()["error"], str)


COZE = {
    "bot_id": "b",
    "user_id": "u",
    "stream": True,
    "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"bot_id": None}, "bot_id"),
        ({"user_id": 7}, "user_id"),
        ({"stream": False}, "stream"),
        ({"additional_messages": []}, "additional_messages"),
        (
            {"additional_messages": [{"role": "user", "content": "x", "content_type": "image"}]},
            "additional_messages.[0].content_type",
        ),
        (
            {"additional_messages": [{"role": "system", "content": "x"}]},
            "additional_messages.[0].role",
        ),
        ({"speed": 0}, "speed"),
    ],
)
def test_coze_bad_requests(client: FlaskClient, change: dict[str, Any], param: str) -> None:
    response = client.post("/v3/chat", json={**COZE, **change})
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 4000
    assert body["param"] == param


def test_coze_relay_without_a_server_socket_says_why(client: FlaskClient) -> None:
    """The test client has no socket to reach "self" on: a 502 before any stream byte."""
    response = client.post("/v3/chat", json=COZE)
    assert response.status_code == 502
    assert response.get_json()["reason"] == "upstream_refused"


def test_upstream_mock_streams_deltas_then_done(client: FlaskClient) -> None:
    response = client.get("/upstream/mock?q=hello&speed=1000")
    assert response.status_code == 200
    received = events(response.get_data())
    deltas = [json.loads(e.data)["content"] for e in received if e.event.endswith(".delta")]
    assert all(1 <= len(delta) <= 8 for delta in deltas)
    assert [e.event for e in received[-2:]] == ["conversation.message.completed", "done"]
    assert json.loads(received[-2].data)["content"] == "".join(deltas)


@pytest.mark.parametrize("query", ["speed=0", "speed=x", "q=" + "x" * 4001])
def test_upstream_mock_bad_query(client: FlaskClient, query: str) -> None:
    response = client.get(f"/upstream/mock?{query}")
    assert response.status_code == 400


def test_relay_validates_the_query_before_connecting(client: FlaskClient) -> None:
    response = client.get("/relay/stream/sse?count=0")
    assert response.status_code == 400
    assert response.get_json()["field"] == "count"
    response = client.get("/relay/stream/sse", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert response.get_json()["field"] == "Last-Event-ID"
