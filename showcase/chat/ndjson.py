"""The NDJSON chat shape of an answer, the way local model servers stream ``/api/chat``:
one ``{"model", "created_at", "message": {"role", "content"}, "done": false}`` line per
token, then a ``"done": true`` line with ``done_reason`` and timing (nanoseconds).
Pure: no Flask, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from showcase.pure.framing.ndjson import encode_json, encode_line
from showcase.pure.message import Message
from showcase.pure.modes import Mode

MIMETYPE = "application/x-ndjson"


def iso_time(ts_ms: float) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, as ``created_at`` is written."""
    moment = datetime.fromtimestamp(ts_ms / 1000.0, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def final_line(model: str, data: dict[str, Any], content: str = "") -> dict[str, Any]:
    """The ``done: true`` record from an end Message's data (durations in ns)."""
    total_ns = int((data["ts"] - data["started_ms"]) * 1e6)
    return {
        "model": model,
        "created_at": iso_time(data["ts"]),
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": data["finish_reason"],
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": data["prompt_tokens"],
        "prompt_eval_duration": 0,
        "eval_count": data["completion_tokens"],
        "eval_duration": total_ns,
    }


def ndjson_chat_mode(model: str) -> Mode:
    """One line per token Message; the end Message gives the ``done`` line; an error
    Message gives ``{"error": detail, "reason": code}`` (how these servers report one).
    No heartbeat: their clients parse every line, and a blank one is not JSON to them."""
    # Spliced, as in the OpenAI framing: the token is the only part that changes.
    model_json = encode_json(model)

    def encode(message: Message) -> bytes:
        if message.event == "token":
            return (
                f'{{"model":{model_json},"created_at":"{iso_time(message.ts)}",'
                f'"message":{{"role":"assistant","content":{encode_json(message.text)}}},'
                f'"done":false}}\n'
            ).encode()
        if message.event == "end":
            return encode_line(final_line(model, message.data))
        return encode_line({"error": message.data["detail"], "reason": message.data["reason"]})

    return Mode(name="ndjson-chat", mimetype=MIMETYPE, encode=encode)


def build_reply(model: str, tokens: Iterable[str], end: Message) -> dict[str, Any]:
    """The one object of a request with ``"stream": false``."""
    return final_line(model, end.data, "".join(tokens))
