"""Framing: wire bytes per message and framing overhead (wire ÷ payload − 1) of every mode at
16 B, 1 KiB and 64 KiB of padding, chunk-size lines, ``data:`` prefixes and line ends
included; and the client-side parse cost per message: the project's parsers alone
(``showcase.pure.framing``), fed the body in the reads it arrived in.

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
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from benchmarks.infra.harness import add_common_args, open_target, progress, report
from benchmarks.report.stats import median
from benchmarks.report.tables import fmt, number_table
from showcase.pure.framing.chunked import Chunk, ChunkedDecoder
from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import SSEParser

MODES = ("sse", "ndjson", "chunked")
SIZES = (16, 1024, 65536)
FLUSHES = ("auto", "each")
MESSAGES = {16: 2000, 1024: 500, 65536: 50}
READ_BYTES = 64 * 1024  # one recv() of the capture: the reads the parse cost is fed
PARSE_REPEATS_S = 0.3  # parse the captured reads again and again for about this long
TIMEOUT_S = 30.0


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


def measure_point(url: str, mode: str, size: int, flush: str, count: int) -> dict[str, Any]:
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
        task = bar.add_task("framing", total=args.runs * len(sizes) * len(modes) * 2, note="")
        for run in range(args.runs):
            points = []
            for size in sizes:
                count = max(10, MESSAGES.get(size, 100) // (10 if args.quick else 1))
                for mode in modes:
                    for flush in FLUSHES:
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
