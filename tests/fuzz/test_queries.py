"""Hostile query strings and paths on every GET endpoint: any text (surrogate-free unicode),
huge numbers, repeated parameters, bad percent-encoding, NULs. The answer is the stream or
the contract's 400/404, never a 500, and the worker keeps serving its other clients."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from showcase.pure.params import parse_stream_params
from showcase.pure.refusal import Refusal
from tests.fuzz.conftest import FUZZ, HEARTBEAT_S
from tests.fuzz.exchange import exchange
from tests.fuzz.invariants import CONTRACT, SETTLE_S, Target, check_answer
from tests.fuzz.strategies import any_text, encode, query_string

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

READ_S = 1.0  # a stream still going then is left (and must be let go by the server)
MAX_QUIET_S = 1.0  # streams that would write less often are not asked for: see quiet_s
STREAM_VALUES = {
    "count": st.sampled_from(["1", "2", "3", "50"]),
    "interval": st.sampled_from(["0", "0.5", "1", "10"]),
    "size": st.sampled_from(["0", "1", "1000", "1048576"]),
    "source": st.sampled_from(["ticks", "text"]),
    "flush": st.sampled_from(["auto", "each"]),
    "heartbeat": st.sampled_from(["0.05", "0.25", "1"]),
    "accel": st.sampled_from(["send", "omit"]),
    "compress": st.sampled_from(["none", "naive", "sync"]),
}
stream_query = query_string(STREAM_VALUES)
MAX_TARGET_CHARS = 4000  # gunicorn's request line limit is 4094 bytes: its own 400 past it


def quiet_s(query: str) -> float:
    """The longest silence of the stream the server will send for ``query`` (0 for a
    refusal): a reader that leaves is noticed only at the next write."""
    args: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        args.setdefault(key, value)
    try:
        params = parse_stream_params(args)
    except Refusal:
        return 0.0
    heartbeat_s = params.heartbeat_s or float(HEARTBEAT_S)
    return min(params.interval_ms / 1000.0, heartbeat_s)


def settle_for(query: str) -> float:
    quiet = quiet_s(query)
    assume(quiet <= MAX_QUIET_S)
    return SETTLE_S + 4 * quiet  # two writes at each of two hops (a relay reads a stream)


@given(mode=st.one_of(st.sampled_from(["sse", "ndjson", "chunked"]), any_text), query=stream_query)
@FUZZ
def test_stream_answers_hostile_query(target: Target, mode: str, query: str) -> None:
    path = f"/stream/{encode(mode)}?{query}"
    assume(len(path) <= MAX_TARGET_CHARS)
    with target.example(settle_for(query)):
        answer = exchange(target.url, "GET", path, read_s=READ_S, cap_bytes=1 << 20)
        statuses = {200, 400} if mode in ("sse", "ndjson", "chunked") else {400, 404}
        stream = {"sse": "sse", "ndjson": "ndjson"}.get(mode, "bytes")
        check_answer(answer, statuses, CONTRACT, stream)


@given(query=stream_query)
@FUZZ
def test_relay_answers_hostile_query(target: Target, query: str) -> None:
    path = f"/relay/stream/sse?{query}"
    assume(len(path) <= MAX_TARGET_CHARS)
    with target.example(settle_for(query)):
        answer = exchange(target.url, "GET", path, read_s=READ_S, cap_bytes=1 << 20)
        check_answer(answer, {200, 400}, CONTRACT, "relay")


@given(
    name=st.one_of(st.just("1MiB.bin"), any_text),
    query=query_string({"size": st.sampled_from(["0", "1", "65536", "17179869184"])}),
    generated=st.booleans(),
)
@FUZZ
def test_download_answers_hostile_name_and_query(
    target: Target, name: str, query: str, generated: bool
) -> None:
    # The big samples are made on first use: a gigabyte per run is not what this tests.
    assume(unquote(name).strip("/") not in ("64MiB.bin", "1GiB.bin"))
    path = f"/download/generated?{query}" if generated else f"/download/{encode(name)}?{query}"
    assume(len(path) <= MAX_TARGET_CHARS)
    with target.example():
        cap_bytes = 256 << 10 if generated else 2 << 20  # generated: up to 16 GiB
        answer = exchange(target.url, "GET", path, read_s=READ_S * 3, cap_bytes=cap_bytes)
        statuses = {200, 400} if generated else {200, 400, 404}
        check_answer(answer, statuses, CONTRACT, "bytes")
        if answer.status == 200 and not generated:
            assert answer.complete and len(answer.body) == 1 << 20


@given(
    query=query_string({"room": st.sampled_from(["lobby", "fuzz-room", "a" * 64, "a" * 65])}),
    ndjson=st.booleans(),
)
@FUZZ
def test_hub_stream_answers_hostile_query(target: Target, query: str, ndjson: bool) -> None:
    path = f"/chat/events{'.ndjson' if ndjson else ''}?{query}"
    assume(len(path) <= MAX_TARGET_CHARS)
    with target.example():
        # A room's stream is live: read its first bytes, then leave.
        answer = exchange(target.url, "GET", path, read_s=0.3)
        check_answer(answer, {200, 400}, CONTRACT, "ndjson" if ndjson else "sse")


@given(
    path=st.one_of(
        st.just("/fuzz-poll"),  # unknown, like /poll before it exists
        st.builds(lambda t: "/nowhere/" + encode(t), any_text),
    ),
    query=query_string({"after": st.just("0"), "wait": st.just("0")}),
    method=st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT"]),
)
@FUZZ
def test_unknown_path_is_404(target: Target, path: str, query: str, method: str) -> None:
    full = f"{path}?{query}"
    assume(len(full) <= MAX_TARGET_CHARS)
    with target.example():
        answer = exchange(target.url, method, full, body=b"" if method in ("POST", "PUT") else None)
        if method == "HEAD":
            assert answer.status == 404
        else:
            check_answer(answer, {404}, CONTRACT)
