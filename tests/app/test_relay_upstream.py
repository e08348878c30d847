"""The relays' configured upstream: "self" is the address that accepted the request, as it
is, and the SSE hop's read timeout is the silence it asked its upstream for plus the
configured margin."""

from __future__ import annotations

import pytest
from flask import Flask

from showcase.pure.params import parse_stream_params
from showcase.web.relay import asked_silence_s, configured_upstream


class FakeSocket:
    def __init__(self, address: tuple[object, ...]) -> None:
        self.address = address

    def getsockname(self) -> tuple[object, ...]:
        return self.address


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (("10.0.0.5", 8000), "http://10.0.0.5:8000/stream/sse"),
        (("127.0.0.2", 8001), "http://127.0.0.2:8001/stream/sse"),
        (("::1", 8002, 0, 0), "http://[::1]:8002/stream/sse"),
    ],
)
def test_self_is_the_accepted_sockets_address(
    app: Flask, address: tuple[object, ...], url: str
) -> None:
    environ = {"gunicorn.socket": FakeSocket(address)}
    with app.test_request_context("/", environ_base=environ):
        assert configured_upstream("SHOWCASE_RELAY_SSE_URL", "/stream/sse").url == url


@pytest.mark.parametrize(
    ("query", "silence_s"),
    [
        ({}, 0.8),  # 100 ms, and a text source waits up to 8 intervals
        ({"interval": "60000", "heartbeat": "60"}, 60.0),
        ({"interval": "100", "heartbeat": "300"}, 0.8),  # the pauses are shorter
        ({"interval": "60000"}, 480.0),  # no heartbeat asked: the upstream's is unknown
        ({"interval": "0", "heartbeat": "5"}, 0.0),
    ],
)
def test_asked_silence_is_the_longest_pause_cut_to_the_heartbeat(
    query: dict[str, str], silence_s: float
) -> None:
    assert asked_silence_s(parse_stream_params(query)) == pytest.approx(silence_s)


def test_read_timeout_is_the_silence_plus_the_setting(app: Flask) -> None:
    app.config["SHOWCASE_RELAY_READ_TIMEOUT_S"] = 45.0
    app.config["SHOWCASE_RELAY_SSE_URL"] = "http://127.0.0.1:9/stream/sse"
    with app.test_request_context("/"):
        upstream = configured_upstream("SHOWCASE_RELAY_SSE_URL", "/stream/sse", 60.0)
    assert upstream.read_timeout_s == 105.0
