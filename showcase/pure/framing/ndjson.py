"""Newline-delimited JSON: the line encoder and an incremental line parser.

Pure: no I/O; must never import Flask, Werkzeug, gevent, gunicorn, requests or sockets.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NDJSONError", "NDJSONParser", "encode_line"]

MAX_LINE_BYTES = 16 << 20
# JSON's own whitespace (RFC 8259 §2); bytes.strip() would also drop \x0b and \x0c.
_JSON_WS = b" \t\r"


# Compact JSON on one line (json escapes CR and LF), non-ASCII kept as it is: the one encoder
# of the project, shared because json.dumps with options builds a new encoder per call.
encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_line(obj: object) -> bytes:
    """One compact JSON value and ``\\n``, UTF-8. json.dumps escapes CR/LF, so it is one line."""
    return (encode_json(obj) + "\n").encode("utf-8")


class NDJSONError(ValueError):
    """A line of the stream is not valid UTF-8 JSON, or is too long.

    ``line`` is its 1-based line number, blank lines included.
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"NDJSON line {line}: {reason}")
        self.line = line


class NDJSONParser:
    """Incremental NDJSON parser: ``feed(bytes)`` returns the values of completed lines.

    Lines end at LF; a CR before it is dropped (CRLF is allowed). Blank lines are skipped
    but counted. ``close()`` parses a last line left without its LF. A malformed line, or
    one longer than ``max_line_bytes``, raises NDJSONError; discard the parser after that.
    """

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_line = max_line_bytes
        self._buf = bytearray()  # the unterminated line so far
        self._lines = 0  # lines completed so far

    def feed(self, data: bytes) -> list[Any]:
        """Parse more bytes; return the JSON values of the lines they complete, in order."""
        if b"\n" not in data:
            self._buf += data
            self._check_pending()
            return []
        # Split bytes, not text: 0x0A never occurs inside a multi-byte UTF-8 sequence.
        lines = (bytes(self._buf) + data).split(b"\n")
        self._buf = bytearray(lines.pop())
        values = [value for line in lines for value in self._parse(line)]
        self._check_pending()
        return values

    def close(self) -> list[Any]:
        """End of stream: parse a last line that had no LF; reset the parser."""
        line = bytes(self._buf)
        self._buf.clear()
        values = self._parse(line) if line else []
        self._lines = 0
        return values

    def _check_pending(self) -> None:
        # Bound memory before the LF arrives, not only once the line is complete.
        if len(self._buf) > self._max_line:
            raise NDJSONError(self._lines + 1, f"longer than {self._max_line} bytes")

    def _parse(self, line: bytes) -> list[Any]:
        self._lines += 1
        if len(line) > self._max_line:
            raise NDJSONError(self._lines, f"longer than {self._max_line} bytes")
        line = line.strip(_JSON_WS)
        if not line:
            return []
        try:
            return [json.loads(line.decode("utf-8"))]
        except UnicodeDecodeError as exc:
            raise NDJSONError(self._lines, f"invalid UTF-8: {exc.reason}") from exc
        except json.JSONDecodeError as exc:
            raise NDJSONError(self._lines, f"invalid JSON: {exc}") from exc
