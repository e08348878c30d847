"""The wire view's captures as the page's JSON: one request's bytes read by read, a
WebSocket's handshake and frames, a few polls in turn. No Flask here: page.py's
``/wire/<mode>`` validates, finds its own address and the paths, and answers with these."""

from __future__ import annotations

import base64
import json
from typing import Any

from showcase.tools.wire import WireCapture, build_wire_request, capture, label_segments
from showcase.tools.wire_frames import HANDSHAKE_KEY, find_frames, has_close_frame

WIRE_POLLS = 3
# A poll in the wire view waits at most this (ms), so its answer comes within the capture's time.
WIRE_POLL_WAIT_MS = "2000"


def describe_capture(
    mode: str, raw_request: bytes, result: WireCapture, limit: int
) -> dict[str, Any]:
    """The wire view's JSON for one request: what was sent, each read with its arrival time
    (base64 keeps every byte exact: UTF-8 tokens, binary), and labelled byte ranges."""
    raw = result.raw
    return {
        "mode": mode,
        "request": raw_request.decode("ascii"),
        "bytes": len(raw),
        "limit": limit,
        "complete": result.complete,
        "error": result.error,
        "reads": [
            {"t_ms": read.t_ms, "size": len(read.data), "b64": b64(read.data)}
            for read in result.reads
        ],
        "segments": [
            {"kind": seg.kind, "start": seg.start, "end": seg.end} for seg in label_segments(raw)
        ],
    }


def capture_polls(
    host: str, port: int, path: str, stream_query: dict[str, str], limit: int
) -> dict[str, Any]:
    """Up to ``WIRE_POLLS`` polls, each on its own connection, the next one asking
    ``after=next&start=start`` as the previous answer said: ``exchanges`` holds each one's
    capture, the top level the first's (so the view's summary reads as for a stream)."""
    exchanges: list[dict[str, Any]] = []
    follow = {"after": "-1", "wait": WIRE_POLL_WAIT_MS}
    for _ in range(WIRE_POLLS):
        raw_request = build_wire_request(host, port, path, stream_query | follow)
        result = capture(host, port, raw_request, limit_bytes=limit)
        exchanges.append(describe_capture("poll", raw_request, result, limit))
        answer = poll_answer(result.raw)
        if answer is None or answer.get("done"):
            break
        follow = {
            "after": str(answer["next"]),
            "start": str(answer["start"]),
            "wait": WIRE_POLL_WAIT_MS,
        }
    return {**exchanges[0], "exchanges": exchanges}


def poll_answer(raw: bytes) -> dict[str, Any] | None:
    """The JSON of a captured poll answer (its body, chunked or not), or None if cut or bad."""
    body = b"".join(raw[seg.start : seg.end] for seg in label_segments(raw) if seg.kind == "data")
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and "next" in answer else None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def capture_ws(
    host: str, port: int, path: str, query: dict[str, str], limit: int
) -> dict[str, Any]:
    """A WebSocket handshake with a fixed key, its answer and every frame until the server's
    close: ``segments`` label each frame header (``label``: FIN, opcode, mask bit, length),
    ``frames`` list them decoded."""
    upgrade = {"Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    upgrade["Sec-WebSocket-Key"] = HANDSHAKE_KEY
    raw_request = build_wire_request(host, port, path, query, upgrade)
    result = capture(host, port, raw_request, limit_bytes=limit, until=has_close_frame)
    segments, frames = find_frames(result.raw)
    labels = {frame.start: frame.header.describe() for frame in frames}
    return {
        **describe_capture("ws", raw_request, result, limit),
        "segments": [
            {"kind": seg.kind, "start": seg.start, "end": seg.end}
            | ({"label": labels[seg.start]} if seg.kind == "frame" else {})
            for seg in segments
        ],
        "frames": [
            {
                "fin": frame.header.fin,
                "opcode": frame.header.opcode,
                "masked": frame.header.masked,
                "length": frame.header.length,
            }
            for frame in frames
        ],
    }
