"""The app with real nginx in front (``showcase.tools.proxy.start_proxy`` on free ports), and a raw
HTTP/1.1 reader that keeps each socket read apart, so a test can tell messages that arrived
one by one from messages that arrived together."""

from __future__ import annotations

import re
import subprocess
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.tools.launcher import RunningServer, start_server
from showcase.tools.proxy import Proxy, start_proxy
from showcase.tools.response_head import read_head
from tests.integration.wire import open_raw

READ_TIMEOUT_S = 15.0  # longer than any gap a test makes (5 s), shorter than pytest's timeout
SEQ = re.compile(rb'"seq":(\d+)')
# A message is complete once its line ends: an SSE data line or an NDJSON line.
COMPLETE_MESSAGE = re.compile(rb'"seq":(\d+)[^\n]*\n')
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass
class ProxiedApp:
    app: RunningServer
    proxy: Proxy


@contextmanager
def app_behind_nginx(workdir: Path, env: Mapping[str, str]) -> Iterator[ProxiedApp]:
    """``showcase serve`` (one worker, ``env`` added) and nginx in front of it, both on free
    ports of 127.0.0.1; nginx stopped first, then the app, each by its PID."""
    app = start_server(workdir / "gunicorn.log", env=env)
    try:
        with start_proxy(app.url, workdir / "nginx") as proxy:
            yield ProxiedApp(app, proxy)
    finally:
        app.stop()


@dataclass
class StreamReads:
    """A response read by a client: ``reads`` holds, per socket read, the body bytes it
    brought once de-chunked and decoded (``Content-Encoding``); ``complete`` says the body
    ended as its framing says (a last chunk), not by the connection being closed."""

    status: int
    headers: dict[str, str]
    reads: list[bytes] = field(default_factory=list)
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.reads)

    def seqs(self) -> list[int]:
        """The ``seq`` of every message, in arrival order."""
        return [int(seq) for seq in SEQ.findall(self.body)]

    def messages_per_read(self) -> list[int]:
        """How many messages each read completed (0 for reads of framing or heartbeats)."""
        counts = []
        seen = 0
        so_far = b""
        for data in self.reads:
            so_far += data
            total = len(COMPLETE_MESSAGE.findall(so_far))
            counts.append(total - seen)
            seen = total
        return counts

    def reads_with_messages(self) -> list[int]:
        return [count for count in self.messages_per_read() if count]


def read_stream(url: str, headers: Mapping[str, str] | None = None) -> StreamReads:
    """GET ``url`` over HTTP/1.1 (``Connection: close``) and read it to the end, read by
    read: the bytes that came with the head count as the first read."""
    base, _, rest = url.partition("://")[2].partition("/")
    with open_raw(f"http://{base}", "/" + rest, dict(headers or {})) as sock:
        sock.settimeout(READ_TIMEOUT_S)
        status, response_headers, first = read_head(sock)
        result = StreamReads(status, response_headers)
        chunked = response_headers.get("transfer-encoding") == "chunked"
        decoder = ChunkedDecoder()
        coding = response_headers.get("content-encoding")
        decompressor = zlib.decompressobj(WBITS[coding]) if coding else None
        deadline = time.monotonic() + READ_TIMEOUT_S
        data = first
        while True:
            if data:
                payload = data
                if chunked:
                    items = decoder.feed(data)
                    payload = b"".join(item.data for item in items if isinstance(item, Chunk))
                    result.complete = any(isinstance(item, EndOfBody) for item in items)
                if decompressor is not None:
                    payload = decompressor.decompress(payload)
                result.reads.append(payload)
            if result.complete or time.monotonic() > deadline:
                break
            data = sock.recv(65536)
            if not data:
                result.complete = not chunked and "content-length" not in response_headers
                break
    return result


def curl_http2_reads(url: str) -> tuple[str, list[bytes]]:
    """``curl --http2 -k -N`` (no h2 client in the venv): the HTTP version curl used and
    each read of its stdout, which curl writes as each DATA frame arrives."""
    argv = ["curl", "--http2", "-k", "-sS", "-N", "-w", "%{stderr}%{http_version}", url]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as curl:
        assert curl.stdout is not None and curl.stderr is not None
        reads = []
        while data := curl.stdout.read1(65536):
            reads.append(data)
        version = curl.stderr.read().decode().strip()
        curl.wait(READ_TIMEOUT_S)
    return version, reads
