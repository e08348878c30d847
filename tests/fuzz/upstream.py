"""A hostile upstream for the relays: raw sockets in threads on a free loopback port, each
request answered with the bytes of the current ``Script`` (split into writes with pauses,
then a close, a reset, or a stall bounded in time), and the strategies that build them.

A script says what the relay may answer (``verdict``): ``stream`` (a 200 event stream that
ends cleanly, with or without ``event: error``), ``pass`` (the hop passes a 204 or 4xx on),
``refuse`` (the upstream failed before the relay's first byte: 502, or 504 for a stall), or
``either`` for a head the parsers may read either way (a bare LF inside a header).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.strategies import json_text

STALL_S = 0.8  # longer than the relays' read timeout in this suite (0.5 s), then a close
LONG_LINE_BYTES = (1 << 20) + 16  # one line past the SSE parser's 1 MiB limit
SSE_TYPES = ("text/event-stream", "text/event-stream; charset=utf-8", "Text/Event-Stream")
FRAMING_HEADERS = ("content-length", "transfer-encoding", "content-type", "connection")


class Script:
    """What the upstream sends to one request, and what the relay may answer. Not a
    dataclass: Hypothesis prints a dataclass field by field, a 1 MiB line whole."""

    __slots__ = ("pieces", "pause_s", "ending", "verdict", "status")

    def __init__(
        self,
        pieces: tuple[bytes, ...],  # written in order, ``pause_s`` apart
        pause_s: float,
        ending: str,  # "close", "reset" or "stall" (hold the connection STALL_S, then close)
        verdict: str,  # "stream", "pass", "refuse" or "either"
        status: int = 0,  # the head's status, for "pass" and "either"
    ) -> None:
        self.pieces = pieces
        self.pause_s = pause_s
        self.ending = ending
        self.verdict = verdict
        self.status = status

    def __repr__(self) -> str:
        shown = [
            repr(p) if len(p) <= 300 else f"{p[:150]!r} + ({len(p) - 210} bytes) + {p[-60:]!r}"
            for p in self.pieces
        ]
        return (
            f"Script(pieces=[{', '.join(shown)}], pause_s={self.pause_s}, "
            f"ending={self.ending!r}, verdict={self.verdict!r}, status={self.status})"
        )


class HostileUpstream:
    """Accepts any number of connections; each reads one request head and plays the
    ``script`` set at that moment. ``wait_idle`` waits until every answer is played."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.script = Script((), 0.0, "close", "refuse")
        self.lock = threading.Lock()
        self.handlers: list[threading.Thread] = []
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed
            handler = threading.Thread(target=self.answer, args=(sock, self.script), daemon=True)
            with self.lock:
                self.handlers.append(handler)
            handler.start()

    def answer(self, sock: socket.socket, script: Script) -> None:
        with sock:
            try:
                sock.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    piece = sock.recv(65536)
                    if not piece:
                        break
                    head += piece
                with self.lock:
                    self.requests.append(head)
                for index, piece in enumerate(script.pieces):
                    if index:
                        time.sleep(script.pause_s)
                    sock.sendall(piece)
                if script.ending == "stall":
                    time.sleep(STALL_S)
                elif script.ending == "reset":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass  # the relay left first (it may reset): nothing more to play

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self.lock:
            handlers, self.handlers = self.handlers, []
        for handler in handlers:
            handler.join(max(0.0, deadline - time.monotonic()))
            assert not handler.is_alive(), "the upstream is still answering"

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)
        self.wait_idle()


# The body: event blocks, good or hostile, as the relay's flavour of upstream sends them.
def tick(seq: int) -> bytes:
    return b'event: ticks\nid: %d\ndata: {"seq": %d}\n\n' % (seq, seq)


def delta(content: str) -> bytes:
    data = json.dumps({"content": content}, ensure_ascii=True).encode()
    return b"event: conversation.message.delta\ndata: " + data + b"\n\n"


DONE = b"event: conversation.message.completed\ndata: {}\n\nevent: done\ndata: [DONE]\n\n"
hostile_block = st.one_of(
    st.integers(min_value=1, max_value=6000).map(lambda n: b"retry: " + b"9" * n + b"\n\n"),
    st.sampled_from([b"retry: -1\n\n", b"retry: 1e3\n\n", b"retry: \xd9\xa1\n\n"]),
    st.binary(max_size=40).map(lambda b: b"id: " + b + b"\ndata: x\n\n"),
    st.binary(max_size=60).map(lambda b: b"data: " + b + b"\n\n"),
    st.binary(max_size=60).map(lambda b: b": " + b + b"\n"),
    st.binary(max_size=120),
    st.sampled_from(
        [
            b"\xef\xbb\xbf",  # a BOM (only the first is dropped)
            b"data: \xff\xfe\xed\xa0\x80\n\n",  # invalid UTF-8, a surrogate's bytes
            b"data: a\x00b\n\n",
            b"event: \x00\ndata: x\n\n",
            b"data\n\n",
            b":\n\n",
            b"\n\n\n\n",
            b'event: error\ndata: {"code": 4100, "msg": "upstream says no"}\n\n',
            b"event: conversation.message.delta\ndata: not json\n\n",
            b'event: conversation.message.delta\ndata: {"content": 5}\n\n',
            b"data: [DONE]\n\n",
        ]
    ),
    st.just(b"data: " + b"x" * LONG_LINE_BYTES),  # an endless line, cut at the cap
)


@st.composite
def body_blocks(draw: st.DrawFn, coze: bool) -> bytes:
    good = st.builds(delta, json_text) if coze else st.integers(0, 99).map(tick)
    blocks = draw(st.lists(st.one_of(good, good, hostile_block), max_size=6))
    if coze and draw(st.booleans()):
        blocks.append(DONE)
    body = b"".join(blocks)
    line_end = draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]))
    return body.replace(b"\n", line_end) if line_end != b"\n" else body


def chunked(body: bytes, cuts: list[int], hostile: bytes | None, terminated: bool) -> bytes:
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    out = b"".join(
        b"%x\r\n%b\r\n" % (b - a, body[a:b]) for a, b in zip(points, points[1:], strict=False)
    )
    if hostile is not None:
        out += hostile
    return out + (b"0\r\n\r\n" if terminated else b"")


header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(lambda text: text.encode("latin-1"))
header_name = st.text(
    st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
    ),
    min_size=1,
    max_size=20,
).filter(lambda name: name.lower() not in FRAMING_HEADERS)
extra_headers = st.lists(
    st.tuples(header_name.map(str.encode), header_value).map(lambda p: p[0] + b": " + p[1]),
    max_size=4,
)
BAD_HEADS = (
    b"",
    b"HTTP/1.1 200 OK\r\n",  # the head never ends
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/2 200\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 OK\r\n\r\n",
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type text/event-stream\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n",
)


PASSED_ON = (204, 400, 404, 429)  # what the hop passes on as it was
REFUSED = (301, 500, 502, 503)  # what no relay passes on


@st.composite
def scripts(draw: st.DrawFn, coze: bool, failing: bool) -> Script:
    """A whole upstream answer for the hop (``coze`` False: ticks) or the Coze relay:
    ``failing``, one that fails before its body (verdict ``refuse``), else one that streams,
    is passed on, or may be read either way."""
    if failing:
        kind = draw(st.sampled_from(["status", "type", "bad"]))
    else:
        kind = draw(st.sampled_from(["good", "good", "good", "lf"] + ([] if coze else ["status"])))
    status = 200
    if kind == "bad":
        wire = draw(st.one_of(st.sampled_from(BAD_HEADS), st.binary(max_size=200)))
        verdict = "refuse"
    else:
        if kind == "status":
            codes = REFUSED if failing else PASSED_ON
            status = draw(st.sampled_from(codes + PASSED_ON if failing and coze else codes))
        elif kind == "lf":
            status = draw(st.sampled_from([200, 400, 404]))
        media = draw(st.sampled_from(SSE_TYPES))
        if kind == "type":
            media = draw(st.sampled_from(["text/html", "application/json", "text/plain", ""]))
        body = draw(body_blocks(coze))
        framing = draw(st.sampled_from(["chunked", "chunked", "length", "close"]))
        lines = [b"HTTP/1.1 %d %b" % (status, draw(st.sampled_from([b"OK", b"Whatever", b"\xfc"])))]
        if media:
            lines.append(b"Content-Type: " + media.encode())
        if kind == "lf":  # a bare LF inside a header: a line end to some parsers, not others
            lines[-1] += b"\nX-Injected: 1"
        lines += draw(extra_headers)
        if framing == "chunked":
            lines.append(b"Transfer-Encoding: chunked")
            cuts = draw(st.lists(st.integers(0, len(body)), max_size=4))
            bad = draw(
                st.one_of(st.none(), st.sampled_from([b"zz\r\n", b"5;x=y\r\nab", b"ff\r\n"]))
            )
            body = chunked(body, cuts, bad, terminated=draw(st.booleans()))
        elif framing == "length":
            declared = len(body) + draw(st.sampled_from([0, 0, 5, -1 if body else 0]))
            lines.append(b"Content-Length: %d" % declared)
        wire = b"\r\n".join(lines) + b"\r\n\r\n" + body
        verdict = {"good": "stream", "type": "refuse", "lf": "either"}.get(kind, "")
        if kind == "status":
            verdict = "pass" if not coze and (status == 204 or 400 <= status < 500) else "refuse"
    cuts = sorted(draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    points = [0, *cuts, len(wire)]
    pieces = tuple(wire[a:b] for a, b in zip(points, points[1:], strict=False) if b > a)
    ending = draw(st.sampled_from(["close", "close", "reset", "stall"]))
    pause_s = draw(st.sampled_from([0.0, 0.001, 0.01]))
    return Script(pieces, pause_s, ending, verdict, status)


def coze_request() -> dict[str, Any]:
    return {
        "bot_id": "b",
        "user_id": "u",
        "stream": True,
        "speed": 1000,
        "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
    }
