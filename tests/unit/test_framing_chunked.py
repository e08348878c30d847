"""Chunked transfer coding (RFC 9112 §7.1): exact bytes out, strict decoding, cut everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest

from showcase.pure.framing.chunked import (
    Chunk,
    ChunkedDecoder,
    ChunkedError,
    EndOfBody,
    encode_chunk,
    encode_last_chunk,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello", b"5\r\nhello\r\n"),
        (b"x" * 26, b"1A\r\n" + b"x" * 26 + b"\r\n"),
        (b"\r\n", b"2\r\n\r\n\r\n"),
        (b"x" * 4096, b"1000\r\n" + b"x" * 4096 + b"\r\n"),
    ],
)
def test_encode_chunk(data: bytes, expected: bytes) -> None:
    assert encode_chunk(data) == expected


def test_encode_chunk_refuses_empty() -> None:
    with pytest.raises(ValueError):
        encode_chunk(b"")


@pytest.mark.parametrize(
    ("trailers", "expected"),
    [
        ((), b"0\r\n\r\n"),
        (
            [("X-Sum", "12"), ("Server-Timing", "db;dur=5")],
            b"0\r\nX-Sum: 12\r\nServer-Timing: db;dur=5\r\n\r\n",
        ),
        ([("X", "")], b"0\r\nX: \r\n\r\n"),
    ],
)
def test_encode_last_chunk(trailers: list[tuple[str, str]], expected: bytes) -> None:
    assert encode_last_chunk(trailers) == expected
    assert decode_all_splits(expected) == ([], tuple((n, v.strip()) for n, v in trailers))


@pytest.mark.parametrize(
    "trailer",
    [
        ("", "v"),
        ("bad name", "v"),
        ("X:", "v"),
        ("X", "a\r\nY: b"),
        ("X", "\0"),
        ("X", "a\x7fb"),
        ("X", "\x1b[31m"),
    ],
)
def test_encode_last_chunk_refuses_injection(trailer: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        encode_last_chunk([trailer])


# --- decoder ---------------------------------------------------------------------------------

Decoded = tuple[list[tuple[bytes, bytes]], tuple[tuple[str, str], ...]]


def _decode(pieces: Iterable[bytes], **kwargs: int) -> Decoded:
    """Decode; regroup the Chunk pieces into (size_line, data) per wire chunk; check counters."""
    decoder = ChunkedDecoder(**kwargs)
    items: list[Chunk | EndOfBody] = []
    fed = 0
    for piece in pieces:
        items += decoder.feed(piece)
        fed += len(piece)
        assert decoder.wire_bytes == fed
    items += decoder.close()
    assert decoder.done
    *chunks, end = items
    assert isinstance(end, EndOfBody)
    grouped: list[tuple[bytes, bytes]] = []
    for chunk in chunks:
        assert isinstance(chunk, Chunk)
        assert chunk.data
        if chunk.size_line:
            grouped.append((chunk.size_line, chunk.data))
        else:
            size_line, data = grouped[-1]
            grouped[-1] = (size_line, data + chunk.data)
    assert decoder.payload_bytes == sum(len(data) for _, data in grouped)
    return grouped, end.trailers


def _splits(raw: bytes) -> Iterable[list[bytes]]:
    yield [raw]
    for cut in range(len(raw) + 1):
        yield [raw[:cut], raw[cut:]]
    yield [raw[i : i + 1] for i in range(len(raw))]


def decode_all_splits(raw: bytes, **kwargs: int) -> Decoded:
    """Decode ``raw`` whole, cut in two at every offset, and byte by byte: all must agree."""
    results = [_decode(pieces, **kwargs) for pieces in _splits(raw)]
    assert all(result == results[0] for result in results)
    return results[0]


@pytest.mark.parametrize(
    ("raw", "chunks", "trailers"),
    [
        (b"0\r\n\r\n", [], ()),
        (b"5\r\nhello\r\n0\r\n\r\n", [(b"5\r\n", b"hello")], ()),
        (
            b'5;name=val\r\nhello\r\n3 ; x ;y="q"\r\nabc\r\n0;last\r\n\r\n',
            [(b"5;name=val\r\n", b"hello"), (b'3 ; x ;y="q"\r\n', b"abc")],
            (),
        ),
        (
            b"a\r\n0123456789\r\n000A\r\n\r\n\r\n\r\n\r\n\r\n\r\n0\r\n\r\n",
            [(b"a\r\n", b"0123456789"), (b"000A\r\n", b"\r\n" * 5)],
            (),
        ),
        (
            b"3\r\nabc\r\n0\r\nX-Sum: 12 \r\nY:\t v\r\nEmpty:\r\n\r\n",
            [(b"3\r\n", b"abc")],
            (("X-Sum", "12"), ("Y", "v"), ("Empty", "")),
        ),
        (b"0\r\nLatin: caf\xe9\r\n\r\n", [], (("Latin", "café"),)),
    ],
)
def test_decode(
    raw: bytes, chunks: list[tuple[bytes, bytes]], trailers: tuple[tuple[str, str], ...]
) -> None:
    assert decode_all_splits(raw) == (chunks, trailers)


def test_round_trip() -> None:
    payloads = [b"tick 0 1.5\n", b"\r\n", b"\x00\xff" * 300, b"0\r\n\r\n"]
    raw = b"".join(map(encode_chunk, payloads)) + encode_last_chunk([("X-Count", "4")])
    chunks, trailers = decode_all_splits(raw)
    assert [data for _, data in chunks] == payloads
    assert trailers == (("X-Count", "4"),)


def test_size_line_only_on_first_piece() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5;x\r\nhe") == [Chunk(b"he", b"5;x\r\n")]
    assert decoder.feed(b"l") == [Chunk(b"l", b"")]
    assert decoder.feed(b"lo\r\n0\r\n\r\n") == [Chunk(b"lo", b""), EndOfBody(())]
    assert (decoder.done, decoder.wire_bytes, decoder.payload_bytes) == (True, 17, 5)
    assert decoder.close() == []


def test_largest_chunk_size_accepted() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"8000000000000000\r\nab") == [Chunk(b"ab", b"8000000000000000\r\n")]
    assert not decoder.done


@pytest.mark.parametrize(
    "size_line",
    [b"8000000000000001", b"FFFFFFFFFFFFFFFF", b"ffffffffffffffff;x", b"8000000000000001 ;x=y"],
)
def test_chunk_size_above_2_to_the_63_is_refused(size_line: bytes) -> None:
    """2**63 is the bound; one more, or the largest 16 hex digits, fails at the size line."""
    assert int(size_line.split(b";")[0], 16) > 1 << 63
    for pieces in _splits(size_line + b"\r\n"):
        decoder = ChunkedDecoder()
        with pytest.raises(ChunkedError, match="chunk-size too large"):
            for piece in pieces:
                decoder.feed(piece)


@pytest.mark.parametrize(
    "extensions",
    [
        b";a",
        b";a=b",
        b" ;a = b ; c",
        b'\t;\ta\t=\t"q"',
        b';name="a;b=c"',  # a ";" inside a quoted value is not a new extension
        b';n=""',
        b';n="sp and \\"escaped\\" \\\\"',
        b';n="caf\xe9"',  # obs-text
        b";!#$%&'*+.^_`|~-=v",
    ],
)
def test_chunk_extensions_of_the_grammar_are_accepted(extensions: bytes) -> None:
    raw = b"3" + extensions + b"\r\nabc\r\n0" + extensions + b"\r\n\r\n"
    assert decode_all_splits(raw) == ([(b"3" + extensions + b"\r\n", b"abc")], ())


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"5",
        b"5\r",
        b"5\r\nhel",
        b"5\r\nhello",
        b"5\r\nhello\r",
        b"5\r\nhello\r\n",
        b"0\r\n",
        b"0\r\n\r",
        b"0\r\nX: 1\r\n",
    ],
)
def test_close_refuses_truncated_body(raw: bytes) -> None:
    for pieces in _splits(raw):
        decoder = ChunkedDecoder()
        for piece in pieces:
            decoder.feed(piece)
        with pytest.raises(ChunkedError, match="truncated"):
            decoder.close()


BAD = [
    b"g\r\n",
    b"\r\n",
    b";ext\r\n",
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"-5\r\n",
    b"5_0\r\n",
    b" 5\r\nhello\r\n0\r\n\r\n",
    b"5 \r\nhello\r\n0\r\n\r\n",  # whitespace only before ";" (BWS)
    b"1" + b"0" * 16 + b"\r\n",  # 17 hex digits
    b"8000000000000001\r\n",  # > 2**63
    b"5\nhello\r\n0\r\n\r\n",  # bare LF
    b"5\r\r\nhello\r\n0\r\n\r\n",  # bare CR
    b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloXX0\r\n\r\n",  # data not followed by CRLF
    b"5\r\nhello\n0\r\n\r\n",
    b"5\r\nhello\rX",
    b"3\r\nhello\r\n0\r\n\r\n",  # size too small for the data
    b"0\r\n\n",
    b"0\r\nno colon\r\n\r\n",
    b"0\r\nX : 1\r\n\r\n",  # whitespace before the colon (RFC 9112 §5.1)
    b"0\r\n: 1\r\n\r\n",
    b"0\r\nA: 1\r\n  folded\r\n\r\n",  # obs-fold
    b"0\r\nA: 1\n\r\n",
    b"0\r\n\r\nX",  # data after the end of the body
    b"5\r\nhello\r\n0\r\n\r\n\r\n",
    # Chunk extensions outside RFC 9112 §7.1.1: unchecked quoting lets one parser see an
    # extension where the next sees data, the root of several smuggling bugs.
    b"5;\r\nhello\r\n0\r\n\r\n",  # no name
    b"5;=v\r\nhello\r\n0\r\n\r\n",
    b"5;a=\r\nhello\r\n0\r\n\r\n",  # "=" with no value
    b"5;a b\r\nhello\r\n0\r\n\r\n",  # whitespace inside a name
    b"5;a=b c\r\nhello\r\n0\r\n\r\n",
    b'5;a="unterminated\r\nhello\r\n0\r\n\r\n',
    b'5;a="x"y\r\nhello\r\n0\r\n\r\n',  # bytes after the closing quote
    b'5;a="x\\"\r\nhello\r\n0\r\n\r\n',  # the quote is escaped: unterminated
    b'5;a=x"y"\r\nhello\r\n0\r\n\r\n',  # a quote inside a token
    b'5;a="\x00"\r\nhello\r\n0\r\n\r\n',  # NUL inside quotes
    b'5;a="\x7f"\r\nhello\r\n0\r\n\r\n',  # DEL inside quotes
    b'5;a="\\\x00"\r\nhello\r\n0\r\n\r\n',  # a quoted-pair of NUL
    b"5;a\x00\r\nhello\r\n0\r\n\r\n",
    b"5;a=b;\r\nhello\r\n0\r\n\r\n",  # a trailing ";"
    b"5;;a\r\nhello\r\n0\r\n\r\n",
    b"5;a,b\r\nhello\r\n0\r\n\r\n",
    # Trailer values with NUL or other controls (RFC 9110 §5.5).
    b"0\r\nX: a\x00b\r\n\r\n",
    b"0\r\nX: \x00\r\n\r\n",
    b"0\r\nX: a\x7f\r\n\r\n",
    b"0\r\nX: \x1b[31m\r\n\r\n",
    b"0\r\nX: a\x0bb\r\n\r\n",
]


@pytest.mark.parametrize("raw", BAD)
def test_refuses(raw: bytes) -> None:
    for pieces in _splits(raw):
        decoder = ChunkedDecoder()
        with pytest.raises(ChunkedError):
            for piece in pieces:
                decoder.feed(piece)
            decoder.close()


def test_error_is_raised_early() -> None:
    """A bad byte fails the feed that brings it, not only close()."""
    with pytest.raises(ChunkedError, match="CRLF"):
        ChunkedDecoder().feed(b"5\r\nhelloX")
    with pytest.raises(ChunkedError, match="chunk-size"):
        ChunkedDecoder().feed(b"zz\r\n")


def test_feed_after_done_refuses_data() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"0\r\n\r\n") == [EndOfBody(())]
    assert decoder.feed(b"") == []
    with pytest.raises(ChunkedError, match="after the end"):
        decoder.feed(b"1")


def test_size_line_limit() -> None:
    line = b"5;" + b"x" * 1019 + b"\r\n"  # 1023 bytes
    assert decode_all_splits(line + b"hello\r\n0\r\n\r\n")[0] == [(line, b"hello")]
    too_long = b"5;" + b"x" * 1021 + b"\r\n"  # 1025 bytes
    for pieces in _splits(too_long):
        with pytest.raises(ChunkedError, match="longer than 1024"):
            decoder = ChunkedDecoder()
            for piece in pieces:
                decoder.feed(piece)
    # Refused before the line end arrives, so memory stays bounded.
    with pytest.raises(ChunkedError, match="longer than 1024"):
        ChunkedDecoder().feed(b"5;" + b"x" * 5000)


def test_trailer_section_limit() -> None:
    fields = b"A: 1234\r\n" * 3  # 27 bytes, plus the final CRLF: 29
    assert (
        decode_all_splits(b"0\r\n" + fields + b"\r\n", max_trailer_bytes=29)[1]
        == (("A", "1234"),) * 3
    )
    with pytest.raises(ChunkedError, match="trailer section longer than 28"):
        ChunkedDecoder(max_trailer_bytes=28).feed(b"0\r\n" + fields + b"\r\n")


class StateMachineOnly(ChunkedDecoder):
    """The decoder without its whole-chunk fast path: every byte through ``_step``."""

    def _whole_chunks(self, data: bytes, items: list[Chunk | EndOfBody]) -> int:
        return 0


@pytest.mark.parametrize(
    "reads",
    [
        [b"5\r\nhello\r\n"],  # a relay's usual read: one whole chunk
        [b"5\r\nhello\r\n3;x=1\r\nabc\r\n3\r\nxy", b"z\r\n0\r\nA: 1\r\n\r\n"],
        [b"2\r\nab\r\n0\r\n\r\n"],
        [b"3\r\nabc\r\n", b"", b"4\r\n", b"defg\r\n", b"1\r\nh\r\n0\r\n\r\n"],
        [b"3\r\nabc\r", b"\n3\r\nxyz\r\n0\r\n\r\n"],
    ],
)
def test_whole_chunks_decode_as_the_state_machine_does(reads: list[bytes]) -> None:
    fast, slow = ChunkedDecoder(), StateMachineOnly()
    for data in reads:
        assert fast.feed(data) == slow.feed(data)
        assert (fast.wire_bytes, fast.payload_bytes) == (slow.wire_bytes, slow.payload_bytes)
    assert fast.done == slow.done


@pytest.mark.parametrize("raw", BAD)
def test_whole_chunks_then_a_bad_one_fail_as_the_state_machine_does(raw: bytes) -> None:
    """Good chunks in front of a bad one: the fast path takes them, the error is the same."""
    data = b"3\r\nabc\r\n" + raw
    with pytest.raises(ChunkedError) as slow:
        StateMachineOnly().feed(data)
        raise ChunkedError("no error")
    with pytest.raises(ChunkedError, match=re.escape(str(slow.value))):
        ChunkedDecoder().feed(data)
