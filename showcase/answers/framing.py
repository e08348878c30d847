"""An answer's items framed for its readers, with their positions: OpenAI chunks as SSE events
with ``id: <seq>``, NDJSON chat lines with ``"id"`` (the answer) and ``"seq"``.

Pure: no Flask, no I/O. An error item with seq -1 is the reader's own (the log could not
be followed), not the log's: it has no id. A ``HEARTBEAT`` item (yielded by a reader that
waited in silence) is an SSE comment, and nothing in NDJSON (its clients parse every line).
"""

from __future__ import annotations

from typing import Any

from showcase.answers.log import AnswerMeta
from showcase.chat.ndjson import MIMETYPE as NDJSON_MIMETYPE
from showcase.chat.ndjson import final_line, iso_time
from showcase.chat.openai import (
    DONE,
    Completion,
    chunk,
    error_body,
    usage,
)
from showcase.pure.framing.ndjson import encode_json, encode_line
from showcase.pure.framing.sse import SSE_MIMETYPE, encode_comment
from showcase.pure.message import Message
from showcase.pure.modes import Mode

HEARTBEAT = Message(seq=-1, ts=0.0, event="heartbeat", data={}, text="")
SSE_HEARTBEAT = encode_comment("heartbeat")


def completion_of(answer_id: str, meta: AnswerMeta) -> Completion:
    return Completion(answer_id, meta.created, meta.model, meta.include_usage)


def sse_event(seq: int, data: str) -> bytes:
    """An event with ``id: <seq>``; none for an item the log does not hold (seq < 0: this
    reader's own error, after which a resume must not skip the log's item of that seq)."""
    if seq < 0:
        return b"data: %b\n\n" % data.encode()
    return b"id: %d\ndata: %b\n\n" % (seq, data.encode())


def openai_answer_mode(completion: Completion, *, preamble: bool) -> Mode:
    """As ``chat.openai.openai_mode``, each chunk an event with ``id: <seq>``: a content chunk
    per token; for the end item its ``finish_reason`` chunk (``"cancelled": true`` at the top
    level when it was cancelled), the usage chunk with include_usage, and ``data: [DONE]``
    (no id). ``preamble``: the role chunk first (no id: it is no item), for a reader from the
    start."""
    head, _, tail = encode_json(chunk(completion, {"content": "\0"})).partition('"\\u0000"')

    def encode(message: Message) -> bytes:
        seq = message.seq
        if message.event == "token":
            return sse_event(seq, head + encode_json(message.text) + tail)
        if message.event == "heartbeat":
            return SSE_HEARTBEAT
        if message.event == "end":
            data = message.data
            last: dict[str, Any] = chunk(completion, {}, data["finish_reason"])
            if data.get("cancelled"):
                last["cancelled"] = True
            parts = [sse_event(seq, encode_json(last))]
            if completion.include_usage:
                body = chunk(completion, {})
                body["choices"] = []
                body["usage"] = usage(data["prompt_tokens"], data["completion_tokens"])
                parts.append(sse_event(seq, encode_json(body)))
            return b"".join([*parts, DONE])
        error = error_body(message.data["detail"], code=message.data["reason"], kind="server_error")
        return sse_event(seq, encode_json(error)) + DONE

    role = chunk(completion, {"role": "assistant", "content": ""})
    return Mode(
        name="openai",
        mimetype=SSE_MIMETYPE,
        encode=encode,
        preamble=b"data: " + encode_json(role).encode() + b"\n\n" if preamble else b"",
        heartbeat=SSE_HEARTBEAT,
    )


def ndjson_answer_mode(answer_id: str, model: str) -> Mode:
    """As ``chat.ndjson.ndjson_chat_mode``, each line with ``"id"`` and ``"seq"``; a cancelled
    answer's ``done`` line says ``"cancelled": true``."""
    model_json, id_json = encode_json(model), encode_json(answer_id)

    def encode(message: Message) -> bytes:
        if message.event == "token":
            return (
                f'{{"model":{model_json},"created_at":"{iso_time(message.ts)}",'
                f'"message":{{"role":"assistant","content":{encode_json(message.text)}}},'
                f'"done":false,"id":{id_json},"seq":{message.seq}}}\n'
            ).encode()
        if message.event == "heartbeat":
            return b""
        if message.event == "end":
            line = final_line(model, message.data)
            if message.data.get("cancelled"):
                line["cancelled"] = True
            return encode_line({**line, "id": answer_id, "seq": message.seq})
        error = {"error": message.data["detail"], "reason": message.data["reason"]}
        if message.seq < 0:  # this reader's own error, not an item of the log
            return encode_line({**error, "id": answer_id})
        return encode_line({**error, "id": answer_id, "seq": message.seq})

    return Mode(name="ndjson-chat", mimetype=NDJSON_MIMETYPE, encode=encode)
