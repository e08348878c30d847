"""showcase.pure.compression: the coding a client accepts, and compressed chunks that either stay
one decodable chunk per write (sync) or batch until the end (naive)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from showcase.pure.compression import WBITS, choose_encoding, compress_chunks

MESSAGES = [b'event: ticks\nid: %d\ndata: {"seq":%d}\n\n' % (n, n) for n in range(50)]


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        (None, None),
        ("", None),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip, deflate, br", "gzip"),
        ("deflate, gzip", "gzip"),  # equal q: gzip preferred
        ("br", None),
        ("identity", None),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip;q=0.5, deflate", "deflate"),  # the higher q wins
        ("gzip;q=1.0, deflate;q=0.999", "gzip"),
        ("gzip ; q=0.2 , deflate ; q=0.3", "deflate"),
        ("gzip;q=0", None),
        ("gzip;q=0.000, deflate", "deflate"),
        ("gzip;q=0, deflate;q=0", None),
        ("*", "gzip"),
        ("*;q=0", None),
        ("*, gzip;q=0", "deflate"),  # the wildcard stands for codings not named
        ("deflate;q=0.5, *;q=0.1", "deflate"),
        ("gzip;q=2", None),  # not a qvalue: the element is ignored
        ("gzip;q=abc, deflate", "deflate"),
        ("gzip;q=0.5000", None),  # more than three decimals
        (",,gzip,,", "gzip"),
    ],
)
def test_choose_encoding(header: str | None, encoding: str | None) -> None:
    assert choose_encoding(header) == encoding


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_sync_each_message_decodes_alone_right_after_its_chunk(encoding: str) -> None:
    chunks = list(compress_chunks(iter(MESSAGES), encoding, sync=True))
    # One chunk per message, then the trailer.
    assert len(chunks) == len(MESSAGES) + 1
    decoder = zlib.decompressobj(WBITS[encoding])
    for message, chunk in zip(MESSAGES, chunks, strict=False):
        assert chunk
        assert decoder.decompress(chunk) == message  # nothing held back for the next one
    assert decoder.decompress(chunks[-1]) == b""
    assert decoder.eof and decoder.unused_data == b""


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_naive_holds_the_messages_until_the_end(encoding: str) -> None:
    produced: list[int] = []

    def source() -> Iterator[bytes]:
        for index, message in enumerate(MESSAGES):
            produced.append(index)
            yield message

    chunks = compress_chunks(source(), encoding, sync=False)
    decoder = zlib.decompressobj(WBITS[encoding])
    decoded_before_end = b""
    for chunk in chunks:
        assert chunk  # never an empty chunk
        if len(produced) < len(MESSAGES):
            decoded_before_end += decoder.decompress(chunk)
    # Small messages: the compressor gave out at most its header while the source ran.
    assert decoded_before_end == b""
    assert len(produced) == len(MESSAGES)


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_the_whole_body_round_trips_and_empty_chunks_are_skipped(encoding: str, sync: bool) -> None:
    chunks = list(compress_chunks(iter([b"", *MESSAGES, b""]), encoding, sync=sync))
    assert all(chunks)
    assert zlib.decompress(b"".join(chunks), WBITS[encoding]) == b"".join(MESSAGES)
    if encoding == "gzip":
        import gzip

        assert gzip.decompress(b"".join(chunks)) == b"".join(MESSAGES)


def test_an_empty_body_is_still_a_complete_stream() -> None:
    chunks = list(compress_chunks(iter([]), "gzip", sync=True))
    assert len(chunks) == 1 and chunks[0]
    assert zlib.decompress(chunks[0], WBITS["gzip"]) == b""


def test_closing_the_compressed_body_closes_its_source() -> None:
    closed: list[bool] = []

    def source() -> Iterator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
        finally:
            closed.append(True)

    chunks = compress_chunks(source(), "gzip", sync=True)
    next(chunks)
    chunks.close()
    assert closed == [True]
