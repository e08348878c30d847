"""Stream views through Flask's test client: headers, errors before any byte, lazy bodies."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSEParser
from showcase.web.responses import STREAMS, StreamResponse, stream_response
from showcase.web.streams import HEADERS_BY_ACCEL


@pytest.mark.parametrize(
    ("mode", "content_type"),
    [
        ("sse", "text/event-stream; charset=utf-8"),
        ("ndjson", "application/x-ndjson"),
        ("chunked", "text/plain; charset=utf-8"),
    ],
)
def test_headers_per_mode(client: FlaskClient, mode: str, content_type: str) -> None:
    response = client.get(f"/stream/{mode}?count=2&interval=0")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in response.headers
    assert response.get_data()


@pytest.mark.parametrize(
    ("status", "extra"),
    [
        (200, {}),
        (204, {}),
        (206, {}),
        (200, {"Content-Location": "/stream/sse?ü=1"}),  # werkzeug quotes it
        (200, {"Location": "/elsewhere"}),  # werkzeug makes it absolute
    ],
)
def test_stream_headers_go_out_as_werkzeug_would_send_them(
    status: int, extra: dict[str, str]
) -> None:
    """StreamResponse skips werkzeug's copy of the headers for a plain 200, and only then."""
    response = stream_response(iter([b"x"]), "text/event-stream; charset=utf-8", status=status)
    response.headers.update({**HEADERS_BY_ACCEL["omit"], **extra})
    environ = {"REQUEST_METHOD": "GET", "SERVER_NAME": "localhost", "SERVER_PORT": "80"}
    werkzeugs = super(StreamResponse, response).get_wsgi_headers(environ)
    assert response.get_wsgi_headers(environ).to_wsgi_list() == werkzeugs.to_wsgi_list()
    plain = status == 200 and not extra
    assert (response.get_wsgi_headers(environ) is response.headers) == plain


def test_sse_events_carry_id_event_and_json(client: FlaskClient) -> None:
    response = client.get("/stream/sse?count=3&interval=0&size=2")
    assert response.status_code == 200
    parser = SSEParser()
    events = parser.feed(response.get_data())
    assert [(e.id, e.event) for e in events] == [("0", "ticks"), ("1", "ticks"), ("2", "ticks")]
    assert [json.loads(e.data)["pad"] for e in events] == ["xx"] * 3
    assert parser.retry is not None


def test_text_source_over_ndjson(client: FlaskClient) -> None:
    response = client.get("/stream/ndjson?count=4&interval=0&source=text")
    assert response.status_code == 200
    tokens = [obj["token"] for obj in NDJSONParser().feed(response.get_data())]
    assert "".join(tokens) == "Streaming is the art"


def test_last_event_id_resumes_and_204_when_finished(client: FlaskClient) -> None:
    response = client.get("/stream/sse?count=5&interval=0", headers={"Last-Event-ID": "2"})
    assert response.status_code == 200
    assert [e.id for e in SSEParser().feed(response.get_data())] == ["3", "4"]
    done = client.get("/stream/sse?count=5&interval=0", headers={"Last-Event-ID": "4"})
    assert done.status_code == 204
    assert done.get_data() == b""


@pytest.mark.parametrize(
    ("url", "headers", "field"),
    [
        ("/stream/sse?count=abc", {}, "count"),
        ("/stream/ndjson?count=-1", {}, "count"),
        ("/stream/chunked?interval=99999999", {}, "interval"),
        ("/stream/sse?size=2000000", {}, "size"),
        ("/stream/sse?source=nope", {}, "source"),
        ("/stream/carrier-pigeon", {}, "mode"),
        ("/stream/sse", {"Last-Event-ID": "yesterday"}, "Last-Event-ID"),
    ],
)
def test_bad_input_is_a_json_400_before_any_stream(
    client: FlaskClient, url: str, headers: dict[str, str], field: str
) -> None:
    before = STREAMS.started
    response = client.get(url, headers=headers)
    assert response.status_code == 400
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["field"] == field and body["error"] and body["detail"]
    assert STREAMS.started == before  # no stream was begun


def test_body_is_lazy_and_close_runs_cleanup(client: FlaskClient) -> None:
    opened = STREAMS.open
    response = client.get("/stream/ndjson?count=1000000&interval=0", buffered=False)
    assert response.status_code == 200
    body = iter(response.response)
    first = next(body)
    assert first.startswith(b'{"seq":0,')
    assert STREAMS.open == opened + 1
    response.close()  # what gunicorn does when the client has gone
    assert STREAMS.open == opened


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body["open_streams"], int) and isinstance(body["pid"], int)


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not found"
