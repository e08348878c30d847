"""The hub's HTTP API in-process: validation, the token, the streams' first events and close."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from showcase.hub.broker import BrokerUnavailable
from showcase.hub.room import Subscription
from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.pure.settings import SettingError
from showcase.web import create_app
from showcase.web.hub import EXTENSION


@pytest.fixture
def hub_app(app: Flask) -> Flask:
    app.config["SHOWCASE_HEARTBEAT_S"] = 0.05
    return app


@pytest.fixture
def hub(hub_app: Flask) -> FlaskClient:
    return hub_app.test_client()


def send(
    client: FlaskClient, room: str = "r", user: str = "ann", text: str = "hi", **kw: Any
) -> TestResponse:
    return client.post("/chat/send", json={"room": room, "user": user, "text": text}, **kw)


def read_events(body: Iterator[bytes], wanted: int) -> list[ServerSentEvent]:
    parser, events = SSEParser(), []
    for chunk in body:
        events += parser.feed(chunk)
        if len([e for e in events if e.event != "presence"]) >= wanted:
            break
    return events


def test_send_answers_202_with_increasing_ids(hub: FlaskClient) -> None:
    first, second = send(hub), send(hub, text="again")
    assert first.status_code == 202 and second.status_code == 202
    assert first.get_json() == {"id": "1"} and second.get_json() == {"id": "2"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"room": "bad room", "user": "u", "text": "t"}, "room"),
        ({"room": "r" * 65, "user": "u", "text": "t"}, "room"),
        ({"room": "r", "user": "<script>", "text": "t"}, "user"),
        ({"room": "r", "user": "u", "text": ""}, "text"),
        ({"room": "r", "user": "u", "text": 5}, "text"),
        ({"room": "r", "user": "u"}, "text"),
        ([1, 2], "body"),
    ],
)
def test_bad_message_is_400_and_not_stored(
    hub: FlaskClient, hub_app: Flask, body: object, field: str
) -> None:
    response = hub.post("/chat/send", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert set(response.get_json()) == {"error", "field", "detail"}
    assert send(hub).get_json() == {"id": "1"}  # nothing was stored before


def test_malformed_json_is_400(hub: FlaskClient) -> None:
    response = hub.post("/chat/send", data=b'{"room": ', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_wrong_content_type_is_415(hub: FlaskClient) -> None:
    response = hub.post("/chat/send", data="room=r&user=u&text=t", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["field"] == "Content-Type"


def test_oversized_text_and_body_are_413(hub: FlaskClient, hub_app: Flask) -> None:
    hub_app.config["SHOWCASE_HUB_MAX_TEXT_BYTES"] = 100
    assert send(hub, text="é" * 50).status_code == 202  # 100 bytes of UTF-8
    response = send(hub, text="é" * 51)
    assert response.status_code == 413
    assert response.get_json()["field"] == "text"
    huge = json.dumps({"room": "r", "user": "u", "text": "x", "pad": "y" * 5000})
    response = hub.post("/chat/send", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["field"] == "body"


def test_token_required_when_configured(hub: FlaskClient, hub_app: Flask) -> None:
    hub_app.config["SHOWCASE_HUB_TOKEN"] = "s3cret"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        response = send(hub, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.get_json()["field"] == "Authorization"
    assert (
        hub_app.extensions.get(EXTENSION) is None
        or hub_app.extensions[EXTENSION].oldest_id("r") is None
    )  # nothing stored
    ok = send(hub, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 202 and ok.get_json() == {"id": "1"}
    assert hub.get("/chat/events?room=r", buffered=False).status_code == 200  # open to read


def test_events_needs_a_valid_room(hub: FlaskClient) -> None:
    for query in ("", "?room=", "?room=a%20b"):
        response = hub.get(f"/chat/events{query}")
        assert response.status_code == 400
        assert response.get_json()["field"] == "room"


def test_sse_replays_after_last_event_id_then_presence_and_heartbeat(hub: FlaskClient) -> None:
    for n in range(5):
        send(hub, text=f"m{n}")
    response = hub.get("/chat/events?room=r", headers={"Last-Event-ID": "2"}, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    body = iter(response.response)
    first = next(body)
    assert first.startswith(b"retry: ")  # with the replay: one write until the first wait
    events = read_events(chain([first], body), 3)
    presence, heartbeat = next(body), next(body)
    response.close()
    events += SSEParser().feed(presence)
    assert heartbeat == b": heartbeat\n\n"  # after 0.05 s of silence
    messages = [e for e in events if e.event == "message"]
    assert [(e.id, json.loads(e.data)["text"]) for e in messages] == [
        ("3", "m2"),
        ("4", "m3"),
        ("5", "m4"),
    ]
    assert [json.loads(e.data)["count"] for e in events if e.event == "presence"] == [1]


def test_sse_reset_names_the_oldest_id(hub: FlaskClient, hub_app: Flask) -> None:
    hub_app.config["SHOWCASE_HUB_LOG_COUNT"] = 2
    for n in range(5):
        send(hub, text=f"m{n}")
    response = hub.get("/chat/events?room=r", headers={"Last-Event-ID": "1"}, buffered=False)
    assert response.status_code == 200
    events = read_events(iter(response.response), 3)
    response.close()
    assert events[0].event == "reset"
    assert json.loads(events[0].data)["oldest"] == "4"
    assert [e.id for e in events if e.event == "message"] == ["4", "5"]


def test_closing_the_stream_leaves_the_room(hub: FlaskClient, hub_app: Flask) -> None:
    response = hub.get("/chat/events?room=r", buffered=False)
    body = iter(response.response)
    next(body)
    next(body)
    room = hub_app.extensions[EXTENSION]._rooms["r"][1]
    assert room.count == 1
    response.close()
    assert room.count == 0


def test_ndjson_stream_lines(hub: FlaskClient) -> None:
    response = hub.get("/chat/events.ndjson?room=r", headers={"Last-Event-ID": "0"}, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    body = iter(response.response)
    first = json.loads(next(body))
    assert first == {"event": "presence", "room": "r", "count": 1}  # no replay: cannot resume
    send(hub, text="<b>x</b>")
    lines = [line for line in next(body).split(b"\n") if line]
    response.close()
    assert [json.loads(line)["text"] for line in lines] == ["<b>x</b>"]


class DownBroker:
    """A broker whose backend cannot be reached."""

    def publish(self, room: str, user: str, text: str) -> str:
        raise BrokerUnavailable("redis: connection refused")

    def subscribe(self, room: str, last_event_id: str | None) -> Subscription:
        raise BrokerUnavailable("redis: connection refused")

    def oldest_id(self, room: str) -> str | None:
        raise BrokerUnavailable("redis: connection refused")

    def check_room(self, room: str) -> None:
        pass  # the cap is the worker's own count: no backend asked

    def count_rooms(self) -> int:
        return 0


def test_broker_down_publish_is_503_and_stream_ends_with_an_error_event(
    hub: FlaskClient, hub_app: Flask
) -> None:
    hub_app.extensions[EXTENSION] = DownBroker()
    response = send(hub)
    assert response.status_code == 503
    assert response.get_json() == {
        "error": "service unavailable",
        "field": "broker",
        "detail": "redis: connection refused",
    }
    stream = hub.get("/chat/events?room=r")
    assert stream.status_code == 200
    events = SSEParser().feed(stream.get_data())
    assert [(e.event, json.loads(e.data)) for e in events] == [
        ("error", {"reason": "redis: connection refused"})
    ]


def test_unknown_broker_setting_is_refused_when_the_app_is_made() -> None:
    with pytest.raises(SettingError, match="SHOWCASE_BROKER"):
        create_app({"SHOWCASE_BROKER": "postgres://x"})


def test_a_new_room_past_the_cap_is_503_before_any_byte(hub: FlaskClient, hub_app: Flask) -> None:
    hub_app.config["SHOWCASE_HUB_MAX_ROOMS"] = 2
    held = [hub.get(f"/chat/events?room=r{n}", buffered=False) for n in range(2)]
    for response in held:
        assert response.status_code == 200
        next(iter(response.response))  # joined
    for path in ("/chat/events?room=r2", "/chat/events.ndjson?room=r2"):
        refused = hub.get(path)
        assert refused.status_code == 503
        assert refused.mimetype == "application/json"
        assert refused.get_json() == {
            "error": "service unavailable",
            "field": "room",
            "detail": "this worker holds its limit of 2 rooms; try again later",
        }
    published = send(hub, room="r2")
    assert published.status_code == 503
    assert published.get_json()["field"] == "room"
    assert send(hub, room="r0").status_code == 202  # a room it holds takes messages
    held[1].close()
    assert send(hub, room="r2").status_code == 202  # a freed place is taken again
    held[0].close()


def test_healthz_counts_the_rooms_this_worker_holds(hub: FlaskClient) -> None:
    assert hub.get("/healthz").get_json()["rooms"] == 0
    response = hub.get("/chat/events?room=r", buffered=False)
    assert response.status_code == 200
    next(iter(response.response))
    health = hub.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["rooms"] == 1
    response.close()
    assert hub.get("/healthz").get_json()["rooms"] == 0
