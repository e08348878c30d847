"""The public API of showcase.pure.framing is exactly its __all__ (as httpx tests its own)."""

from __future__ import annotations

import showcase.pure.framing as framing

PUBLIC = {
    "Chunk",
    "ChunkedDecoder",
    "ChunkedError",
    "EndOfBody",
    "NDJSONError",
    "NDJSONParser",
    "SSEError",
    "SSEParser",
    "ServerSentEvent",
    "encode_chunk",
    "encode_comment",
    "encode_event",
    "encode_last_chunk",
    "encode_line",
}


def test_all_is_the_public_api() -> None:
    assert set(framing.__all__) == PUBLIC
    assert len(framing.__all__) == len(PUBLIC)
    exported = {name for name in dir(framing) if not name.startswith("_")}
    assert exported - {"chunked", "ndjson", "sse", "annotations"} == PUBLIC


def test_errors_are_value_errors() -> None:
    for error in (framing.SSEError, framing.NDJSONError, framing.ChunkedError):
        assert issubclass(error, ValueError)
