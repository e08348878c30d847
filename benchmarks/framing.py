"""Framing: wire bytes per message and framing overhead (wire ÷ payload − 1) of every mode at
16 B, 1 KiB and 64 KiB of padding, chunk-size lines, ``data:`` prefixes and line ends
included; and the client-side parse cost per message: the project's parsers alone
(``showcase.pure.framing``), fed the body in the reads it arrived in.

WebSocket (``/ws``): the frames after the 101 (frame headers and the close frame included),
parsed by the websockets library's sans-I/O client, as the load generator does; one frame a
message, so only ``flush=each``. Long polling (``/poll``): every byte of every request and
answer (heads included) over one keep-alive connection, the client asking with ``next`` each
time: ``flush=each`` paces a message every POLL_INTERVAL_MS so each answer carries one, as
a feed or a dashboard sees it; ``flush=auto`` has every message ready at once, so an answer
carries all that are due (the batching a stream's ``flush=auto`` does). Its parse cost is
the heads' split and each answer's ``json.loads``.

The payload of a message is its compact JSON (``{"seq":…,"ts":…,"pad":…}``) in every mode,
so plain text, which drops the keys, can come out below 0 %.

    python -m benchmarks.framing [--quick] [--url URL] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from benchmarks.infra.harness import add_common_args, open_target, progress, report
from benchmarks.report.stats import median
from benchmarks.report.tables import fmt, number_table
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSEParser

MODES = ("sse", "ndjson", "chunked", "ws", "poll")
SIZES = (16, 1024, 65536)
FLUSHES = ("auto", "each")
MESSAGES = {16: 2000, 1024: 500, 65536: 50}
READ_BYTES = 64 * 1024  # one recv() of the capture: the reads the parse cost is fed
PARSE_REPEATS_S = 0.3  # parse the captured reads again and again for about this long
TIMEOUT_S = 30.0
# One frame a message whatever the policy: ws has no batching to compare.
FLUSHES_OF = {"ws": ("each",)}
POLL_INTERVAL_MS = 20  # poll flush=each: a message every 20 ms, each answer carries one
POLL_MESSAGES_AT_MOST = 200  # paced: 4 s a point at most
POLL_WAIT_MS = 5000
# RFC 6455's sample key: the handshake is the same bytes every time, so a capture's 101 can
# be parsed again by a fresh client (which checks the accept key against its own).
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def fetch_reads(url: str, path: str) -> tuple[int, list[bytes]]:
    """GET ``path`` with a plain socket; the status and the body (still chunked) in the reads
    it came in, ``recv(READ_BYTES)`` each: what a streaming client hands its parser."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and (piece := sock.recv(READ_BYTES)):
            head += piece
        head, _, first = head.partition(b"\r\n\r\n")
        reads = [first] if first else []
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and (piece := sock.recv(READ_BYTES)):
            reads.append(piece)
    return int(head.split(b" ", 2)[1]), reads


def fetch_ws(url: str, path: str) -> tuple[int, bytes, list[bytes]]:
    """Open ``path`` as a WebSocket and read it to its close: the status, the 101's head and
    the frames after it in the reads they came in. The close is answered, as a client does."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    client = ws_client(host, port, path)
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        client.send_request(client.connect())
        for data in client.data_to_send():
            sock.sendall(data)
        head, reads = b"", []
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and (piece := sock.recv(READ_BYTES)):
            if b"\r\n\r\n" not in head:
                head += piece
                if b"\r\n\r\n" not in head:
                    continue
                head, _, piece = head.partition(b"\r\n\r\n")
                head += b"\r\n\r\n"
                client.receive_data(head)
            if piece:
                reads.append(piece)
                client.receive_data(piece)
            client.events_received()
            for data in client.data_to_send():
                if data:
                    sock.sendall(data)
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, head, reads


def ws_client(host: str, port: int, path: str) -> ClientProtocol:
    client = ClientProtocol(parse_uri(f"ws://{host}:{port}{path}"), max_size=None)
    client.key = WS_KEY  # the key the capture's accept answers
    return client


def parse_ws_reads(head: bytes, reads: list[bytes]) -> tuple[int, float]:
    """Messages and the process seconds of parsing the frames: a fresh client fed the 101
    (not timed: a connection's cost, not a message's), then every read, each text frame's
    payload through ``json.loads``."""
    client = ws_client("127.0.0.1", 80, "/ws")
    client.send_request(client.connect())
    client.receive_data(head)
    client.events_received()
    made = 0
    started = time.process_time()
    for read in reads:
        client.receive_data(read)
        for event in client.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                json.loads(bytes(event.data))
                made += 1
    return made, time.process_time() - started


def fetch_polls(url: str, path: str) -> tuple[list[tuple[bytes, bytes, bytes]], list[Any]]:
    """Poll ``path`` with ``after=next`` each time, on one keep-alive connection, until an
    answer says ``done``: every (request, head, body) and every message received."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    exchanges: list[tuple[bytes, bytes, bytes]] = []
    messages: list[Any] = []
    after = ""  # the first poll names none: from the first message
    deadline = time.monotonic() + TIMEOUT_S
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        while time.monotonic() < deadline:
            request = f"GET {path}{after} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            sock.sendall(request)
            buffer = b""
            while b"\r\n\r\n" not in buffer and (piece := sock.recv(READ_BYTES)):
                buffer += piece
            head, _, rest = buffer.partition(b"\r\n\r\n")
            body = read_body(sock, head, rest)
            exchanges.append((request, head + b"\r\n\r\n", body))
            answer = json.loads(answer_json(head, body))
            messages += answer["messages"]
            after = f"&after={answer['next']}"
            if answer["done"]:
                break
    return exchanges, messages


def header_value(head: bytes, wanted: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip()
    return None


def read_body(sock: socket.socket, head: bytes, body: bytes) -> bytes:
    """The rest of an answer's body as it came (still chunked when it was): an answer ready
    at once has a Content-Length; one that waited for its message is streamed, chunked."""
    length = header_value(head, b"content-length")
    if length is not None:
        while len(body) < int(length) and (piece := sock.recv(READ_BYTES)):
            body += piece
        return body
    decoder = ChunkedDecoder()
    decoder.feed(body)
    while not decoder.done and (piece := sock.recv(READ_BYTES)):
        body += piece
        decoder.feed(piece)
    return body


def answer_json(head: bytes, body: bytes) -> bytes:
    """The JSON of an answer: the body, or its chunks' data joined when it came chunked."""
    if header_value(head, b"transfer-encoding") != b"chunked":
        return body
    return b"".join(item.data for item in ChunkedDecoder().feed(body) if isinstance(item, Chunk))


def parse_poll_answers(exchanges: list[tuple[bytes, bytes, bytes]]) -> tuple[int, float]:
    """Messages and the process seconds a poll client spends on the answers: each head split
    into lines for its framing (and a chunked body decoded), each body through ``json.loads``."""
    made = 0
    started = time.process_time()
    for _, head, body in exchanges:
        made += len(json.loads(answer_json(head, body))["messages"])
    return made, time.process_time() - started


def json_payload(seq: bytes, ts: bytes, pad: bytes) -> int:
    """Bytes of the compact JSON a plain-text tick line stands for."""
    data = {"seq": int(seq), "ts": float(ts), "pad": pad.decode()}
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def parse_body(mode: str, body: bytes) -> tuple[int, int]:
    """Decode chunking, then the mode's framing: (messages, JSON payload bytes). Counting
    only, never timed: plain text is split into its lines here to find its payload."""
    decoder = ChunkedDecoder()
    messages = payload = 0
    sse, ndjson = SSEParser(), NDJSONParser()
    carry = b""
    for start in range(0, len(body), READ_BYTES):
        for item in decoder.feed(body[start : start + READ_BYTES]):
            if not isinstance(item, Chunk):
                continue
            if mode == "sse":
                for event in sse.feed(item.data):
                    json.loads(event.data)
                    messages += 1
                    payload += len(event.data.encode())
            elif mode == "ndjson":
                for value in ndjson.feed(item.data):
                    messages += 1
                    payload += len(json.dumps(value, separators=(",", ":")).encode())
            else:
                lines = (carry + item.data).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    _, seq, ts, pad = line.split(b" ", 3)
                    messages += 1
                    payload += json_payload(seq, ts, pad)
    decoder.close()
    return messages, payload


def parse_reads(mode: str, reads: list[bytes]) -> int:
    """What a client of ``mode`` does with the project's parsers, and nothing else: every
    read through ``ChunkedDecoder``, the chunks through ``SSEParser`` (each ``data`` through
    ``json.loads``, so both JSON modes end with values) or ``NDJSONParser`` (which loads
    its lines). Plain text has no framing, and showcase.pure.framing no parser for it: its work
    ends at the chunks. Returns the messages (sse, ndjson) or chunk pieces (chunked) made."""
    decoder = ChunkedDecoder()
    made = 0
    if mode == "sse":
        sse = SSEParser()
        for read in reads:
            for item in decoder.feed(read):
                if isinstance(item, Chunk):
                    for event in sse.feed(item.data):
                        json.loads(event.data)
                        made += 1
    elif mode == "ndjson":
        ndjson = NDJSONParser()
        for read in reads:
            for item in decoder.feed(read):
                if isinstance(item, Chunk):
                    made += len(ndjson.feed(item.data))
    else:
        for read in reads:
            made += sum(isinstance(item, Chunk) for item in decoder.feed(read))
    return made


def parse_cost_us(mode: str, reads: list[bytes], messages: int) -> float:
    """Client CPU µs per message of ``parse_reads`` (process time, ns resolution), repeated
    for about PARSE_REPEATS_S so that a short body is still timed over many runs."""
    repeats = 0
    started = time.process_time()
    while repeats < 200 and (repeats == 0 or time.process_time() - started < PARSE_REPEATS_S):
        parse_reads(mode, reads)
        repeats += 1
    return (time.process_time() - started) / (repeats * max(1, messages)) * 1e6


def repeat_parse(parse: Callable[[], tuple[int, float]]) -> float:
    """Process µs per message of ``parse`` (which times itself), run for PARSE_REPEATS_S."""
    repeats = made = 0
    spent = 0.0
    while repeats < 200 and (repeats == 0 or spent < PARSE_REPEATS_S):
        count, seconds = parse()
        made += count
        spent += seconds
        repeats += 1
    return spent / max(1, made) * 1e6


def measure_ws_point(url: str, size: int, count: int) -> dict[str, Any]:
    status, head, reads = fetch_ws(url, f"/ws?count={count}&interval=0&size={size}")
    messages, _ = parse_ws_reads(head, reads) if status == 101 else (0, 0.0)
    client = ws_client("127.0.0.1", 80, "/ws")
    client.send_request(client.connect())
    payload = 0
    for read in [head, *reads] if status == 101 else []:
        client.receive_data(read)
        for event in client.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                payload += len(event.data)
    wire = sum(map(len, reads))
    return point_of(
        "ws",
        size,
        "each",
        status,
        messages,
        wire,
        payload,
        len(reads),
        repeat_parse(lambda: parse_ws_reads(head, reads)) if messages else None,
        {"head_bytes": len(head)},
    )


def measure_poll_point(url: str, size: int, flush: str, count: int) -> dict[str, Any]:
    paced = flush == "each"
    if paced:
        count = min(count, POLL_MESSAGES_AT_MOST)
    interval = POLL_INTERVAL_MS if paced else 0
    start = time.time() * 1000.0
    path = f"/poll?count={count}&interval={interval}&size={size}&wait={POLL_WAIT_MS}"
    exchanges, received = fetch_polls(url, f"{path}&start={start:.3f}")
    payload = sum(len(json.dumps(m, separators=(",", ":")).encode()) for m in received)
    requests_bytes = sum(len(request) for request, _, _ in exchanges)
    heads = sum(len(head) for _, head, _ in exchanges)
    wire = requests_bytes + heads + sum(len(body) for _, _, body in exchanges)
    messages = len(received)
    return point_of(
        "poll",
        size,
        flush,
        200 if exchanges else 0,
        messages,
        wire,
        payload,
        len(exchanges),
        repeat_parse(lambda: parse_poll_answers(exchanges)) if messages else None,
        {
            "requests": len(exchanges),
            "requests_per_message": len(exchanges) / messages if messages else None,
            "header_bytes_per_message": (requests_bytes + heads) / messages if messages else None,
        },
    )


def point_of(
    mode: str,
    size: int,
    flush: str,
    status: int,
    messages: int,
    wire: int,
    payload: int,
    reads: int,
    parse_us: float | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "mode": mode,
        "size": size,
        "flush": flush,
        "status": status,
        "messages": messages,
        "wire_bytes": wire,
        "payload_bytes": payload,
        "wire_bytes_per_message": wire / messages if messages else None,
        "payload_bytes_per_message": payload / messages if messages else None,
        "overhead": wire / payload - 1 if payload else None,
        "reads": reads,
        "parse_us_per_message": parse_us,
        **extra,
    }


def measure_point(url: str, mode: str, size: int, flush: str, count: int) -> dict[str, Any]:
    if mode == "ws":
        return measure_ws_point(url, size, count)
    if mode == "poll":
        return measure_poll_point(url, size, flush, count)
    path = f"/stream/{mode}?count={count}&interval=0&size={size}&flush={flush}"
    status, reads = fetch_reads(url, path)
    body = b"".join(reads)
    messages, payload = parse_body(mode, body) if status == 200 else (0, 0)
    wire = len(body)
    return {
        "mode": mode,
        "size": size,
        "flush": flush,
        "status": status,
        "messages": messages,
        "wire_bytes": wire,
        "payload_bytes": payload,
        "wire_bytes_per_message": wire / messages if messages else None,
        "payload_bytes_per_message": payload / messages if messages else None,
        "overhead": wire / payload - 1 if payload else None,
        "reads": len(reads),
        "parse_us_per_message": parse_cost_us(mode, reads, messages) if messages else None,
    }


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for run in runs:
        for p in run["points"]:
            summary.setdefault(f"{p['mode']}/{p['size']}/{p['flush']}", []).append(p)
    return {
        key: {
            "mode": points[0]["mode"],
            "size": points[0]["size"],
            "flush": points[0]["flush"],
            **{
                name: median([p[name] for p in points])
                for name in (
                    "wire_bytes_per_message",
                    "payload_bytes_per_message",
                    "overhead",
                    "parse_us_per_message",
                )
            },
            **{  # polling's own: what its requests cost besides the messages
                name: median([p[name] for p in points])
                for name in ("requests_per_message", "header_bytes_per_message")
                if name in points[0]
            },
        }
        for key, points in summary.items()
    }


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table(
        "framing: bytes on the wire per message, and parse cost (medians)",
        (
            "pad B",
            "mode",
            "flush",
            "payload B/msg",
            "wire B/msg",
            "overhead",
            "parse µs/msg",
        ),
    )
    for row in sorted(summary.values(), key=lambda r: (r["size"], r["flush"])):
        table.add_row(
            str(row["size"]),
            row["mode"],
            row["flush"],
            fmt(row["payload_bytes_per_message"], 1),
            fmt(row["wire_bytes_per_message"], 1),
            fmt((row["overhead"] or 0) * 100, 1) + " %",
            fmt(row["parse_us_per_message"], 2),
        )
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench framing", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pad bytes")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    modes = [m for m in args.modes.split(",") if m]
    runs: list[dict[str, Any]] = []
    with open_target(args, "framing") as target, progress() as bar:
        points_a_run = len(sizes) * sum(len(FLUSHES_OF.get(mode, FLUSHES)) for mode in modes)
        task = bar.add_task("framing", total=args.runs * points_a_run, note="")
        for run in range(args.runs):
            points = []
            for size in sizes:
                count = max(10, MESSAGES.get(size, 100) // (10 if args.quick else 1))
                for mode in modes:
                    for flush in FLUSHES_OF.get(mode, FLUSHES):
                        bar.update(task, note=f"run {run + 1}: {mode} {size} B flush={flush}")
                        points.append(measure_point(target.url, mode, size, flush, count))
                        bar.advance(task)
            runs.append({"run": run, "points": points})
    summary = summarize_runs(runs)
    config = {"modes": modes, "sizes": sizes, "flushes": FLUSHES, "read_bytes": READ_BYTES}
    return report(
        "framing",
        args,
        config,
        target.settings,
        runs,
        summary,
        lambda console: print_table(summary, console),
    )


if __name__ == "__main__":
    sys.exit(main())
