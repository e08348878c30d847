"""The Coze v3 chat stream shape: ``conversation.message.delta`` events, then
``conversation.message.completed``, then ``done`` with ``data: [DONE]``. Pure: no Flask, no I/O.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from showcase.pure.framing.ndjson import encode_json
from showcase.pure.framing.sse import SSE_MIMETYPE, encode_comment, encode_event
from showcase.pure.message import Message
from showcase.pure.modes import Mode

DELTA = "conversation.message.delta"
COMPLETED = "conversation.message.completed"
DONE = encode_event("[DONE]", event="done")
ERROR_CODE = 5000  # Coze reports failures as {"code", "msg"}; ours add a short "reason"


@dataclass(frozen=True, slots=True)
class CozeChat:
    """The ids every event of one answer repeats."""

    bot_id: str
    chat_id: str
    conversation_id: str
    message_id: str
    created_at: int  # Unix seconds


def new_chat(bot_id: str, created_at: int) -> CozeChat:
    def new_id() -> str:
        return str(secrets.randbits(62))

    return CozeChat(bot_id, new_id(), new_id(), new_id(), created_at)


def message_body(chat: CozeChat, content: str) -> dict[str, Any]:
    return {
        "id": chat.message_id,
        "conversation_id": chat.conversation_id,
        "bot_id": chat.bot_id,
        "chat_id": chat.chat_id,
        "role": "assistant",
        "type": "answer",
        "content": content,
        "content_type": "text",
        "created_at": chat.created_at,
    }


def coze_error_event(reason: str, detail: str) -> bytes:
    """``event: error`` with ``{"code", "msg", "reason"}``: the last event of a failed stream."""
    body = {"code": ERROR_CODE, "msg": detail, "reason": reason}
    return encode_event(encode_json(body), event="error")


def coze_mode(chat: CozeChat) -> Mode:
    """A delta event per token Message (one character from the typewriter, a few from the
    mock upstream); the end Message gives ``completed`` (its ``content``) and ``done``; an
    error Message gives ``event: error`` and nothing after it."""
    head, _, tail = encode_json(message_body(chat, "\0")).partition('"\\u0000"')
    prefix = f"event: {DELTA}\ndata: ".encode()

    def encode(message: Message) -> bytes:
        if message.event == "token":
            return prefix + (head + encode_json(message.text) + tail).encode() + b"\n\n"
        if message.event == "end":
            body = message_body(chat, message.data["content"])
            return encode_event(encode_json(body), event=COMPLETED) + DONE
        return coze_error_event(message.data["reason"], message.data["detail"])

    return Mode(
        name="coze",
        mimetype=SSE_MIMETYPE,
        encode=encode,
        heartbeat=encode_comment("heartbeat"),
    )
