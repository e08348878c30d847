"""Resumable answers through Flask's test client: refusals before any byte, the plain answer
when the log is off, and a closed body that stops counting as a reader."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from showcase.answers.memory import MemoryAnswers
from showcase.web import create_app
from showcase.web.answers import answers_of

USER = [{"role": "user", "content": "hi"}]


def client_with(tmp_path: Path, **config: object) -> FlaskClient:
    app = create_app({"SHOWCASE_DATA_DIR": str(tmp_path / "data"), "TESTING": True, **config})
    return app.test_client()


def test_an_answer_past_the_worker_limit_is_503_before_any_byte(tmp_path: Path) -> None:
    client = client_with(tmp_path, SHOWCASE_ANSWER_MAX=1)
    body = {"model": "m", "messages": USER, "stream": True, "interval": 1000}
    first = client.post("/v1/chat/completions", json=body)
    assert first.status_code == 200
    refused = client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 503
    assert refused.json is not None
    assert refused.json["error"]["code"] == "answers_full"
    assert "limit of 1 answers" in refused.json["error"]["message"]
    ndjson = client.post("/api/chat", json={"model": "m", "messages": USER})
    assert ndjson.status_code == 503
    assert ndjson.json is not None and "limit" in ndjson.json["error"]
    health = client.get("/healthz").json
    assert health is not None and health["answers"] == 1
    answer_id = first.headers["X-Answer-Id"]
    assert client.post(f"/v1/chat/completions/{answer_id}/cancel").status_code == 200
    first.close()


def test_with_the_log_off_the_answer_is_the_plain_one(tmp_path: Path) -> None:
    client = client_with(tmp_path, SHOWCASE_ANSWER_LOG="off")
    body = {"model": "m", "messages": USER, "stream": True, "interval": 0, "max_tokens": 2}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert "X-Answer-Id" not in response.headers
    text = response.get_data(as_text=True)
    assert "\nid: " not in text and not text.startswith("id:")
    assert text.endswith("data: [DONE]\n\n")
    assert text.count("chat.completion.chunk") == 1 + 2 + 1
    lines = client.post("/api/chat", json={**body, "options": {"interval": 0}}).get_data()
    assert b'"seq"' not in lines


def test_a_closed_body_no_longer_counts_as_a_reader(tmp_path: Path) -> None:
    client = client_with(tmp_path)
    body = {"model": "m", "messages": USER, "stream": True, "interval": 20}
    response = client.post("/v1/chat/completions", json=body, buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    next(chunks)  # the role chunk and the first token: the reader joined
    store = answers_of(client.application)
    assert isinstance(store, MemoryAnswers)
    answer = store._answers[response.headers["X-Answer-Id"]]
    assert answer.readers == 1
    response.close()
    assert answer.readers == 0
    store.cancel(answer.id)


def test_unknown_ids_and_bad_positions_are_refused(tmp_path: Path) -> None:
    client = client_with(tmp_path)
    unknown = client.get("/v1/chat/completions/chatcmpl-" + "0" * 24 + "/stream")
    assert unknown.status_code == 404
    assert unknown.json is not None and unknown.json["error"]["code"] == "answer_not_found"
    assert client.post("/v1/chat/completions/nope/cancel").status_code == 404
    assert client.get("/api/chat/nope").status_code == 404
    body = {"model": "m", "messages": USER, "stream": True, "interval": 0, "max_tokens": 1}
    answer_id = client.post("/v1/chat/completions", json=body).headers["X-Answer-Id"]
    bad = client.get(f"/v1/chat/completions/{answer_id}/stream", headers={"Last-Event-ID": "z"})
    assert bad.status_code == 400
    assert bad.json is not None and bad.json["error"]["param"] == "Last-Event-ID"
    over = client.get(f"/v1/chat/completions/{answer_id}/stream?after=1")
    assert over.status_code == 204
    assert over.get_data() == b""
