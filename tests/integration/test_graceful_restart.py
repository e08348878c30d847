"""Graceful restart against real gunicorn + gevent servers.

SIGTERM: every open SSE stream, paused or busy writing, ends with ``: server restarting`` and
a ``retry:`` of base + jitter (a busy one too, also when its write is waiting for its
reader at that moment); NDJSON streams just end. A rolling restart (``kill -HUP`` of the
arbiter; ``kill -USR2`` then TERM of the old arbiter) under 100 resuming clients loses and
repeats nothing: each client's ids are exactly 0 … count - 1.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from showcase.pure.framing.chunked import Chunk, ChunkedDecoder, EndOfBody
from showcase.pure.framing.sse import SSEParser
from showcase.runtime.lifecycle import RestartNotice, restart_from_env
from showcase.tools.client import iter_sse
from showcase.tools.launcher import BOOTED, RunningServer, start_server
from showcase.tools.response_head import read_head
from tests.integration.wire import open_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

WAIT_S = 30.0  # a bound on waiting, not a speed target
NOTICE = re.compile(rb": server restarting\n(?:retry: (\d+)\n)?\n\Z")
TAIL_BYTES = 4096
HELD_WINDOW_BYTES = 4096
BUSY = "count=1000000&interval=0&size=512"  # longer than the test, even read at full speed


class RawStream:
    """One stream read to its end over a raw socket: its status, the SSE ids it carried
    (paced streams only: a busy one is kept as its tail), and how the body ended."""

    def __init__(
        self,
        url: str,
        target: str,
        *,
        parse: bool,
        hold: threading.Event | None = None,
        post: bytes | None = None,
    ) -> None:
        self.url, self.target, self.parse, self.hold = url, target, parse, hold
        self.post = post  # a JSON body to POST instead of a GET
        self.local_port = 0
        self.started = threading.Event()
        self.ids: list[int] = []
        self.tail = b""
        self.complete = False  # the body ended with its last chunk
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        parser = SSEParser()
        try:
            with self.connect() as sock:
                sock.settimeout(WAIT_S)
                status, _, rest = read_head(sock)
                assert status == 200, status
                decoder = ChunkedDecoder()
                items = decoder.feed(rest)
                while True:
                    for item in items:
                        if isinstance(item, EndOfBody):
                            self.complete = True
                        elif isinstance(item, Chunk):
                            self.tail = (self.tail + item.data)[-TAIL_BYTES:]
                            if self.parse:
                                self.ids += [int(event.id) for event in parser.feed(item.data)]
                            self.started.set()
                    if self.complete:
                        return
                    if self.hold is not None and self.tail:
                        self.hold.wait(WAIT_S)  # once it has data, stop reading until then
                    piece = sock.recv(65536)
                    if not piece:
                        return
                    items = decoder.feed(piece)
        except BaseException as error:  # reported by the assertions
            self.error = error
        finally:
            self.started.set()

    def connect(self) -> socket.socket:
        if self.post is not None:
            host, port = self.url.removeprefix("http://").split(":")
            sock = socket.create_connection((host, int(port)))
            head = (
                f"POST {self.target} HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(self.post)}\r\n\r\n"
            )
            sock.sendall(head.encode() + self.post)
            return sock
        if self.hold is None:
            return open_raw(self.url, self.target)
        # A small window, so the server's writes soon wait for this reader (held).
        host, port = self.url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, HELD_WINDOW_BYTES)
        sock.connect((host, int(port)))
        self.local_port = sock.getsockname()[1]
        sock.sendall(f"GET {self.target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return sock


def send_queue(server_url: str, client_port: int) -> int:
    """Bytes the server has queued on its socket to ``client_port`` (Linux /proc/net/tcp)."""
    server_port = int(server_url.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
            if (local, remote) == (server_port, client_port):
                return int(fields[4].split(":")[0], 16)
    return 0


def wait_writes_blocked(server_url: str, stream: RawStream) -> None:
    """Until the server's queue to ``stream`` is full: its send buffer stops growing."""
    deadline = time.monotonic() + WAIT_S
    last = -1
    while time.monotonic() < deadline:
        queued = send_queue(server_url, stream.local_port)
        if queued > 0 and queued == last:
            return
        last = queued
        time.sleep(0.3)
    raise AssertionError("the server's writes to a held reader never blocked")


def sigterm_and_wait(
    server: RunningServer, streams: list[RawStream], hold: threading.Event | None = None
) -> int:
    for stream in streams:
        stream.started.wait(WAIT_S)
    # Only once every stream has sent something: an empty stream proves nothing.
    assert all(stream.tail and stream.error is None for stream in streams), [
        (s.target, s.error) for s in streams if not s.tail or s.error
    ]
    server.process.send_signal(signal.SIGTERM)
    if hold is not None:
        time.sleep(0.2)  # let the signal land while those writes wait
        hold.set()  # then read again: a reader that reads gets the stream's end
    for stream in streams:
        stream.thread.join(WAIT_S)
    return server.process.wait(WAIT_S)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def make(*extra: str, env: dict[str, str] | None = None) -> RunningServer:
        server = start_server(
            tmp_path / f"gunicorn-{len(started)}.log",
            env={"SHOWCASE_DATA_DIR": str(tmp_path), "SHOWCASE_HEARTBEAT_S": "5", **(env or {})},
            extra=list(extra),
        )
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()  # by its PID, whatever failed


def test_sigterm_ends_every_sse_stream_with_a_jittered_retry(
    make_server: Callable[..., RunningServer],
) -> None:
    # Through the environment (what `showcase serve --restart-retry/--restart-jitter` sets).
    server = make_server(
        env={"SHOWCASE_RESTART_RETRY_MS": "300", "SHOWCASE_RESTART_JITTER_MS": "700"}
    )
    # Busy streams whose reader stops reading until just after SIGTERM: the signal finds
    # their writes waiting (first, so that the other streams need not outlast the wait).
    hold = threading.Event()
    held = [
        RawStream(server.url, f"/stream/sse?{BUSY}&flush={flush}", parse=False, hold=hold)
        for flush in ("auto", "each", "each")
    ]
    for stream in held:
        stream.started.wait(WAIT_S)
        wait_writes_blocked(server.url, stream)
    paced = [
        RawStream(server.url, f"/stream/sse?count=100000&interval={50 + 30 * n}", parse=True)
        for n in range(14)
    ]
    busy = held + [
        RawStream(server.url, f"/stream/sse?{BUSY}&flush={flush}", parse=False)
        for flush in ("auto", "each", "auto")
    ]
    ndjson = [
        RawStream(server.url, "/stream/ndjson?count=100000&interval=100", parse=False),
        RawStream(server.url, f"/stream/ndjson?{BUSY}", parse=False),
    ]
    returncode = sigterm_and_wait(server, paced + busy + ndjson, hold)
    assert returncode == 0, server.log()
    assert "Worker graceful timeout" not in server.log()
    retries = []
    for stream in paced + busy:
        assert stream.error is None and stream.complete, (stream.target, stream.error)
        notice = NOTICE.search(stream.tail)
        assert notice is not None, (stream.target, stream.tail[-200:])
        # What came before the notice is whole events: the last ends with a blank line.
        assert stream.tail[: notice.start()].endswith(b"\n\n"), stream.target
        assert notice.group(1) is not None, stream.tail[-200:]
        retries.append(int(notice.group(1)))
    for stream in paced:
        assert stream.ids and stream.ids == list(range(len(stream.ids))), stream.target
    assert all(300 <= retry <= 1000 for retry in retries), retries
    assert len(set(retries)) > 1, retries  # jitter: not every client back at the same instant
    for stream in ndjson:
        assert stream.error is None and stream.complete, (stream.target, stream.error)
        assert b"restarting" not in stream.tail and stream.tail.endswith(b"\n"), stream.target


def test_sigterm_ends_relay_and_chat_sse_streams_with_the_notice_too(
    make_server: Callable[..., RunningServer],
) -> None:
    """The other SSE streams: a relay reading its upstream (the stop lands in that read, which
    is not an upstream failure to report) and a chat answer over POST."""
    server = make_server()
    chat = json.dumps(
        {
            "model": "showcase",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
            "interval_ms": 300,
        }
    ).encode()
    streams = [
        RawStream(server.url, "/relay/stream/sse?count=1000&interval=200", parse=True),
        RawStream(server.url, "/v1/chat/completions", parse=False, post=chat),
    ]
    assert sigterm_and_wait(server, streams) == 0, server.log()
    for stream in streams:
        assert stream.error is None and stream.complete, (stream.target, stream.error)
        assert NOTICE.search(stream.tail), (stream.target, stream.tail[-300:])
        assert b"upstream" not in stream.tail, stream.tail[-300:]
    relayed = streams[0].ids
    assert relayed and relayed == list(range(len(relayed)))


def test_restart_retry_zero_sends_the_comment_alone(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server("--restart-retry", "0", "--restart-jitter", "100")
    streams = [
        RawStream(server.url, "/stream/sse?count=100000&interval=100", parse=True),
        RawStream(server.url, f"/stream/sse?{BUSY}", parse=False),
    ]
    assert sigterm_and_wait(server, streams) == 0, server.log()
    for stream in streams:
        assert stream.error is None and stream.complete, (stream.target, stream.error)
        notice = NOTICE.search(stream.tail)
        assert notice is not None, stream.tail[-200:]
        assert notice.group(1) is None  # no retry field: clients keep the one they had
    assert b"retry:" not in streams[0].tail.replace(b"retry: 2000\n\n", b"")


CLIENTS = 100
COUNT = 60
PARAMS = {"count": COUNT, "interval": 50}  # 3 s per stream: the restart lands mid-stream
RESUMING = {"SHOWCASE_RESTART_RETRY_MS": "100", "SHOWCASE_RESTART_JITTER_MS": "400"}


class Clients:
    """``CLIENTS`` reconnecting SSE clients (``showcase.tools.client.iter_sse``, as EventSource
    does) in threads; each keeps the ids it received and how often it reconnected."""

    def __init__(self, url: str) -> None:
        self.ids: list[list[int]] = [[] for _ in range(CLIENTS)]
        self.errors: list[BaseException] = []
        self.reconnects: dict[str, int] = {}
        self.handler = CountReconnects(self.reconnects)
        logging.getLogger("showcase.tools.client").addHandler(self.handler)
        logging.getLogger("showcase.tools.client").setLevel(logging.INFO)
        self.threads = [
            threading.Thread(target=self.read, args=(url, n), name=f"client-{n}", daemon=True)
            for n in range(CLIENTS)
        ]
        for thread in self.threads:
            thread.start()

    def read(self, url: str, index: int) -> None:
        try:
            for event in iter_sse(url, PARAMS, reconnect=True):
                self.ids[index].append(int(event.id))
        except BaseException as error:  # reported by the assertions
            self.errors.append(error)

    def wait_started(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not all(self.ids) and not self.errors:
            time.sleep(0.05)
        assert all(self.ids) and not self.errors, self.errors
        assert all(len(ids) < COUNT for ids in self.ids)  # still streaming

    def join(self) -> None:
        try:
            for thread in self.threads:
                thread.join(WAIT_S)
        finally:
            logging.getLogger("showcase.tools.client").removeHandler(self.handler)
        assert not any(thread.is_alive() for thread in self.threads)

    def assert_nothing_lost_or_repeated(self) -> None:
        assert self.errors == []
        for index, ids in enumerate(self.ids):
            assert ids == list(range(COUNT)), (index, ids)
        # The restart did cut the streams: (nearly) every client reconnected to finish.
        assert sum(self.reconnects.values()) >= CLIENTS // 2, self.reconnects


class CountReconnects(logging.Handler):
    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__(logging.INFO)
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        if "reconnecting" in record.getMessage():
            self.counts[record.threadName] = self.counts.get(record.threadName, 0) + 1


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT_S} s: {what}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def test_rolling_restart_hup_loses_and_repeats_nothing(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(env=RESUMING)
    old_worker = server.worker_pids[0]
    clients = Clients(server.url)
    clients.wait_started()
    server.process.send_signal(signal.SIGHUP)
    wait_until(lambda: not alive(old_worker), "the old worker exited")
    clients.join()
    clients.assert_nothing_lost_or_repeated()
    booted = [int(pid) for pid in BOOTED.findall(server.log())]
    assert len(booted) == 2 and booted[0] == old_worker, server.log()
    assert "Worker graceful timeout" not in server.log()
    # The stop reaches streams only: never a connection whose stream had ended meanwhile and
    # which is back in gunicorn's keep-alive read (it would log a traceback per connection).
    assert "Socket error processing request" not in server.log()


def test_binary_upgrade_usr2_then_term_loses_and_repeats_nothing(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(env=RESUMING)
    old_master = server.process.pid
    clients = Clients(server.url)
    clients.wait_started()
    server.process.send_signal(signal.SIGUSR2)
    new_master: list[int] = []

    def new_master_serving() -> bool:
        masters = [pid for pid in children(old_master) if pid not in server.worker_pids]
        workers = [pid for master in masters for pid in children(master)]
        booted = {int(pid) for pid in BOOTED.findall(server.log())}
        new_master[:] = masters
        return bool(masters) and bool(workers) and set(workers) <= booted

    try:
        wait_until(new_master_serving, "the new arbiter booted its worker")
        server.process.send_signal(signal.SIGTERM)  # the old arbiter: its workers stop
        assert server.process.wait(WAIT_S) == 0, server.log()
        clients.join()
        clients.assert_nothing_lost_or_repeated()
        assert "Worker graceful timeout" not in server.log()
    finally:
        for pid in new_master:  # not our child: stopped by PID, waited for through /proc
            os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not any(alive(pid) for pid in new_master), "the new arbiter stopped")


@pytest.mark.parametrize(
    "argv",
    [
        ["--restart-retry", "-1"],
        ["--restart-retry", "1e3"],
        ["--restart-retry", "600001"],
        ["--restart-jitter", "1.5"],
    ],
)
def test_serve_refuses_bad_restart_options(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "showcase", "serve", "--bind", "127.0.0.1:0", *argv],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert result.returncode == 2  # argparse's usage error, before gunicorn starts
    assert "expected an integer from 0 to 600000" in result.stderr


def test_restart_notice_bytes_and_settings() -> None:
    """The notice itself and its settings (no server): what the live tests above rely on."""
    notice = RestartNotice(300, 700)
    values = set()
    for _ in range(200):
        match = NOTICE.fullmatch(notice())
        assert match is not None and match.group(1) is not None
        values.add(int(match.group(1)))
    assert min(values) >= 300 and max(values) <= 1000 and len(values) > 1
    assert RestartNotice(0, 700)() == b": server restarting\n\n"
    assert RestartNotice(250, 0)() == b": server restarting\nretry: 250\n\n"
    assert restart_from_env({}) == RestartNotice(1000, 4000)
    assert restart_from_env({"SHOWCASE_RESTART_RETRY_MS": ""}) == RestartNotice(1000, 4000)
    assert restart_from_env(
        {"SHOWCASE_RESTART_RETRY_MS": "0", "SHOWCASE_RESTART_JITTER_MS": "600000"}
    ) == RestartNotice(0, 600000)
    for name, raw in [
        ("SHOWCASE_RESTART_RETRY_MS", "-1"),
        ("SHOWCASE_RESTART_JITTER_MS", "1.5"),
        ("SHOWCASE_RESTART_JITTER_MS", "600001"),
    ]:
        with pytest.raises(ValueError, match=name):
            restart_from_env({name: raw})
