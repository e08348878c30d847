"""``/ws*`` and ``/poll`` in Flask's test client: what is refused before any upgrade, and a
poll answered in-process (the live behaviour is in tests/integration)."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

HANDSHAKE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@pytest.mark.parametrize("path", ["/ws", "/ws/chat", "/ws/room?room=r"])
def test_plain_get_of_a_websocket_path_is_426(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 426
    assert response.get_json()["field"] == "Upgrade"


@pytest.mark.parametrize("headers", [{}, HANDSHAKE])
def test_bad_stream_parameters_are_400_with_or_without_a_handshake(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.get("/ws?count=0", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["field"] == "count"


def test_bad_room_is_400_before_the_upgrade(client: FlaskClient) -> None:
    response = client.get("/ws/room?room=a%20b", headers=HANDSHAKE)
    assert response.status_code == 400
    assert response.get_json()["field"] == "room"


def test_handshake_without_the_gunicorn_socket_is_501(client: FlaskClient) -> None:
    response = client.get("/ws?count=1", headers=HANDSHAKE)
    assert response.status_code == 501


def test_short_poll_answers_every_message_due(client: FlaskClient) -> None:
    start = time.time() * 1000.0 - 1000.0
    response = client.get(f"/poll?count=5&interval=100&wait=0&start={start}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert [m["seq"] for m in answer["messages"]] == [0, 1, 2, 3, 4]
    assert (answer["next"], answer["done"], answer["start"]) == (4, True, start)


def test_poll_bad_parameter_is_400(client: FlaskClient) -> None:
    response = client.get("/poll?wait=-1")
    assert response.status_code == 400
    assert response.get_json()["field"] == "wait"


def test_long_poll_waits_in_its_body_and_answers_the_next_message(client: FlaskClient) -> None:
    start = time.time() * 1000.0
    response = client.get(f"/poll?count=3&interval=50&after=0&start={start}&wait=5000")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert [m["seq"] for m in answer["messages"]] == [1]
    assert answer["messages"][0]["ts"] >= start + 50
