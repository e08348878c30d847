"""Streaming Showcase: the same messages served as SSE, NDJSON, chunked text and downloads."""

from __future__ import annotations

__version__ = "0.1.0"
