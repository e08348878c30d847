"""The wire view's WebSocket frame-header decoder: every length form, the mask bit, a capture
cut at every byte, and the frames of a real-looking answer labelled in order."""

from __future__ import annotations

import pytest

from showcase.tools.wire_frames import decode_frame_header, find_frames, has_close_frame

HEAD = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def text_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes([0x81, n]) + payload
    if n < 1 << 16:
        return bytes([0x81, 126]) + n.to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + n.to_bytes(8, "big") + payload


@pytest.mark.parametrize(("length", "size"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_each_length_form_is_decoded(length: int, size: int) -> None:
    header = decode_frame_header(text_frame(b"x" * length))
    assert header is not None
    assert (header.fin, header.opcode, header.masked) == (True, 1, False)
    assert (header.length, header.size) == (length, size)


def test_a_masked_frame_counts_its_key() -> None:
    header = decode_frame_header(bytes([0x88, 0x82]) + b"KEY!" + b"\x03\xe8")
    assert header is not None
    assert (header.opcode, header.masked, header.length, header.size) == (8, True, 2, 6)
    assert header.describe() == "FIN=1 MASK=1 close (opcode 8) length 2"


def test_an_incomplete_header_is_none_at_every_cut() -> None:
    whole = bytes([0x81, 127]) + (70000).to_bytes(8, "big")
    for cut in range(len(whole)):
        assert decode_frame_header(whole[:cut]) is None
    assert decode_frame_header(whole) is not None


def test_a_capture_is_labelled_frame_by_frame_at_every_cut() -> None:
    raw = HEAD + text_frame(b'{"seq":0}') + text_frame(b'{"seq":1}') + b"\x88\x02\x03\xe8"
    for cut in range(len(raw) + 1):
        segments, frames = find_frames(raw[:cut])
        # The segments cover every byte once, in order.
        starts = [s.start for s in segments]
        assert starts == [0, *(s.end for s in segments[:-1])][: len(starts)]
        assert (segments[-1].end if segments else 0) == cut
        assert has_close_frame(raw[:cut]) == (cut == len(raw))
    segments, frames = find_frames(raw)
    assert [s.kind for s in segments] == ["head", "frame", "data", "frame", "data", "frame", "data"]
    assert [(f.header.opcode, f.header.length) for f in frames] == [(1, 9), (1, 9), (8, 2)]


def test_a_refused_handshake_has_no_frames() -> None:
    raw = b"HTTP/1.1 426 UPGRADE REQUIRED\r\nContent-Length: 2\r\n\r\n{}"
    segments, frames = find_frames(raw)
    assert [s.kind for s in segments] == ["head", "data"]
    assert frames == []
