"""The chat APIs against the real gunicorn + gevent server, read by the official ``openai``
client, by raw HTTP (what curl sends) and by requests (NDJSON)."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.sources import passage_tokens
from tests.integration.wire import SOCKET_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
PASSAGE = "".join(passage_tokens())
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Tell me about streaming."},
]


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=30)


def test_openai_client_streams_the_whole_text(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="showcase-typist",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        extra_body={"interval": 1},
    )
    deltas, finishes, roles = [], [], []
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        choice = chunk.choices[0]
        roles.append(choice.delta.role)
        if choice.delta.content:
            deltas.append(choice.delta.content)
        finishes.append(choice.finish_reason)
    assert roles[0] == "assistant"
    assert deltas == list(passage_tokens())  # one content delta per token, in order
    assert finishes[-1] == "stop"
    assert finishes[:-1] == [None] * (len(finishes) - 1)


def test_stream_false_returns_the_same_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="showcase-typist",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=False,
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == PASSAGE
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(passage_tokens())


def test_include_usage_and_max_tokens(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="showcase-typist",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        max_tokens=7,
        stream_options={"include_usage": True},
        extra_body={"interval": 0},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(passage_tokens()[:7])
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 7
    assert last.usage.total_tokens == last.usage.prompt_tokens + 7


def test_models_listed_for_the_client(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["showcase-typist"]


def test_bad_request_raises_the_clients_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="m",
            messages=[{"role": "wizard", "content": "hi"}],  # type: ignore[list-item]
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "messages.[0].role"


def test_curl_like_post_gets_sse_ending_in_done(base_url: str) -> None:
    """What ``curl -N -d '{...}' /v1/chat/completions`` sees: chunked SSE, [DONE] last."""
    body = {"model": "m", "messages": MESSAGES, "stream": True, "interval": 0, "max_tokens": 3}
    response = requests.post(
        f"{base_url}/v1/chat/completions",
        data=json.dumps(body),  # curl -d sends form content type; the JSON is read anyway
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=SOCKET_TIMEOUT_S,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.text.endswith("data: [DONE]\n\n")
    assert response.text.count("chat.completion.chunk") == 1 + 3 + 1


def test_oversized_body_is_413_before_any_stream(base_url: str) -> None:
    response = requests.post(
        f"{base_url}/v1/chat/completions",
        data=b'{"pad": "' + b"x" * 300_000 + b'"}',
        timeout=SOCKET_TIMEOUT_S,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_ndjson_chat_ends_with_done(base_url: str) -> None:
    body = {"model": "m", "messages": MESSAGES, "options": {"interval": 1}}
    with requests.post(
        f"{base_url}/api/chat", json=body, stream=True, timeout=SOCKET_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        parser = NDJSONParser()
        lines = []
        for chunk in response.iter_content(chunk_size=None):
            lines += parser.feed(chunk)
        lines += parser.close()
    assert [line["done"] for line in lines] == [False] * len(passage_tokens()) + [True]
    assert "".join(line["message"]["content"] for line in lines) == PASSAGE
    assert lines[-1]["done_reason"] == "stop"
    assert lines[-1]["eval_count"] == len(passage_tokens())
    response = requests.post(
        f"{base_url}/api/chat", json={**body, "stream": False}, timeout=SOCKET_TIMEOUT_S
    )
    assert response.status_code == 200
    assert response.json()["message"]["content"] == PASSAGE
    assert response.json()["done"] is True


def test_openai_client_reads_the_answer_id_and_a_cancelled_chunk(
    client: openai.OpenAI, base_url: str
) -> None:
    """``chunk.id`` names the answer: a cancel of that id ends the client's stream with a
    ``finish_reason: "stop"`` chunk whose extra field ``cancelled`` is true, then [DONE]."""
    stream = client.chat.completions.create(
        model="showcase-typist",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        extra_body={"interval": 50},
    )
    chunks = [next(stream) for _ in range(3)]
    answer_id = chunks[0].id
    assert answer_id.startswith("chatcmpl-")
    cancelled = requests.post(
        f"{base_url}/v1/chat/completions/{answer_id}/cancel", timeout=SOCKET_TIMEOUT_S
    )
    assert cancelled.status_code == 200
    chunks += list(stream)
    assert {chunk.id for chunk in chunks} == {answer_id}
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.cancelled is True  # type: ignore[attr-defined]
    assert not getattr(chunks[-2], "cancelled", False)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "".join(passage_tokens()[: len(chunks) - 2])
