"""Hostile upstreams fed to both relays: ``/relay/stream/sse`` (the hop) and ``/v3/chat`` (the
Coze typewriter) read a scripted upstream that splits its answer anywhere, sends huge fields,
NULs, invalid UTF-8, endless lines, bad status lines and headers, 204s, or closes early.

An upstream that fails before the relay's first byte is a gateway error (502, or 504 for a
stall); once the relay streams, the stream ends cleanly, last with ``event: error`` when the
upstream failed; a hop passes an upstream's 204 or 4xx on as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given

from showcase.tools.launcher import RunningServer
from tests.fuzz.conftest import FUZZ, start_fuzz_server, watch
from tests.fuzz.exchange import Answer, exchange
from tests.fuzz.invariants import CONTRACT, COZE, Target, check_answer, check_status
from tests.fuzz.upstream import HostileUpstream, Script, coze_request, scripts, tick

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

READ_TIMEOUT_S = "0.5"  # the relays' read timeout here: a stall ends an example quickly
READ_S = 8.0  # far past every timeout involved: a relay still streaming then hangs
GATEWAY = {502, 504}


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    hostile = HostileUpstream()
    yield hostile
    hostile.close()


@pytest.fixture(scope="module")
def relay_server(
    upstream: HostileUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("fuzz-relay")
    running = start_fuzz_server(
        root / "gunicorn.log",
        root / "data",
        {
            "SHOWCASE_RELAY_SSE_URL": f"{upstream.url}/stream/sse",
            "SHOWCASE_RELAY_COZE_URL": f"{upstream.url}/upstream/mock",
            "SHOWCASE_RELAY_READ_TIMEOUT_S": READ_TIMEOUT_S,
            "SHOWCASE_RELAY_CONNECT_TIMEOUT_S": "1",
        },
    )
    yield running
    running.stop()


GOOD_HOP = Script(
    (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%b"
        % (len(tick(0)), tick(0)),
    ),
    0.0,
    "close",
    "stream",
)


@pytest.fixture(scope="module")
def target(relay_server: RunningServer, upstream: HostileUpstream) -> Iterator[Target]:
    def warm_up(url: str) -> None:
        upstream.script = GOOD_HOP
        exchange(url, "GET", "/relay/stream/sse?count=3&interval=0")
        exchange(url, "POST", "/v3/chat", [("Content-Type", "application/json")], post_body())
        upstream.wait_idle()

    yield from watch(relay_server, warm_up)


def post_body() -> bytes:
    return json.dumps(coze_request()).encode()


def check_relayed(answer: Answer, script: Script, shape: str, stream: str) -> None:
    """The relay's answer as the script's verdict allows (module docstring)."""
    assert not answer.truncated, "the relay was still answering after every timeout"
    if script.verdict == "stream":
        # A relay may wait for the upstream's first event before it chooses its status.
        check_answer(answer, {200} | GATEWAY, shape, stream)
    elif script.verdict == "refuse":
        check_answer(answer, GATEWAY, shape, stream)
    elif script.verdict == "pass":
        check_status(answer, {script.status})  # the upstream's own body, passed on
    else:
        check_status(answer, {200, script.status} | GATEWAY)
        if answer.status in {200} | GATEWAY:
            check_answer(answer, {200} | GATEWAY, shape, stream)


def play(target: Target, upstream: HostileUpstream, script: Script, coze: bool) -> None:
    upstream.script = script
    with target.example():
        if coze:
            answer = exchange(
                target.url,
                "POST",
                "/v3/chat",
                [("Content-Type", "application/json")],
                post_body(),
                read_s=READ_S,
            )
            check_relayed(answer, script, COZE, "coze")
        else:
            answer = exchange(
                target.url, "GET", "/relay/stream/sse?count=3&interval=0", read_s=READ_S
            )
            check_relayed(answer, script, CONTRACT, "relay")
        upstream.wait_idle()


@given(script=scripts(coze=False, failing=False))
@FUZZ
def test_sse_relay_survives_hostile_upstream_stream(
    target: Target, upstream: HostileUpstream, script: Script
) -> None:
    play(target, upstream, script, coze=False)


@given(script=scripts(coze=False, failing=True))
@FUZZ
def test_sse_relay_answers_upstream_failing_before_first_byte_with_gateway_error(
    target: Target, upstream: HostileUpstream, script: Script
) -> None:
    play(target, upstream, script, coze=False)


@given(script=scripts(coze=True, failing=False))
@FUZZ
def test_coze_relay_survives_hostile_upstream_stream(
    target: Target, upstream: HostileUpstream, script: Script
) -> None:
    play(target, upstream, script, coze=True)


@given(script=scripts(coze=True, failing=True))
@FUZZ
def test_coze_relay_answers_upstream_failing_before_first_byte_with_gateway_error(
    target: Target, upstream: HostileUpstream, script: Script
) -> None:
    play(target, upstream, script, coze=True)
