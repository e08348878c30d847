"""The WebSocket frames' JSON (showcase/pure/ws_frames.py) and the handshake wsproto is given."""

from __future__ import annotations

import json

import pytest

from showcase.pure.message import Message
from showcase.pure.ws_frames import (
    FrameRefused,
    ack_frame,
    decode_client_frame,
    delta_frame,
    done_frame,
    error_frame,
    event_frame,
    restart_reason,
)
from showcase.runtime.ws_session import HandshakeError, accept_handshake, handshake_request

HANDSHAKE = {
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_UPGRADE": "websocket",
    "HTTP_CONNECTION": "Upgrade",
    "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
    "HTTP_SEC_WEBSOCKET_VERSION": "13",
    "REQUEST_METHOD": "GET",
}


def test_client_frame_is_a_json_object_of_an_accepted_type() -> None:
    frame = decode_client_frame('{"type": "send", "user": "ann", "text": "hi"}', ("send",))
    assert frame == {"type": "send", "user": "ann", "text": "hi"}


@pytest.mark.parametrize(
    "data",
    [
        b'{"type": "send"}',
        "not json",
        "[1]",
        '{"type": "dance"}',
        '{"no": "type"}',
        '{"type": "send", "text": "\\ud800"}',
        "[" * 100 + "]" * 100,
    ],
)
def test_unusable_client_frames_are_refused(data: str | bytes) -> None:
    with pytest.raises(FrameRefused) as refused:
        decode_client_frame(data, ("send",))
    assert len(str(refused.value)) <= 100  # fits a close frame's reason


def test_server_frames_are_compact_json_objects_with_a_type() -> None:
    token = Message(3, 12.5, "token", {"seq": 3, "ts": 12.5, "token": " hi"}, text=" hi")
    assert json.loads(delta_frame(token)) == {
        "type": "delta",
        "seq": 3,
        "ts": 12.5,
        "content": " hi",
    }
    assert json.loads(done_frame("cancelled", 4, 2)) == {
        "type": "done",
        "finish_reason": "cancelled",
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }
    assert json.loads(ack_frame("17-0")) == {"type": "ack", "id": "17-0"}
    assert json.loads(error_frame(413, {"error": "request entity too large", "field": "text"})) == {
        "type": "error",
        "status": 413,
        "error": "request entity too large",
        "field": "text",
    }
    assert json.loads(event_frame("presence", {"room": "r", "count": 2})) == {
        "type": "presence",
        "room": "r",
        "count": 2,
    }
    assert " " not in ack_frame("1")


def test_restart_reason_fits_a_close_frame() -> None:
    reason = restart_reason(604_999)
    assert json.loads(reason) == {"retry_ms": 604_999}
    assert len(reason.encode()) <= 123  # RFC 6455 §5.5: control frame payload, minus the code


def test_handshake_request_carries_the_headers_gunicorn_parsed() -> None:
    data = handshake_request(HANDSHAKE)
    assert data.startswith(b"GET / HTTP/1.1\r\n") and data.endswith(b"\r\n\r\n")
    assert b"SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n" in data
    assert b"REQUEST-METHOD" not in data


def test_accept_answers_101_with_the_rfc_accept_token_and_no_extension() -> None:
    environ = {**HANDSHAKE, "HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"}
    data, _ = accept_handshake(environ)
    assert data.startswith(b"HTTP/1.1 101 ")
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in data  # RFC 6455 §1.3's example
    assert b"permessage-deflate" not in data.lower()


@pytest.mark.parametrize("missing", ["HTTP_SEC_WEBSOCKET_KEY", "HTTP_UPGRADE", "HTTP_HOST"])
def test_incomplete_handshake_is_refused(missing: str) -> None:
    environ = {key: value for key, value in HANDSHAKE.items() if key != missing}
    with pytest.raises(HandshakeError):
        accept_handshake(environ)
