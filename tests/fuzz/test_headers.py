"""Hostile request headers: ``Last-Event-ID`` of every shape (any latin-1 text, long,
negative, padded, non-ASCII digits) on the resumable streams, ``Accept-Encoding`` on the
compressed streams, ``Range`` and ``If-Range`` on a download."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.exchange import exchange
from tests.fuzz.invariants import CONTRACT, Target, check_answer, read_sse
from tests.fuzz.strategies import header_number, header_text, huge_number, last_event_id

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

COUNT = 5
SEQ_TEXT = re.compile(r"[0-9]{1,32}")  # docs/contract.md: an id is a seq, ASCII digits
SAMPLE_BYTES = 1 << 20


def resume_at(header: str) -> int | None:
    """The seq a stream resumes at for this Last-Event-ID, as the contract says (gunicorn
    strips the value's spaces and tabs); None for an id that is not a seq (a 400)."""
    value = header.strip(" \t")
    if value == "":
        return 0
    return int(value) + 1 if SEQ_TEXT.fullmatch(value) else None


@given(header=last_event_id, relay=st.booleans())
@FUZZ
def test_resumable_stream_answers_any_last_event_id(
    target: Target, header: str, relay: bool
) -> None:
    path = "/relay/stream/sse" if relay else "/stream/sse"
    with target.example():
        answer = exchange(
            target.url,
            "GET",
            f"{path}?count={COUNT}&interval=0",
            [("Last-Event-ID", header)],
        )
        check_answer(answer, {200, 204, 400}, CONTRACT, "relay" if relay else "sse")
        start = resume_at(header)
        if start is None:
            assert answer.status == 400, f"a Last-Event-ID that is no seq was taken: {header!r}"
        elif start >= COUNT:
            assert answer.status == 204
        else:
            assert answer.status == 200
            events = read_sse(answer.body, answer.complete)
            assert [int(e.id) for e in events] == list(range(start, COUNT))


@given(header=last_event_id, ndjson=st.booleans())
@FUZZ
def test_hub_stream_answers_any_last_event_id(target: Target, header: str, ndjson: bool) -> None:
    path = "/chat/events.ndjson" if ndjson else "/chat/events"
    with target.example():
        answer = exchange(
            target.url, "GET", f"{path}?room=fuzz", [("Last-Event-ID", header)], read_s=0.3
        )
        check_answer(answer, {200, 400}, CONTRACT, "ndjson" if ndjson else "sse")


coding = st.sampled_from(["gzip", "deflate", "br", "identity", "*", "x-gzip", "GZIP", ""])
q_value = st.one_of(header_number, huge_number, st.sampled_from(["0", "1"]))
accept_encoding = st.one_of(
    header_text,
    st.lists(
        st.tuples(coding, st.one_of(st.none(), q_value)).map(
            lambda pair: pair[0] if pair[1] is None else f"{pair[0]};q={pair[1]}"
        ),
        max_size=5,
    ).map(", ".join),
)


@given(header=accept_encoding, compress=st.sampled_from(["naive", "sync"]))
@FUZZ
def test_compressed_stream_answers_any_accept_encoding(
    target: Target, header: str, compress: str
) -> None:
    with target.example():
        answer = exchange(
            target.url,
            "GET",
            f"/stream/sse?count={COUNT}&interval=0&compress={compress}",
            [("Accept-Encoding", header)],
        )
        check_answer(answer, {200}, CONTRACT, "sse")
        assert answer.headers.get("content-encoding") in (None, "gzip", "deflate")
        assert len(read_sse(answer.decoded(), answer.complete)) == COUNT


position = st.one_of(
    st.integers(min_value=0, max_value=SAMPLE_BYTES + 10).map(str),
    st.sampled_from(["", "-0", "+1", " 1", "0x10", "1e3", "１".encode().decode("latin-1")]),
    huge_number,
)
byte_range = st.tuples(position, position).map("-".join)
range_header = st.one_of(
    header_text,
    st.tuples(
        st.sampled_from(["bytes=", "bytes =", "BYTES=", "items=", "bytes=,", ""]),
        st.lists(byte_range, min_size=1, max_size=3).map(",".join),
    ).map("".join),
)


class Sample(bytes):
    """The sample's bytes, shown short: Hypothesis prints a failing example's arguments."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes of 1MiB.bin>"


@pytest.fixture(scope="module")
def sample(target: Target) -> Sample:
    answer = exchange(target.url, "GET", "/download/1MiB.bin", read_s=10)
    assert answer.status == 200 and len(answer.body) == SAMPLE_BYTES
    return Sample(answer.body)


@given(header=range_header, if_range=st.one_of(st.none(), header_text))
@FUZZ
def test_download_answers_any_range(
    target: Target, sample: Sample, header: str, if_range: str | None
) -> None:
    headers = [("Range", header)] + ([("If-Range", if_range)] if if_range is not None else [])
    with target.example():
        answer = exchange(target.url, "GET", "/download/1MiB.bin", headers, read_s=10)
        check_answer(answer, {200, 206, 416}, CONTRACT, "bytes")
        if answer.status == 200:
            assert answer.body == sample
        elif answer.status == 206:
            match = re.fullmatch(r"bytes (\d+)-(\d+)/1048576", answer.headers["content-range"])
            assert match, answer.headers
            start, end = int(match[1]), int(match[2])
            assert answer.complete and answer.body == sample[start : end + 1]
