"""Bytes on the wire, both ways: SSE, NDJSON and HTTP/1.1 chunked framing.

Pure: no I/O; must never import Flask, Werkzeug, gevent, gunicorn, requests or sockets.
"""

from __future__ import annotations

from showcase.pure.framing.chunked import (
    Chunk,
    ChunkedDecoder,
    ChunkedError,
    EndOfBody,
    encode_chunk,
    encode_last_chunk,
)
from showcase.pure.framing.ndjson import NDJSONError, NDJSONParser, encode_line
from showcase.pure.framing.sse import (
    ServerSentEvent,
    SSEError,
    SSEParser,
    encode_comment,
    encode_event,
)

__all__ = [
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
]
