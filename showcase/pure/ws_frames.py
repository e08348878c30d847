"""What the WebSocket endpoints' text frames hold, both ways (docs/contract.md, "ws").

Pure: no Flask, no gevent, no I/O. Every frame is one compact JSON object; the ``/ws`` stream
frames are the stream's payload JSON itself (the NDJSON line without its newline).
"""

from __future__ import annotations

from typing import Any

from showcase.pure.framing.ndjson import encode_json
from showcase.pure.json_body import decode_json_object
from showcase.pure.message import Message
from showcase.pure.refusal import Refusal

PROMPT = "prompt"
STOP = "stop"
SEND = "send"
DELTA = "delta"
DONE = "done"
ACK = "ack"
ERROR = "error"


class FrameRefused(ValueError):
    """A client frame the endpoint cannot use (binary, not a JSON object, an unknown or
    unexpected ``type``): the server closes with 1008 and this text as the reason."""


def decode_client_frame(data: str | bytes, accepted: tuple[str, ...]) -> dict[str, Any]:
    """A client frame as a JSON object whose ``type`` is one of ``accepted``, decoded as a
    POST body is (``json_body.decode_json_object``); FrameRefused otherwise."""
    if isinstance(data, bytes):
        raise FrameRefused("binary frames are not used here: send JSON text")
    try:
        body = decode_json_object(data.encode("utf-8", "surrogatepass"))
    except Refusal as error:
        raise FrameRefused(f"not a JSON object: {error.detail}"[:100]) from None
    kind = body.get("type")
    if kind not in accepted:
        shown = kind[:20] if isinstance(kind, str) else kind
        raise FrameRefused(f"type must be one of {', '.join(accepted)}, got {shown!r}"[:100])
    return body


def encode_frame(body: dict[str, Any]) -> str:
    return encode_json(body)


def delta_frame(message: Message) -> str:
    """One token of a chat answer: ``{"type": "delta", "seq", "ts", "content"}``."""
    return encode_frame(
        {"type": DELTA, "seq": message.seq, "ts": message.ts, "content": message.text}
    )


def done_frame(finish_reason: str, prompt_tokens: int, completion_tokens: int) -> str:
    """The last frame of an answer: ``finish_reason`` ``stop``, ``length`` or ``cancelled``
    (a ``stop`` frame ended it), and the usage counts as OpenAI reports them."""
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return encode_frame({"type": DONE, "finish_reason": finish_reason, "usage": usage})


def error_frame(status: int, body: dict[str, Any]) -> str:
    """A refused request: the same JSON body (and status) ``POST`` would answer, as a frame;
    the connection stays open."""
    return encode_frame({"type": ERROR, "status": status, **body})


def event_frame(event: str, data: dict[str, Any]) -> str:
    """A room's event (``message``, ``presence``, ``reset``, ``notice``, ``error``) as
    ``{"type": event, **data}``: the NDJSON hub line with ``type`` for ``event``."""
    return encode_frame({"type": event, **data})


def ack_frame(message_id: str) -> str:
    return encode_frame({"type": ACK, "id": message_id})


def restart_reason(retry_ms: int) -> str:
    """The reason of the 1001 close a stopping server sends: ``{"retry_ms": n}``, the
    reconnect delay (with jitter) an SSE stream gets in its ``retry:``."""
    return encode_frame({"retry_ms": retry_ms})
