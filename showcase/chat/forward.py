"""An SSE hop: the bytes of an upstream event stream in, the same events out.

Pure: no I/O, no Flask. The bytes come from ``showcase.chat.hop_upstream`` (a real
connection); an upstream failure reaches this layer as ``UpstreamError`` and leaves as
``event: error``.

A hop passes each whole event block on as the upstream wrote it, and holds only the block
still arriving. Rebuilding every event (parse, one ``Message`` each, encode again) was work
a bare WSGI relay never does, per event (the hop beside the bare relay: docs/results/relay.json,
``showcase bench relay``); a client's parser reads the same events either way, since an
event block is its own serialization.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from showcase.pure.framing.ndjson import encode_json
from showcase.pure.framing.sse import MAX_EVENT_CHARS, MAX_LINE_CHARS, SSEError, encode_event

# The parser's bounds, counted here in bytes (the forwarder never decodes): a block a
# client's parser would refuse is refused here first.
MAX_LINE_BYTES = MAX_LINE_CHARS
MAX_EVENT_BYTES = MAX_EVENT_CHARS

BAD_GATEWAY = 502
GATEWAY_TIMEOUT = 504
BOM = "\ufeff".encode()


class UpstreamError(Exception):
    """The upstream failed: ``reason`` is a short code (``upstream_refused``,
    ``upstream_status``, ``upstream_broken``, ``upstream_timeout``, ``upstream_invalid``),
    ``detail`` says what happened."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    @property
    def status(self) -> int:
        """The relay's answer when this is known before the first byte, as nginx answers:
        504 for a timeout, 502 for anything else the upstream did."""
        return GATEWAY_TIMEOUT if self.reason == "upstream_timeout" else BAD_GATEWAY

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail}


def relay_error_event(error: UpstreamError) -> bytes:
    """The relay's own last event: ``event: error`` with ``{"reason", "detail"}``."""
    return encode_event(encode_json(error.to_json()), event="error")


class SSEForwarder:
    """Cuts an event stream's bytes into whole event blocks (up to and including the blank
    line that ends each), byte for byte, except what the WHATWG parser drops or folds: a
    leading BOM is not passed on and CRLF or CR line ends become LF, so the forwarded stream
    has one line end and a relay's own bytes can follow any block.

    ``feed`` returns the blocks a read completes (``b""`` if none) and keeps the rest, at
    most ``max_event_bytes``, with no line over ``max_line_bytes``: past either it raises
    ``SSEError``, as ``SSEParser`` does.
    """

    __slots__ = ("_held", "_line_len", "_after_cr", "_bom", "_max_line", "_max_event")

    def __init__(
        self, *, max_line_bytes: int = MAX_LINE_BYTES, max_event_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        # The block still arriving: one buffer, however small the reads it comes in.
        self._held = bytearray()
        self._line_len = 0  # of its unterminated last line
        self._after_cr = False  # the last read ended with CR: an LF next ends no other line
        self._bom: bytes | None = b""  # the stream's first bytes while they may be a BOM
        self._max_line = max_line_bytes
        self._max_event = max_event_bytes

    def feed(self, data: bytes) -> bytes:
        if self._bom is not None:
            data = self._skip_bom(data)
        if self._after_cr:
            self._after_cr = False
            if data[:1] == b"\n":
                data = data[1:]  # the LF of a CRLF cut between two reads: already a line end
        if b"\r" in data:
            self._after_cr = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not data:
            return b""
        held = self._held
        end = data.rfind(b"\n\n") + 2  # past the last blank line; 1 if there is none
        if end == 1 and not (held[-1:] == b"\n" and data[:1] == b"\n"):
            self._hold(data)  # no block ends here (the blank line may start this read)
            return b""
        if held:
            held += data[:end]
            out = bytes(held)
            held.clear()
        else:
            out = data[:end]
        self._line_len = 0
        if len(out) > self._max_line:  # rare: only then can a whole block break a limit
            self._check_blocks(out)
        if end < len(data):
            self._hold(data[end:])
        return out

    def _check_blocks(self, blocks: bytes) -> None:
        """SSEError if a whole block (one that came in a single read) holds a line longer
        than ``max_line_bytes`` or is longer than ``max_event_bytes``."""
        if max(map(len, blocks.split(b"\n"))) > self._max_line:
            raise SSEError(f"SSE line longer than {self._max_line} bytes")
        if len(blocks) > self._max_event and any(
            len(block) > self._max_event for block in blocks.split(b"\n\n")
        ):
            raise SSEError(f"SSE event longer than {self._max_event} bytes")

    def _hold(self, data: bytes) -> None:
        self._held += data
        newline = data.rfind(b"\n")
        self._line_len = self._line_len + len(data) if newline < 0 else len(data) - newline - 1
        if self._line_len > self._max_line:
            raise SSEError(f"SSE line longer than {self._max_line} bytes")
        if len(self._held) > self._max_event:
            raise SSEError(f"SSE event longer than {self._max_event} bytes")

    def _skip_bom(self, data: bytes) -> bytes:
        """``data`` without the stream's leading BOM; a first read of part of one waits."""
        data = (self._bom or b"") + data
        if len(data) < len(BOM) and BOM.startswith(data):
            self._bom = data
            return b""
        self._bom = None
        return data[len(BOM) :] if data.startswith(BOM) else data


def iter_relayed(
    chunks: Iterable[bytes],
    *,
    stopping: Callable[[], bool] = lambda: False,
    ending: Callable[[], bytes] | None = None,
) -> Iterator[bytes]:
    """The body of an SSE hop, one write per upstream read that completed an event block.

    An ``UpstreamError`` (or an event past the limits) ends the stream with ``event: error``
    after the blocks already whole; an upstream that just ends (its last block unterminated:
    a client would drop it) ends it cleanly. When ``stopping()`` (the server is stopping, and
    a stop thrown into the upstream read breaks it) the body ends with ``ending()`` instead:
    the stream's SSE clients resume from the last id they received.
    """
    forwarder = SSEForwarder()
    failure: UpstreamError | None = None
    try:
        for chunk in chunks:
            data = forwarder.feed(chunk)
            if data:
                if stopping():
                    break
                yield data
        else:
            return  # the upstream ended
    except UpstreamError as error:
        failure = error
    except SSEError as error:
        failure = UpstreamError("upstream_invalid", str(error))
    if failure is not None and not stopping():
        yield relay_error_event(failure)
    elif ending is not None:
        yield ending()
