"""WebSocket frame headers as the wire view shows them (RFC 6455 §5.2): decode a capture of
a handshake's answer and the frames after it into labelled byte ranges. No sockets, no
Flask; the server's own WebSockets use wsproto, never this."""

from __future__ import annotations

from dataclasses import dataclass

from showcase.tools.wire import Segment, split_head

# RFC 6455 §1.3's sample key: the wire view's handshake is the same every time, so its
# Sec-WebSocket-Accept is too (s3pPLMBiTxaQ9kYGzzhZRbK+xOo=).
HANDSHAKE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
CLOSE_OPCODE = 8


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """One frame's header: ``size`` is the header's own length in bytes (2 to 14),
    ``length`` the payload's."""

    fin: bool
    opcode: int
    masked: bool
    length: int
    size: int

    def describe(self) -> str:
        name = OPCODES.get(self.opcode, f"opcode {self.opcode}")
        bits = f"FIN={int(self.fin)} MASK={int(self.masked)}"
        return f"{bits} {name} (opcode {self.opcode}) length {self.length}"


@dataclass(frozen=True, slots=True)
class FrameSpan:
    """Where one frame lies in a capture: its header at ``start`` … ``payload``, its
    payload from there to ``end`` (``end`` past the capture when it was cut)."""

    header: FrameHeader
    start: int
    payload: int
    end: int


def decode_frame_header(data: bytes) -> FrameHeader | None:
    """The header at the start of ``data``, or None while it is incomplete. The 7-bit length
    126 means a 16-bit length follows, 127 a 64-bit one; a set mask bit adds 4 key bytes."""
    if len(data) < 2:
        return None
    first, second = data[0], data[1]
    length = second & 0x7F
    size = 2
    if length == 126:
        size = 4
    elif length == 127:
        size = 10
    masked = bool(second & 0x80)
    key_bytes = 4 if masked else 0
    if len(data) < size + key_bytes:
        return None
    if size > 2:
        length = int.from_bytes(data[2:size], "big")
    return FrameHeader(bool(first & 0x80), first & 0x0F, masked, length, size + key_bytes)


def find_frames(raw: bytes) -> tuple[list[Segment], list[FrameSpan]]:
    """Labelled ranges covering ``raw`` (``head``, then per frame ``frame`` for its header and
    ``data`` for its payload, ``raw`` for an incomplete header) and the frames found."""
    parts = split_head(raw)
    if parts is None:
        return ([Segment("raw", 0, len(raw))] if raw else []), []
    head, _ = parts
    segments = [Segment("head", 0, len(head))]
    frames: list[FrameSpan] = []
    if not head.startswith(b"HTTP/1.1 101"):
        if len(raw) > len(head):
            segments.append(Segment("data", len(head), len(raw)))  # a refusal's body
        return segments, frames
    cursor = len(head)
    while cursor < len(raw):
        header = decode_frame_header(raw[cursor:])
        if header is None:
            segments.append(Segment("raw", cursor, len(raw)))
            break
        payload = cursor + header.size
        end = payload + header.length
        frames.append(FrameSpan(header, cursor, payload, end))
        segments.append(Segment("frame", cursor, payload))
        if header.length:
            segments.append(Segment("data", payload, min(end, len(raw))))
        cursor = end
    return segments, frames


def has_close_frame(raw: bytes) -> bool:
    """True once ``raw`` holds a complete close frame: the server has said all it will."""
    _, frames = find_frames(raw)
    return any(f.header.opcode == CLOSE_OPCODE and f.end <= len(raw) for f in frames)
