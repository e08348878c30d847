"""SSE encoder (exact bytes) and parser (WHATWG HTML §9.2.6), every input cut everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from showcase.pure.framing.sse import (
    MAX_RETRY_DIGITS,
    ServerSentEvent,
    SSEError,
    SSEParser,
    encode_comment,
    encode_event,
)

E = ServerSentEvent

# --- encoder -------------------------------------------------------------------------------

ENCODE_CASES: list[tuple[dict[str, Any], bytes]] = [
    ({"data": "hi"}, b"data: hi\n\n"),
    ({"data": ""}, b"data: \n\n"),
    ({"data": " lead"}, b"data:  lead\n\n"),
    ({"data": "a\nb"}, b"data: a\ndata: b\n\n"),
    ({"data": "a\rb"}, b"data: a\ndata: b\n\n"),
    ({"data": "a\r\nb"}, b"data: a\ndata: b\n\n"),
    ({"data": "a\r\n\rb\n"}, b"data: a\ndata: \ndata: b\ndata: \n\n"),
    ({"data": "\n"}, b"data: \ndata: \n\n"),
    # Only CR, LF and CRLF end a line: these pass through verbatim (str.splitlines bug).
    (
        {"data": "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei"},
        "data: a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei\n\n".encode(),
    ),
    ({"data": "é€😀"}, "data: é€😀\n\n".encode()),
    ({"id": "0"}, b"id: 0\n\n"),
    ({"id": ""}, b"id: \n\n"),
    ({"data": "x", "id": "0"}, b"id: 0\ndata: x\n\n"),
    ({"event": ""}, b"event: \n\n"),
    ({"retry": 0}, b"retry: 0\n\n"),
    ({"retry": 3000}, b"retry: 3000\n\n"),
    ({"comment": ""}, b":\n\n"),
    ({"comment": "a\nb\r\nc"}, b": a\n: b\n: c\n\n"),
    (
        {"data": "d", "event": "e", "id": "1", "retry": 5, "comment": "c"},
        b": c\nevent: e\nid: 1\nretry: 5\ndata: d\n\n",
    ),
    (
        {"data": "x\n\nevent: evil\ndata: y"},
        b"data: x\ndata: \ndata: event: evil\ndata: data: y\n\n",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), ENCODE_CASES)
def test_encode_event(kwargs: dict[str, Any], expected: bytes) -> None:
    assert encode_event(**kwargs) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"event": "a\nb"},
        {"event": "a\rb"},
        {"id": "1\n"},
        {"id": "1\r"},
        {"id": "a\0b"},
        {"retry": -1},
        {"retry": True},
        {"retry": 1.5},
        {"retry": "10"},
    ],
)
def test_encode_event_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        encode_event(**kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", b":\n\n"), ("ping", b": ping\n\n"), ("a\r\nb\rc", b": a\n: b\n: c\n\n")],
)
def test_encode_comment(text: str, expected: bytes) -> None:
    assert encode_comment(text) == expected
    assert _parse([expected]) == ([], "", None)


# --- parser: cut every input at every offset -------------------------------------------------

Result = tuple[list[ServerSentEvent], str, int | None]


def _parse(pieces: Iterable[bytes], **kwargs: int) -> Result:
    parser = SSEParser(**kwargs)
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.close()
    return events, parser.last_event_id, parser.retry


def feed_all_splits(raw: bytes, **kwargs: int) -> Result:
    """Parse ``raw`` whole, cut in two at every offset, and byte by byte: all must agree."""
    whole = _parse([raw], **kwargs)
    for cut in range(len(raw) + 1):
        assert _parse([raw[:cut], raw[cut:]], **kwargs) == whole, f"cut at {cut}"
    assert _parse([raw[i : i + 1] for i in range(len(raw))], **kwargs) == whole
    return whole


def events_of(raw: bytes) -> list[ServerSentEvent]:
    return feed_all_splits(raw)[0]


PARSE_CASES: list[tuple[str, bytes, list[ServerSentEvent]]] = [
    ("one event", b"data: hi\n\n", [E(data="hi")]),
    ("LF ends lines", b"data: a\ndata: b\n\n", [E(data="a\nb")]),
    ("CRLF ends lines", b"data: a\r\ndata: b\r\n\r\n", [E(data="a\nb")]),
    ("CR ends lines", b"data: a\rdata: b\r\r", [E(data="a\nb")]),
    ("CR CR is two line ends", b"data: a\r\rdata: b\r\r", [E(data="a"), E(data="b")]),
    ("LF CRLF", b"data: a\n\r\ndata: b\r\n\n", [E(data="a"), E(data="b")]),
    (
        "only CR/LF end lines",
        "data: a\u2028b\x85c\x0bd\n\n".encode(),
        [E(data="a\u2028b\x85c\x0bd")],
    ),
    ("BOM stripped", b"\xef\xbb\xbfdata: a\n\n", [E(data="a")]),
    ("only one BOM stripped", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [E(data="b")]),
    ("BOM mid-stream kept", b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [E(data="a")]),
    ("BOM inside data kept", b"data: \xef\xbb\xbfa\n\n", [E(data="\ufeffa")]),
    ("comments ignored", b": hi\ndata: a\n:\n: x: y\n\n", [E(data="a")]),
    ("comment only, no event", b": ping\n\n", []),
    ("no space after colon", b"data:a\n\n", [E(data="a")]),
    ("one leading space removed", b"data:  a \n\n", [E(data=" a ")]),
    ("tab is not removed", b"data:\ta\n\n", [E(data="\ta")]),
    ("value after first colon", b"data: a:b: c\n\n", [E(data="a:b: c")]),
    ("no colon: empty value", b"data\n\n", [E(data="")]),
    ("field names case-sensitive", b"Data: x\nDATA: y\ndata: z\n\n", [E(data="z")]),
    ("unknown fields ignored", b"foo: bar\ndata: a\nbaz\n\n", [E(data="a")]),
    ("empty data line", b"data:\n\n", [E(data="")]),
    ("one trailing LF stripped", b"data: a\ndata:\n\n", [E(data="a\n")]),
    ("event type", b"event: add\ndata: 1\n\n", [E(event="add", data="1")]),
    ("empty event type", b"event:\ndata: 1\n\n", [E(data="1")]),
    ("event type reset", b"event: a\ndata: 1\n\ndata: 2\n\n", [E("a", "1"), E(data="2")]),
    ("no data: no dispatch", b"event: x\n\ndata: y\n\n", [E(data="y")]),
    ("blank lines alone", b"\n\n\r\n\r\r", []),
    ("id persists", b"id: 7\ndata: a\n\ndata: b\n\n", [E(data="a", id="7"), E(data="b", id="7")]),
    ("id 0", b"id: 0\ndata: a\n\n", [E(data="a", id="0")]),
    (
        "id with NUL ignored",
        b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
    ),
    ("empty id resets", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [E(data="a", id="1"), E(data="b")]),
    (
        "id: with no value resets",
        b"id: 1\ndata: a\n\nid:\ndata: b\n\n",
        [E("message", "a", "1"), E(data="b")],
    ),
    ("retry", b"retry: 1500\ndata: a\n\n", [E(data="a", retry=1500)]),
    ("retry persists", b"retry: 5\n\ndata: a\n\n", [E(data="a", retry=5)]),
    (
        "invalid retry ignored",
        (
            "retry: 9\nretry: 1a\nretry: -1\nretry:\nretry: 1.5\nretry:  10\nretry: ٣\ndata: a\n\n"
        ).encode(),
        [E(data="a", retry=9)],
    ),
    ("unicode", "data: é€😀\n\n".encode(), [E(data="é€😀")]),
    ("invalid UTF-8 replaced", b"data: a\xffb\n\n", [E(data="a\ufffdb")]),
    ("truncated UTF-8 replaced", b"data: \xe2\x82\n\n", [E(data="\ufffd")]),
    (
        "injection stays data",
        encode_event("x\n\nevent: evil\ndata: y"),
        [E(data="x\n\nevent: evil\ndata: y")],
    ),
    # WHATWG HTML §9.2.6 examples.
    ("spec: YHOO", b"data: YHOO\ndata: +2\ndata: 10\n\n", [E(data="YHOO\n+2\n10")]),
    ("spec: test twice", b"data:test\n\ndata: test\n\n", [E(data="test"), E(data="test")]),
    ("spec: last not dispatched", b"data\n\ndata\ndata\n\ndata:", [E(data=""), E(data="\n")]),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_parse(raw: bytes, expected: list[ServerSentEvent]) -> None:
    assert events_of(raw) == expected


def test_spec_example_ids() -> None:
    raw = (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n"
    )
    assert feed_all_splits(raw) == (
        [E(data="first event", id="1"), E(data="second event"), E(data=" third event")],
        "",
        None,
    )


def test_last_event_id_commits_at_dispatch_even_without_data() -> None:
    assert feed_all_splits(b"id: 5\n\n") == ([], "5", None)
    # An unterminated block does not commit its id.
    assert feed_all_splits(b"id: 5\n\nid: 6\n") == ([], "5", None)


def test_retry_applies_at_once() -> None:
    parser = SSEParser()
    assert parser.feed(b"retry: 250\n") == []
    assert parser.retry == 250


@pytest.mark.parametrize("digits", [MAX_RETRY_DIGITS + 1, 4_301, 100_000])
def test_retry_too_long_is_ignored_not_raised(digits: int) -> None:
    """Past MAX_RETRY_DIGITS digits a retry field is ignored (never int()'s ValueError, which
    Python raises past 4,300 digits), and the value in effect before it stays."""
    parser = SSEParser()
    stream = b"retry: 250\n" + b"retry: " + b"9" * digits + b"\ndata: a\n\n"
    assert parser.feed(stream) == [E(data="a", retry=250)]
    assert parser.retry == 250


def test_retry_leading_zeros_do_not_count_toward_the_limit() -> None:
    parser = SSEParser()
    assert parser.feed(b"retry: " + b"0" * 5_000 + b"1500\ndata: a\n\n") == [
        E(data="a", retry=1500)
    ]
    assert parser.feed(b"retry: " + b"0" * 5_000 + b"\ndata: b\n\n") == [E(data="b", retry=0)]


def test_crlf_split_across_feeds_is_one_line_end() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\ndata: b\r") == []
    assert parser.feed(b"\n\r") == [E(data="a\nb")]
    assert parser.feed(b"\n") == []


def test_close_drops_unterminated_event_and_allows_reuse() -> None:
    parser = SSEParser()
    assert parser.feed(b"retry: 10\nid: 3\ndata: a\n\nid: 4\ndata: b\n") == [
        E(data="a", id="3", retry=10)
    ]
    assert parser.close() == []
    assert parser.close() == []
    # A reconnected stream may start with its own BOM; id and retry carry over.
    assert parser.feed(b"\xef\xbb\xbfdata: c\n\n") == [E(data="c", id="3", retry=10)]
    assert (parser.last_event_id, parser.retry) == ("3", 10)


def test_close_on_partial_utf8_does_not_raise() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: \xe2\x82") == []
    assert parser.close() == []


@pytest.mark.parametrize("raw", [b"data: " + b"x" * 20, b"data: " + b"x" * 20 + b"\n\n"])
def test_line_limit(raw: bytes) -> None:
    with pytest.raises(SSEError, match="line longer than 16"):
        _parse([raw], max_line_chars=16)
    with pytest.raises(SSEError):
        _parse([raw[i : i + 1] for i in range(len(raw))], max_line_chars=16)


def test_line_limit_allows_many_short_lines() -> None:
    raw = b"data: abc\n\n" * 100
    assert feed_all_splits(raw[:110], max_line_chars=16)[0] == [E(data="abc")] * 10
    assert len(_parse([raw], max_line_chars=16)[0]) == 100


def test_event_limit() -> None:
    raw = b"data: 12345\n" * 5 + b"\n"
    assert _parse([raw], max_event_chars=30)[0] == [E(data="\n".join(["12345"] * 5))]
    with pytest.raises(SSEError, match="data longer than 29"):
        _parse([raw], max_event_chars=29)


# --- round trip ------------------------------------------------------------------------------

TRICKY = [
    "",
    "0",
    " ",
    "  two spaces",
    "plain",
    "a\nb",
    "a\r\nb\rc\n",
    "\n\n",
    "x\n\nevent: evil\ndata: y",
    "id: 1\nretry: 0",
    ": not a comment",
    "data: nested",
    "\u2028\u2029\x85\x0b\x0c\x1c",
    "\ufeffbom",
    "é€😀\0",
    '{"seq":0,"ts":1.5,"text":"a\\nb"}',
]


def test_round_trip() -> None:
    raw = b"".join(
        encode_event(data, event=f"e{i}", id=str(i), comment="c\nd")
        for i, data in enumerate(TRICKY)
    )
    expected = [
        E(f"e{i}", data.replace("\r\n", "\n").replace("\r", "\n"), str(i))
        for i, data in enumerate(TRICKY)
    ]
    events, last_id, _ = feed_all_splits(raw)
    assert events == expected
    assert last_id == str(len(TRICKY) - 1)


@pytest.mark.parametrize("data", TRICKY)
def test_round_trip_each(data: str) -> None:
    raw = encode_comment("hb") + encode_event(data, id="") + encode_comment()
    assert events_of(raw) == [E(data=data.replace("\r\n", "\n").replace("\r", "\n"))]
