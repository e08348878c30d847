"""NDJSON encoder (exact bytes) and incremental parser, every input cut everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from showcase.pure.framing.ndjson import NDJSONError, NDJSONParser, encode_line


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"seq": 0, "ts": 1.5}, b'{"seq":0,"ts":1.5}\n'),
        ([1, "two", None, True], b'[1,"two",null,true]\n'),
        (None, b"null\n"),
        ("a\nb\rc", b'"a\\nb\\rc"\n'),
        ({"t": "é😀"}, '{"t":"é😀"}\n'.encode()),
        ("\u2028", '"\u2028"\n'.encode()),
    ],
)
def test_encode_line(obj: object, expected: bytes) -> None:
    assert encode_line(obj) == expected
    assert feed_all_splits(expected) == [obj]


def _parse(pieces: Iterable[bytes], **kwargs: int) -> list[Any]:
    parser = NDJSONParser(**kwargs)
    values: list[Any] = []
    for piece in pieces:
        values += parser.feed(piece)
    return values + parser.close()


def _splits(raw: bytes) -> Iterable[list[bytes]]:
    yield [raw]
    for cut in range(len(raw) + 1):
        yield [raw[:cut], raw[cut:]]
    yield [raw[i : i + 1] for i in range(len(raw))]


def feed_all_splits(raw: bytes, **kwargs: int) -> list[Any]:
    """Parse ``raw`` whole, cut in two at every offset, and byte by byte: all must agree."""
    results = [_parse(pieces, **kwargs) for pieces in _splits(raw)]
    assert all(result == results[0] for result in results)
    return results[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b'{"a":1}\n{"b":2}\n', [{"a": 1}, {"b": 2}]),
        (b'{"a":1}\r\n{"b":2}\r\n', [{"a": 1}, {"b": 2}]),
        (b"\n\n  \n\t\r\n1\n \n2\n\n", [1, 2]),
        (b"1\n2", [1, 2]),
        (b"1\n2\r", [1, 2]),
        (b' {"a" : [1, 2]} \n', [{"a": [1, 2]}]),
        ('"é€😀"\n"\u2028"\n'.encode(), ["é€😀", "\u2028"]),
        (b'0\nfalse\n""\n', [0, False, ""]),
    ],
)
def test_parse(raw: bytes, expected: list[Any]) -> None:
    assert feed_all_splits(raw) == expected


def test_round_trip() -> None:
    objs: list[Any] = [{"seq": i, "text": "a\nb\r\n\u2028" * i} for i in range(5)] + [[], {}]
    assert feed_all_splits(b"".join(map(encode_line, objs))) == objs


def _error_line(pieces: Iterable[bytes], **kwargs: int) -> NDJSONError:
    with pytest.raises(NDJSONError) as info:
        _parse(pieces, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"nope\n", 1),
        (b'{"a":1}\n\nnope\n{"b":2}\n', 3),
        (b"1\r\n\r\n2\r\n{\r\n", 4),
        (b"1\n2\n[1,", 3),  # the last line, without LF, fails in close()
        (b"1\n\xff\xfe\n", 2),
        (b'1\n"\xe2\x82"\n', 2),
        (b"1 2\n", 1),
        (b"\xef\xbb\xbf1\n", 1),
    ],
)
def test_error_names_line(raw: bytes, line: int) -> None:
    for pieces in _splits(raw):
        err = _error_line(pieces)
        assert err.line == line
        assert f"line {line}" in str(err)
        assert isinstance(err, ValueError)


def test_error_message_carries_json_reason() -> None:
    err = _error_line([b"1\n{oops}\n"])
    assert "line 2" in str(err)
    assert "invalid JSON" in str(err)
    assert "Expecting property name" in str(err)
    assert isinstance(err.__cause__, ValueError)


def test_error_message_carries_utf8_reason() -> None:
    assert "invalid UTF-8" in str(_error_line([b"\xff\n"]))


def test_line_limit() -> None:
    ok = b'"' + b"x" * 8 + b'"\n'  # 10 bytes before the LF
    assert feed_all_splits(ok * 3, max_line_bytes=10) == ["x" * 8] * 3
    too_long = b'"' + b"x" * 9 + b'"\n'
    for pieces in _splits(ok + too_long):
        err = _error_line(pieces, max_line_bytes=10)
        assert err.line == 2
        assert "longer than 10 bytes" in str(err)


def test_line_limit_before_newline_arrives() -> None:
    parser = NDJSONParser(max_line_bytes=10)
    assert parser.feed(b"1\n12345") == [1]
    with pytest.raises(NDJSONError) as info:
        parser.feed(b"678901")
    assert info.value.line == 2


def test_close_resets() -> None:
    parser = NDJSONParser()
    assert parser.feed(b"1\n2") == [1]
    assert parser.close() == [2]
    assert parser.close() == []
    with pytest.raises(NDJSONError) as info:  # line numbers start again
        parser.feed(b"bad\n")
    assert info.value.line == 1
