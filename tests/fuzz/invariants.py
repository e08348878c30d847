"""What every fuzz example must leave true, checked by one helper for every module.

- the answer's status is one the endpoint documents, never a 500 (a 502/503/504 only where
  documented), and an error answer carries its API's JSON error shape;
- a stream ends as documented: complete, and last with its end or its error event;
- the server's log gained no traceback during the example;
- a long-lived stream on the same worker kept receiving (no gap over ``MAX_GAP_S``);
- the worker's open streams and file descriptors come back to their baseline.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.tools.launcher import RunningServer
from tests.fuzz.exchange import Answer

MAX_GAP_S = 2.0  # generous: two cores shared with other jobs; a blocked worker stalls far longer
WATCH_INTERVAL_MS = 50
SETTLE_S = 5.0  # how long open streams and descriptors get to come back after an example
# Descriptors the worker may hold beyond its baseline when polled: the /healthz request's own
# connection (the worker closes its side just after the client read the answer) and one
# accepted connection of the next poll. A leak of one per example passes this in a few.
FD_SLACK = 2
LOG_MARKS = ("Traceback", "Error handling request")

# The error body of each API (docs/contract.md, docs/chat.md).
CONTRACT, OPENAI, NDJSON_CHAT, COZE = "contract", "openai", "ndjson-chat", "coze"


class Watcher:
    """One long-lived SSE stream (``/stream/sse``, a message every 50 ms) read in a thread,
    recording when each read arrived, to tell whether the worker kept serving others."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        target = f"/stream/sse?count=1000000&interval={WATCH_INTERVAL_MS}&heartbeat=1"
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        self.reads: list[float] = [time.monotonic()]
        self.error: str | None = None
        self.closing = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            while self.sock.recv(65536):
                with self.lock:
                    self.reads.append(time.monotonic())
            if not self.closing:
                self.error = "the server ended the watched stream"
        except OSError as error:
            if not self.closing:
                self.error = f"the watched stream broke: {error!r}"

    def max_gap_s(self, since: float) -> float:
        """The longest silence of the watched stream after ``since``, up to now."""
        with self.lock:
            times = [t for t in self.reads if t >= since]
            before = [t for t in self.reads if t < since]
        points = before[-1:] + times + [time.monotonic()]
        return max((b - a for a, b in zip(points, points[1:], strict=False)), default=0.0)

    def close(self) -> None:
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def count_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Target:
    """A server under fuzz, its watcher and its baseline (taken after a warm-up). Not a
    dataclass: Hypothesis prints a failing example's arguments, and this one in one line."""

    def __init__(self, server: RunningServer, watcher: Watcher, worker_pid: int) -> None:
        self.server = server
        self.watcher = watcher
        self.worker_pid = worker_pid
        self.open_streams = 0
        self.fds = 0
        self.module_started = time.monotonic()

    @property
    def url(self) -> str:
        return self.server.url

    def __repr__(self) -> str:  # short, for Hypothesis's "Failing test case" print
        return f"Target({self.server.url}, worker {self.worker_pid})"

    def take_baseline(self) -> None:
        time.sleep(0.3)  # let the warm-up's connections close
        self.open_streams = self.server.health()["open_streams"]
        self.fds = count_fds(self.worker_pid)

    @contextmanager
    def example(self, settle_s: float = SETTLE_S) -> Iterator[None]:
        """Around one example: after it, the log, the watcher and the baseline are checked
        (the log also when the example itself failed: its traceback is the finding)."""
        offset = self.server.log_path.stat().st_size
        started = time.monotonic()
        try:
            yield
        except BaseException:
            check_log(self.server, offset)
            raise
        check_log(self.server, offset)
        self.check_settled(settle_s)
        gap = self.watcher.max_gap_s(started)
        assert gap <= MAX_GAP_S, f"the watched stream went silent for {gap:.2f} s"
        assert self.watcher.error is None, self.watcher.error

    def check_settled(self, settle_s: float) -> None:
        deadline = time.monotonic() + settle_s
        while True:
            streams = self.server.health()["open_streams"]
            fds = count_fds(self.worker_pid)
            if streams == self.open_streams and fds <= self.fds + FD_SLACK:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not back to baseline after {settle_s} s: open_streams {streams} "
                    f"(baseline {self.open_streams}), fds {fds} (baseline {self.fds} + {FD_SLACK})"
                )
            time.sleep(0.05)


# The last exception line of a traceback ("ValueError: ..."), to name what the server raised.
RAISED = re.compile(r"^([A-Za-z_][\w.]*)(?=: |$)", re.M)
LOGGED_ERRORS: dict[str, type[AssertionError]] = {}


def logged_error(name: str) -> type[AssertionError]:
    """An AssertionError subclass per exception the server logged: Hypothesis reports
    failures of different types as distinct bugs, and shrinks each, instead of one of them."""
    kind = name.rsplit(".", 1)[-1]
    return LOGGED_ERRORS.setdefault(kind, type(f"ServerLogged{kind}", (AssertionError,), {}))


def check_log(server: RunningServer, offset: int) -> None:
    with server.log_path.open("rb") as log:
        log.seek(offset)
        written = log.read().decode(errors="replace")
    for mark in LOG_MARKS:
        if mark in written:
            raised = RAISED.findall(written)
            error = logged_error(raised[-1] if raised else "Traceback")
            raise error(f"the server logged {mark!r}:\n{written[-4000:]}")


def check_status(answer: Answer, statuses: set[int] | frozenset[int]) -> None:
    assert answer.status in statuses, (
        f"status {answer.status} not among {sorted(statuses)}: {answer.body[:300]!r}"
    )


def check_error_body(answer: Answer, shape: str) -> None:
    """An error answer's body is its API's JSON error object (``shape``)."""
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = json.loads(answer.body)
    if shape == CONTRACT:
        assert isinstance(body, dict) and {"error", "field", "detail"} <= body.keys(), body
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), body
        assert body["field"] is None or isinstance(body["field"], str), body
    elif shape == OPENAI:
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
        assert isinstance(body["error"].get("message"), str), body
    elif shape == NDJSON_CHAT:
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    elif shape == COZE:
        assert isinstance(body, dict) and isinstance(body.get("msg"), str), body
        assert isinstance(body.get("code"), int), body
    else:  # any of them: a gateway answer whose shape each API may choose
        assert isinstance(body, dict) and ("error" in body or "msg" in body), body


def check_answer(
    answer: Answer,
    statuses: set[int] | frozenset[int],
    shape: str,
    stream: str | None = None,
) -> None:
    """Status among ``statuses``; a 4xx/5xx with the ``shape`` error body; a 200 stream
    (``stream``: ``sse``, ``relay``, ``openai``, ``ndjson``, ``ndjson-chat``, ``coze``,
    ``bytes``) ended as documented, unless the reader stopped it (``truncated``)."""
    check_status(answer, statuses)
    if answer.status >= 400:
        check_error_body(answer, shape if answer.status < 502 else "any")
        return
    if answer.status != 200 or stream is None:
        return
    assert answer.complete or answer.truncated, f"the body ended early: {answer.body[-300:]!r}"
    data = answer.decoded()
    if stream in ("sse", "relay", "openai", "coze"):
        events = read_sse(data, answer.complete)
        if answer.truncated:
            return
        last = events[-1] if events else None
        if stream == "openai":
            assert last is not None and (last.data == "[DONE]" or last.event == "error"), last
        elif stream == "coze":
            assert last is not None and last.event in ("done", "error"), last
    elif stream in ("ndjson", "ndjson-chat"):
        lines = data.split(b"\n")
        whole = lines if answer.complete else lines[:-1]
        objects = [json.loads(line) for line in whole if line.strip()]
        if stream == "ndjson-chat" and answer.complete:
            assert objects and (objects[-1].get("done") is True or "error" in objects[-1]), objects[
                -1:
            ]


def read_sse(data: bytes, complete: bool) -> list[ServerSentEvent]:
    """The events of an SSE body, read with the project's parser (a stream it cannot read
    is a finding too: every client of the project reads with it)."""
    parser = SSEParser()
    try:
        events = parser.feed(data)
        if complete:
            events += parser.close()
    except ValueError as error:
        raise AssertionError(f"the project's SSE parser cannot read the stream: {error}") from None
    return events
