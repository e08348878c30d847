"""``compress``, ``accel`` and CORS against a real gunicorn + gevent server, read over a raw
socket so every HTTP chunk (one per write of the app) is seen as it was sent."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import pytest

from showcase.pure.compression import WBITS
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.pure.framing.sse import SSEParser
from showcase.tools.launcher import RunningServer, start_server
from showcase.tools.response_head import read_head
from tests.integration.wire import fetch_raw, open_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

COUNT = 8
PACED = f"count={COUNT}&interval=30"  # a pause after every message: one write each


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module (the session's ``server`` fixture is not started here)."""
    folder = tmp_path_factory.mktemp("compression")
    running = start_server(
        folder / "gunicorn.log",
        env={"SHOWCASE_DATA_DIR": str(folder), "SHOWCASE_HEARTBEAT_S": "5"},
    )
    yield running
    running.stop()


def read_chunks(
    url: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], list[bytes]]:
    """Status, headers and the body's HTTP chunks, each as it came off the wire."""
    with open_raw(url, target, headers) as sock:
        status, response_headers, rest = read_head(sock)
        assert response_headers.get("transfer-encoding") == "chunked", response_headers
        decoder = ChunkedDecoder()
        chunks: list[bytes] = []
        items = decoder.feed(rest)
        while not (items and isinstance(items[-1], EndOfBody)):
            chunks += [item.data for item in items if isinstance(item, Chunk)]
            piece = sock.recv(65536)
            assert piece, "the body ended without its last chunk"
            items = decoder.feed(piece)
        chunks += [item.data for item in items if isinstance(item, Chunk)]
    return status, response_headers, chunks


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_sync_ndjson_each_chunk_decodes_to_one_message(live: RunningServer, encoding: str) -> None:
    status, headers, chunks = read_chunks(
        live.url, f"/stream/ndjson?{PACED}&compress=sync", {"Accept-Encoding": encoding}
    )
    assert status == 200
    assert headers["content-encoding"] == encoding
    assert headers["vary"] == "Accept-Encoding"
    assert "content-length" not in headers
    decoder = zlib.decompressobj(WBITS[encoding])
    decoded = [decoder.decompress(chunk) for chunk in chunks]
    # One chunk per message, each decoding alone as soon as it arrives; then the trailer.
    assert len(decoded) == COUNT + 1
    assert [json.loads(line)["seq"] for line in decoded[:COUNT]] == list(range(COUNT))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in decoded[:COUNT])
    assert decoded[COUNT] == b"" and decoder.eof


def test_sync_sse_decodes_to_the_same_events_one_per_chunk(live: RunningServer) -> None:
    status, headers, chunks = read_chunks(
        live.url, f"/stream/sse?{PACED}&compress=sync", {"Accept-Encoding": "gzip, deflate"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    decoder = zlib.decompressobj(WBITS["gzip"])
    parser = SSEParser()
    per_chunk = [[int(event.id) for event in parser.feed(decoder.decompress(c))] for c in chunks]
    # The retry preamble shares the first message's write; every other chunk is one event.
    assert per_chunk == [[seq] for seq in range(COUNT)] + [[]]
    assert parser.retry == 2000


def test_naive_batches_the_whole_stream(live: RunningServer) -> None:
    status, headers, chunks = read_chunks(
        live.url, f"/stream/ndjson?{PACED}&compress=naive", {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    # Eight paced messages, and nothing decodable before the last chunk (the first may be
    # the gzip header alone): the compressor held every message until the end.
    decoder = zlib.decompressobj(WBITS["gzip"])
    decoded = [decoder.decompress(chunk) for chunk in chunks]
    assert decoded[:-1] == [b""] * (len(chunks) - 1)
    assert decoder.eof
    assert [json.loads(line)["seq"] for line in decoded[-1].splitlines()] == list(range(COUNT))


@pytest.mark.parametrize("compress", ["naive", "sync"])
def test_no_accepted_coding_is_identity_with_vary(live: RunningServer, compress: str) -> None:
    status, headers, chunks = read_chunks(
        live.url,
        f"/stream/ndjson?{PACED}&compress={compress}",
        {"Accept-Encoding": "br;q=1, gzip;q=0"},
    )
    assert status == 200
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"
    assert [json.loads(chunk)["seq"] for chunk in chunks] == list(range(COUNT))


def test_the_default_stream_is_not_compressed(live: RunningServer) -> None:
    status, headers, chunks = read_chunks(
        live.url, f"/stream/ndjson?{PACED}", {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert "content-encoding" not in headers and "vary" not in headers
    assert headers["x-accel-buffering"] == "no"
    assert [json.loads(chunk)["seq"] for chunk in chunks] == list(range(COUNT))


@pytest.mark.parametrize("mode", ["sse", "ndjson", "chunked"])
def test_accel_omit_leaves_out_the_header(live: RunningServer, mode: str) -> None:
    status, headers, _ = fetch_raw(live.url, f"/stream/{mode}?count=2&interval=0&accel=omit")
    assert status == 200
    assert "x-accel-buffering" not in headers
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = fetch_raw(live.url, f"/stream/{mode}?count=2&interval=0&accel=send")
    assert status == 200
    assert headers["x-accel-buffering"] == "no"


@pytest.mark.parametrize(
    ("target", "extra", "expected"),
    [
        ("/stream/sse?count=2&interval=0", {}, 200),
        ("/stream/ndjson?count=2&interval=0", {}, 200),
        ("/stream/chunked?count=2&interval=0", {}, 200),
        ("/stream/sse?count=2", {"Last-Event-ID": "1"}, 204),
        ("/stream/sse?compress=zstd", {}, 400),
    ],
)
def test_mode_streams_allow_any_origin(
    live: RunningServer, target: str, extra: dict[str, str], expected: int
) -> None:
    status, headers, _ = fetch_raw(live.url, target, {"Origin": "http://example.test", **extra})
    assert status == expected
    assert headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(("query", "field"), [("compress=gzip", "compress"), ("accel=no", "accel")])
def test_bad_values_are_refused_before_the_body(
    live: RunningServer, query: str, field: str
) -> None:
    status, headers, body = fetch_raw(live.url, f"/stream/sse?{query}")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["field"] == field
