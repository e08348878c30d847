"""HTTP/1.1 chunked transfer coding (RFC 9112 §7.1): encoders and an incremental decoder.

Pure: no I/O; must never import Flask, Werkzeug, gevent, gunicorn, requests or sockets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Chunk",
    "ChunkedDecoder",
    "ChunkedError",
    "EndOfBody",
    "encode_chunk",
    "encode_last_chunk",
]

MAX_SIZE_LINE_BYTES = 1024
MAX_TRAILER_BYTES = 16 << 10
_TOKEN_BYTES = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 §5.6.2
_TOKEN = re.compile(_TOKEN_BYTES)
# RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, where qdtext is
# HTAB, SP, VCHAR except DQUOTE and "\", or obs-text, and quoted-pair is "\" + one of those.
_QUOTED_STRING = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
# RFC 9112 §7.1 and §7.1.1: chunk-size [ chunk-ext ], where
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
# chunk-ext-val = token / quoted-string (T and Q below). int(x, 16) alone would take "0x",
# "_" or "+".
_SIZE_LINE_GRAMMAR = rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*T(?:[ \t]*=[ \t]*(?:T|Q))?)*"
_SIZE_LINE = re.compile(
    _SIZE_LINE_GRAMMAR.replace(b"T", _TOKEN_BYTES).replace(b"Q", _QUOTED_STRING)
)
# RFC 9110 §5.5: field-value bytes are HTAB, SP, VCHAR and obs-text; CR, LF and NUL are
# "invalid and dangerous", and a strict recipient refuses every other control byte too.
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_MAX_CHUNK_SIZE = 1 << 63


class ChunkedError(ValueError):
    """The bytes are not a valid chunked body, or break a size limit."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of chunk data as it arrived.

    A chunk split across feeds yields several pieces: ``size_line`` (the raw chunk-size
    line with extensions and CRLF, for the wire view) is on the first piece, ``b""`` after.
    """

    data: bytes
    size_line: bytes = b""


@dataclass(frozen=True, slots=True)
class EndOfBody:
    """The last chunk and the trailer section arrived; ``trailers`` in wire order."""

    trailers: tuple[tuple[str, str], ...] = ()


def encode_chunk(data: bytes) -> bytes:
    """``<size in hex>\\r\\n<data>\\r\\n``. Empty data raises ValueError: it would end the body."""
    if not data:
        raise ValueError("an empty chunk is the last-chunk; use encode_last_chunk()")
    return b"%X\r\n" % len(data) + data + b"\r\n"


def encode_last_chunk(trailers: Sequence[tuple[str, str]] = ()) -> bytes:
    """``0\\r\\n``, one ``name: value\\r\\n`` per trailer (Latin-1), then ``\\r\\n``.

    Raises ValueError for a name that is not a token or a value holding a control byte other
    than HTAB (CR, LF, NUL, …): what the decoder would refuse.
    """
    lines = [b"0\r\n"]
    for name, value in trailers:
        raw_name = name.encode("latin-1")
        raw_value = value.encode("latin-1")
        if not _TOKEN.fullmatch(raw_name):
            raise ValueError(f"trailer name is not a token: {name!r}")
        if not _FIELD_VALUE.fullmatch(raw_value):
            raise ValueError(f"trailer value must not contain CR, LF, NUL or controls: {value!r}")
        lines.append(raw_name + b": " + raw_value + b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


class ChunkedDecoder:
    """Incremental decoder of a chunked body: ``feed(bytes)`` returns Chunk pieces and,
    at the end, one EndOfBody.

    Strict where laxness has enabled request smuggling: every line ends with CRLF,
    chunk-size is 1-16 hex digits and at most 2**63, whitespace is allowed only around
    ``;`` and ``=`` (BWS), extensions must match the grammar of RFC 9112 §7.1.1 (a token
    name, an optional token or quoted-string value; checked, then ignored), trailer values
    hold no control byte but HTAB (no NUL), obs-fold in trailers is refused. Raises
    ChunkedError on any violation, on bytes after the end of the body, and in ``close()``
    if the body was cut short. ``wire_bytes`` counts every body byte fed (size lines
    and CRLFs included), ``payload_bytes`` the chunk data alone.
    """

    def __init__(
        self,
        *,
        max_size_line_bytes: int = MAX_SIZE_LINE_BYTES,
        max_trailer_bytes: int = MAX_TRAILER_BYTES,
    ) -> None:
        self._max_size_line = max_size_line_bytes
        self._max_trailer = max_trailer_bytes
        self._buf = bytearray()
        self._state = "size"  # size -> data -> data_crlf -> size ... -> trailer -> done
        self._remaining = 0  # bytes of chunk data still to come
        self._size_line = b""  # not yet given out with a piece of its chunk
        self._trailers: list[tuple[str, str]] = []
        self._trailer_bytes = 0
        self._consumed = 0
        self._payload = 0

    @property
    def wire_bytes(self) -> int:
        """Bytes fed so far, whether parsed already or buffered as an unfinished line."""
        return self._consumed + len(self._buf)

    @property
    def payload_bytes(self) -> int:
        """Bytes of chunk data given out so far."""
        return self._payload

    @property
    def done(self) -> bool:
        """True once the last chunk and the trailer section have been read."""
        return self._state == "done"

    def feed(self, data: bytes) -> list[Chunk | EndOfBody]:
        """Decode more bytes; return the items they complete, in order."""
        if self._state == "done":
            if data:
                raise ChunkedError(f"{len(data)} bytes after the end of the chunked body")
            return []
        items: list[Chunk | EndOfBody] = []
        if not self._buf and self._state == "size":
            taken = self._whole_chunks(data, items)
            if taken == len(data):
                return items
            data = data[taken:]
        self._buf += data
        while self._buf and self._step(items):
            pass
        if self._state == "done" and self._buf:
            extra = len(self._buf)
            self._buf.clear()
            raise ChunkedError(f"{extra} bytes after the end of the chunked body")
        return items

    def close(self) -> list[Chunk | EndOfBody]:
        """End of input: raise ChunkedError unless the body ended properly."""
        if self._state != "done":
            raise ChunkedError(f"chunked body truncated (in {self._state.replace('_', ' ')})")
        return []

    def _whole_chunks(self, data: bytes, items: list[Chunk | EndOfBody]) -> int:
        """The complete, well-formed chunks at the start of ``data``, decoded in place: how
        many bytes they took. What a relay reads is mostly one whole chunk per ``recv``; the
        state machine would copy it through the buffer three times. It stops at anything
        else (a partial chunk, the last chunk, a bad line) and ``_step`` takes over from
        there, so the items, the counts and the errors are the state machine's."""
        pos, end = 0, len(data)
        while pos < end:
            eol = data.find(b"\n", pos, pos + self._max_size_line)
            if eol <= pos or data[eol - 1] != 0x0D:  # CRLF; a bare LF is _step's error
                break
            # The grammar admits no CR or LF inside the line: CR in a line is refused too.
            match = _SIZE_LINE.fullmatch(data, pos, eol - 1)
            if match is None:
                break
            size = int(match[1], 16)
            start = eol + 1
            stop = start + size
            if size == 0 or size > _MAX_CHUNK_SIZE or data[stop : stop + 2] != b"\r\n":
                break
            items.append(Chunk(data[start:stop], data[pos:start]))
            self._payload += size
            pos = stop + 2
        self._consumed += pos
        return pos

    def _take(self, n: int) -> bytes:
        taken = bytes(self._buf[:n])
        del self._buf[:n]  # cheap: bytearray keeps an offset for deletes at the front
        self._consumed += n
        return taken

    def _take_line(self, limit: int, what: str, bound: int) -> bytes | None:
        """The next line including its CRLF (at most ``limit`` bytes), or None if incomplete."""
        end = self._buf.find(b"\n", 0, limit)
        if end < 0:
            if len(self._buf) >= limit:
                raise ChunkedError(f"{what} longer than {bound} bytes")
            return None
        line = self._take(end + 1)
        # RFC 9112 §7.1: CRLF only; a bare LF or CR inside a line is refused.
        if line[-2:] != b"\r\n" or b"\r" in line[:-2]:
            raise ChunkedError(f"{what} must end with CRLF: {line!r}")
        return line

    def _step(self, items: list[Chunk | EndOfBody]) -> bool:
        """Advance one state; return False when more bytes are needed."""
        if self._state == "size":
            line = self._take_line(self._max_size_line, "chunk-size line", self._max_size_line)
            if line is None:
                return False
            match = _SIZE_LINE.fullmatch(line, 0, len(line) - 2)
            if match is None:
                raise ChunkedError(f"bad chunk-size line: {line!r}")
            size = int(match[1], 16)
            if size > _MAX_CHUNK_SIZE:
                raise ChunkedError(f"chunk-size too large: {line!r}")
            if size == 0:
                self._state = "trailer"
                self._trailer_bytes = 0
            else:
                self._state, self._remaining, self._size_line = "data", size, line
            return True
        if self._state == "data":
            piece = self._take(min(self._remaining, len(self._buf)))
            items.append(Chunk(piece, self._size_line))
            self._size_line = b""
            self._remaining -= len(piece)
            self._payload += len(piece)
            if not self._remaining:
                self._state = "data_crlf"
            return True
        if self._state == "data_crlf":
            if self._buf[:2] != b"\r\n"[: len(self._buf)]:
                raise ChunkedError(f"chunk data not followed by CRLF: {bytes(self._buf[:2])!r}")
            if len(self._buf) < 2:
                return False
            self._take(2)
            self._state = "size"
            return True
        if self._state == "trailer":
            return self._step_trailer(items)
        return False  # done: feed() refuses what is left

    def _step_trailer(self, items: list[Chunk | EndOfBody]) -> bool:
        limit = self._max_trailer - self._trailer_bytes
        line = self._take_line(limit, "trailer section", self._max_trailer)
        if line is None:
            return False
        self._trailer_bytes += len(line)
        if line == b"\r\n":
            self._state = "done"
            items.append(EndOfBody(tuple(self._trailers)))
            return True
        name, colon, value = line[:-2].partition(b":")
        # RFC 9112 §5.1-5.2: no whitespace before the colon, and obs-fold may be refused.
        value = value.strip(b" \t")
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ChunkedError(f"bad trailer field line: {line!r}")
        self._trailers.append((name.decode("latin-1"), value.decode("latin-1")))
        return True
