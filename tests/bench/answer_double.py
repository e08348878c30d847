"""A stand-in for the answers contract, small enough to read at a glance, for testing the
benchmark's client apart from the real server: ``POST /v1/chat/completions`` streams chunked
SSE (a role preamble with no id, one ``id: n`` event per token, the finish chunk with the last
id, ``data: [DONE]``), ``GET …/<id>/stream`` replays after ``?after=`` or ``Last-Event-ID``
(204 when nothing is left), ``POST …/cancel`` ends the answer with a cancelled chunk. Each
token is written as two chunks, so that a reader sees events split across reads."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

TOKENS = tuple(f" word{i}" for i in range(12))
PACE_S = 0.004


@dataclass
class Answer:
    items: list[bytes] = field(default_factory=list)  # encoded events, index = seq
    ended: bool = False
    cancelled: bool = False
    grew: asyncio.Event = field(default_factory=asyncio.Event)


def event(answer_id: str, seq: int, delta: dict[str, str], **extra: object) -> bytes:
    finish = extra.pop("finish", None)
    body = {"id": answer_id, "object": "chat.completion.chunk", **extra}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return f"id: {seq}\ndata: {json.dumps(body)}\n\n".encode()


class AnswerDouble:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.count = 0
        self.port = 0

    async def generate(self, answer_id: str, tokens: int) -> None:
        answer = self.answers[answer_id]
        for seq, token in enumerate(TOKENS[:tokens]):
            if answer.cancelled:
                return
            await asyncio.sleep(PACE_S)
            answer.items.append(event(answer_id, seq, {"content": token}))
            answer.grew.set()
        answer.items.append(event(answer_id, len(answer.items), {}, finish="stop"))
        answer.ended = True
        answer.grew.set()

    async def follow(self, writer: asyncio.StreamWriter, answer: Answer, start: int) -> None:
        position = start
        while True:
            while position < len(answer.items):
                data = answer.items[position]
                half = len(data) // 2
                for piece in (data[:half], data[half:]):
                    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    await writer.drain()
                position += 1
            if answer.ended:
                done = b"data: [DONE]\n\n"
                writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
                await writer.drain()
                return
            answer.grew.clear()
            await answer.grew.wait()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            line, *rest = head.split("\r\n")
            method, target, _ = line.split(" ")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            path, _, query = target.partition("?")
            chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            if method == "POST" and path == "/v1/chat/completions":
                self.count += 1
                answer_id = f"chatcmpl-{self.count:024x}"
                self.answers[answer_id] = Answer()
                asyncio.ensure_future(self.generate(answer_id, json.loads(body)["max_tokens"]))
                writer.write(f"{chunked}X-Answer-Id: {answer_id}\r\n\r\n".encode())
                role = f"data: {json.dumps({'id': answer_id, 'choices': []})}\n\n".encode()
                writer.write(f"{len(role):x}\r\n".encode() + role + b"\r\n")
                await self.follow(writer, self.answers[answer_id], 0)
            elif method == "GET" and path.endswith("/stream"):
                answer = self.answers[path.split("/")[-2]]
                after = query.removeprefix("after=") if query else headers.get("last-event-id")
                start = int(after) + 1 if after is not None else 0
                if answer.ended and start >= len(answer.items):
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    writer.write(f"{chunked}\r\n".encode())
                    await self.follow(writer, answer, start)
            elif method == "POST" and path.endswith("/cancel"):
                answer_id = path.split("/")[-2]
                answer = self.answers[answer_id]
                status = "finished" if answer.ended else "cancelled"
                if not answer.ended:
                    answer.cancelled = True
                    answer.items.append(
                        event(answer_id, len(answer.items), {}, finish="stop", cancelled=True)
                    )
                    answer.ended = True
                    answer.grew.set()
                reply = json.dumps({"id": answer_id, "status": status}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@contextmanager
def answer_double() -> Iterator[str]:
    """The double on a free 127.0.0.1 port in a thread (and event loop) of its own; its URL.
    At the end: the server closed, its tasks cancelled, the loop closed."""
    double = AnswerDouble()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = loop.create_future()

    async def serve() -> None:
        server = await asyncio.start_server(double.handle, "127.0.0.1", 0)
        double.port = server.sockets[0].getsockname()[1]
        ready.set()
        await stop
        server.close()
        await server.wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield f"http://127.0.0.1:{double.port}"
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(5)
        loop.close()
