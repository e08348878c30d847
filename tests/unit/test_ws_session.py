"""``WSSession`` on a gevent socket pair: a message's frame bytes, and the wait for the client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.timeout
import pytest
from gevent import socket as gsocket
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from showcase.runtime.ws_session import WSSession


@pytest.fixture
def pair() -> Iterator[tuple[WSSession, Any]]:
    """A session on one end of a socket pair; the other end is the client's."""
    server, client = gsocket.socketpair()
    session = WSSession(
        server, Connection(ConnectionType.SERVER), heartbeat_s=30.0, max_message_bytes=1024
    )
    yield session, client
    server.close()
    client.close()


def client_text_frame(text: str) -> bytes:
    """A masked text frame, as a client sends it."""
    return Connection(ConnectionType.CLIENT).send(TextMessage(data=text))


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_text_frame_is_one_unmasked_rfc6455_text_frame(
    pair: tuple[WSSession, Any], size: int
) -> None:
    session, client = pair
    text = "é" * (size // 2) + "x" * (size % 2)
    session.send_text(text)
    received = b""
    expected = len(text.encode()) + 2 + (2 if size >= 126 else 0) + (6 if size >= 65_536 else 0)
    while len(received) < expected:
        received += client.recv(expected - len(received))
    reader = Connection(ConnectionType.CLIENT)
    reader.receive_data(received)
    events = list(reader.events())
    assert [(type(e), e.data, e.message_finished) for e in events] == [(TextMessage, text, True)]
    assert received[1] & 0x80 == 0  # a server's frames are not masked


@pytest.mark.parametrize("seconds", [0.005, 0.05])
def test_wait_with_no_client_bytes_returns_nothing_without_a_timeout_object(
    pair: tuple[WSSession, Any], seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, _ = pair
    made: list[object] = []
    original = gevent.timeout.Timeout.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(gevent.timeout.Timeout, "__init__", counted)
    started = time.monotonic()
    assert session.receive(seconds) == []
    assert time.monotonic() - started >= seconds * 0.9
    assert made == []


def test_wait_ends_when_the_client_sends(pair: tuple[WSSession, Any]) -> None:
    session, client = pair
    gevent.spawn_later(0.02, client.sendall, client_text_frame("hi"))
    started = time.monotonic()
    assert session.receive(5.0) == ["hi"]
    assert time.monotonic() - started < 1.0
    assert session.receive(0.03) == []  # the wake that did not fire does not come back later
