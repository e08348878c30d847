"""The framing benchmark's parse cost times the project's parsers (showcase.pure.framing) on the
reads as they came off the socket, and nothing of the harness's own."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import framing
from showcase.pure.framing import ChunkedDecoder, encode_chunk, encode_event, encode_last_chunk
from showcase.pure.framing.ndjson import encode_line


def body_of(pieces: list[bytes]) -> bytes:
    return b"".join(encode_chunk(p) for p in pieces) + encode_last_chunk()


def reads_of(body: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def sse_event(seq: int) -> bytes:
    return encode_event(f'{{"seq":{seq},"ts":1.5,"pad":"x"}}', event="ticks", id=str(seq))


def test_parse_reads_counts_what_the_project_parsers_give() -> None:
    sse = body_of([sse_event(0) + sse_event(1), sse_event(2)])
    ndjson = body_of([encode_line({"seq": 0}) + encode_line({"seq": 1}), encode_line({"seq": 2})])
    text = body_of([b"tick 0 1.5 x\ntick 1 1.5 x\n", b"tick 2 1.5 x\n"])
    assert framing.parse_reads("sse", reads_of(sse, [7, 60])) == 3
    assert framing.parse_reads("ndjson", reads_of(ndjson, [5])) == 3
    # Plain text has no framing in showcase.pure.framing: its client's work ends at the chunks.
    assert framing.parse_reads("chunked", [text]) == 2


def test_parse_cost_feeds_the_reads_as_they_arrived(monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[bytes] = []

    class Recording(ChunkedDecoder):
        def feed(self, data: bytes) -> list[Any]:
            fed.append(data)
            return super().feed(data)

    monkeypatch.setattr(framing, "ChunkedDecoder", Recording)
    body = body_of([sse_event(i) for i in range(50)])
    reads = reads_of(body, [3, 1000, 1001, 2500])
    assert framing.parse_cost_us("sse", reads, 50) > 0
    assert fed[: len(reads)] == reads  # not re-cut into pieces of the harness's choosing
