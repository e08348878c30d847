"""``GET /ws``, ``/ws/chat`` and ``/ws/room`` against real gunicorn + gevent servers.

The websockets library's sync client reads the frames; a raw wsproto client stands in for a
client that never answers a ping, sends a message too big, or leaves without a word.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)

from showcase.tools.launcher import RunningServer, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WAIT_S = 15.0  # a bound on waiting, not a speed target


def ws_url(base_url: str, target: str) -> str:
    return "ws://" + base_url.removeprefix("http://") + target


def open_ws(base_url: str, target: str, **options: object) -> ClientConnection:
    return connect(ws_url(base_url, target), open_timeout=WAIT_S, compression=None, **options)  # type: ignore[arg-type]


def read_all(conn: ClientConnection) -> list[str]:
    frames = []
    try:
        while True:
            frames.append(str(conn.recv(timeout=WAIT_S)))
    except ConnectionClosed:
        return frames


class RawClient:
    """A WebSocket client on a plain socket, driven by hand: it answers nothing by itself."""

    def __init__(self, base_url: str, target: str) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=WAIT_S)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=target)))
        events = self.read_events()
        assert isinstance(events[0], AcceptConnection), events

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def read_events(self) -> list[object]:
        while True:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            events = list(self.ws.events())
            if events or not data:
                return events

    def events_until_close(self) -> list[object]:
        seen: list[object] = []
        while not any(isinstance(event, CloseConnection) for event in seen):
            seen += self.read_events()
        return seen

    def send(self, event: object) -> None:
        self.sock.sendall(self.ws.send(event))  # type: ignore[arg-type]


def close_of(events: list[object]) -> CloseConnection:
    closes = [event for event in events if isinstance(event, CloseConnection)]
    assert closes, events
    return closes[0]


# --- /ws: the stream contract ---------------------------------------------------------


def test_ws_sends_one_text_frame_per_payload_then_closes_with_1000(base_url: str) -> None:
    with open_ws(base_url, "/ws?count=5&interval=10&size=3") as conn:
        frames = read_all(conn)
        assert conn.close_code == 1000
    payloads = [json.loads(frame) for frame in frames]
    assert [payload["seq"] for payload in payloads] == [0, 1, 2, 3, 4]
    assert all(payload["pad"] == "xxx" and isinstance(payload["ts"], float) for payload in payloads)
    assert frames[0] == json.dumps(payloads[0], separators=(",", ":"))  # the NDJSON line


def test_ws_text_source_frames_carry_tokens(base_url: str) -> None:
    with open_ws(base_url, "/ws?count=4&interval=0&source=text") as conn:
        payloads = [json.loads(frame) for frame in read_all(conn)]
    assert [payload["seq"] for payload in payloads] == [0, 1, 2, 3]
    assert all(isinstance(payload["token"], str) for payload in payloads)


def test_ws_last_id_resumes_at_the_next_seq(base_url: str) -> None:
    with open_ws(base_url, "/ws?count=6&interval=0&last_id=3") as conn:
        seqs = [json.loads(frame)["seq"] for frame in read_all(conn)]
        assert conn.close_code == 1000
    assert seqs == [4, 5]


def test_ws_last_id_past_the_end_closes_with_1000_and_nothing_sent(base_url: str) -> None:
    with open_ws(base_url, "/ws?count=3&last_id=2") as conn:
        assert read_all(conn) == []
        assert conn.close_code == 1000


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("count=0", "count"),
        ("interval=abc", "interval"),
        ("source=nope", "source"),
        ("last_id=-1", "last_id"),
        ("heartbeat=0", "heartbeat"),
    ],
)
def test_ws_bad_parameters_get_400_json_before_any_upgrade(
    base_url: str, query: str, field: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_ws(base_url, f"/ws?{query}")
    response = refused.value.response
    assert response.status_code == 400
    assert json.loads(bytes(response.body or b""))["field"] == field
    assert response.headers.get("Upgrade") is None


def test_ws_plain_get_gets_426_json(base_url: str) -> None:
    response = requests.get(base_url + "/ws", timeout=WAIT_S)
    assert response.status_code == 426
    assert response.json()["field"] == "Upgrade"


def test_ws_client_message_closes_with_1008(base_url: str) -> None:
    with open_ws(base_url, "/ws?count=100&interval=500") as conn:
        conn.recv(timeout=WAIT_S)
        conn.send("hello")
        read_all(conn)
        assert conn.close_code == 1008


def test_ws_oversized_client_frame_closes_with_1009(base_url: str) -> None:
    with RawClient(base_url, "/ws?count=100&interval=500") as client:
        client.send(TextMessage(data="x" * 100_000))
        assert close_of(client.events_until_close()).code == 1009


def test_ws_pings_when_quiet_and_cuts_a_client_that_never_answers(base_url: str) -> None:
    # heartbeat=0.2: pings after 0.2 s of quiet, the cut two heartbeats after the first.
    with RawClient(base_url, "/ws?count=10&interval=60000&heartbeat=0.2") as client:
        started = time.monotonic()
        events = client.events_until_close()
    pings = [event for event in events if isinstance(event, Ping)]
    assert len(pings) >= 1
    assert close_of(events).code == 1011
    assert time.monotonic() - started < WAIT_S


@pytest.mark.parametrize("target", ["/ws/chat", "/ws/room?room=silent"])
def test_ws_chat_and_room_cut_a_client_that_never_answers_pings(
    server: RunningServer, target: str
) -> None:
    # The session server's heartbeat is 1 s: pings after 1 s of quiet, the cut 2 s later.
    logged = len(server.log())
    with RawClient(server.url, target) as client:
        events = client.events_until_close()
    assert any(isinstance(event, Ping) for event in events)
    assert close_of(events).code == 1011
    time.sleep(1.5)  # the server's wait for our close frame, which never comes
    assert "Traceback" not in server.log()[logged:]


def test_ws_fast_stream_to_a_client_that_resets_ends_quietly(server: RunningServer) -> None:
    assert server.wait_open_streams(0) == 0
    logged = len(server.log())
    client = RawClient(server.url, "/ws?count=1000000&interval=0&size=1024")
    client.sock.recv(65536)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()
    assert server.wait_open_streams(0) == 0
    assert "Traceback" not in server.log()[logged:]


def test_ws_client_answering_pings_stays_connected(base_url: str) -> None:
    # websockets answers pings by itself: a quiet stream stays open past two heartbeats.
    with open_ws(base_url, "/ws?count=2&interval=1500&heartbeat=0.2", ping_interval=None) as conn:
        seqs = [json.loads(frame)["seq"] for frame in read_all(conn)]
        assert conn.close_code == 1000
    assert seqs == [0, 1]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize("target", ["/ws?count=100&interval=500", "/ws/chat", "/ws/room?room=gone"])
@pytest.mark.parametrize("reset", [False, True])
def test_ws_disconnects_free_streams_and_fds(
    server: RunningServer, target: str, reset: bool
) -> None:
    worker = server.worker_pids[0]
    assert server.wait_open_streams(0) == 0
    baseline_fds = open_fds(worker)
    clients = [RawClient(server.url, target) for _ in range(10)]
    assert server.wait_open_streams(10) == 10
    for client in clients:
        if reset:
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sock.close()
    assert server.wait_open_streams(0) == 0
    deadline = time.monotonic() + WAIT_S
    while open_fds(worker) > baseline_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(worker) <= baseline_fds


# --- /ws/chat -------------------------------------------------------------------------


def prompt(text: str, **extra: object) -> str:
    body = {
        "type": "prompt",
        "model": "showcase-typist",
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    return json.dumps(body)


def test_ws_chat_streams_deltas_ending_with_done(base_url: str) -> None:
    with open_ws(base_url, "/ws/chat") as conn:
        conn.send(prompt("hello", interval_ms=1))
        frames = []
        while not frames or frames[-1]["type"] != "done":
            frames.append(json.loads(conn.recv(timeout=WAIT_S)))
        # The socket takes a second prompt after the first answer.
        conn.send(prompt("sse", interval_ms=0, max_tokens=3))
        second = []
        while not second or second[-1]["type"] != "done":
            second.append(json.loads(conn.recv(timeout=WAIT_S)))
    deltas = [frame for frame in frames if frame["type"] == "delta"]
    assert "".join(frame["content"] for frame in deltas).startswith("Hello!")
    assert frames[-1]["finish_reason"] == "stop"
    assert frames[-1]["usage"]["completion_tokens"] == len(deltas)
    assert second[-1]["finish_reason"] == "length" and len(second) == 4


def test_ws_chat_stop_ends_the_answer_in_flight(base_url: str) -> None:
    with open_ws(base_url, "/ws/chat") as conn:
        conn.send(prompt("tell me", interval_ms=200))
        first = json.loads(conn.recv(timeout=WAIT_S))
        assert first["type"] == "delta"
        conn.send(json.dumps({"type": "stop"}))
        frames = [first]
        while frames[-1]["type"] != "done":
            frames.append(json.loads(conn.recv(timeout=WAIT_S)))
    assert frames[-1]["finish_reason"] == "cancelled"
    assert len(frames) < 10


def test_ws_chat_refused_prompt_gets_the_post_error_and_the_socket_stays(base_url: str) -> None:
    with open_ws(base_url, "/ws/chat") as conn:
        conn.send(json.dumps({"type": "prompt", "messages": []}))
        error = json.loads(conn.recv(timeout=WAIT_S))
        conn.send(prompt("hello", interval_ms=0, max_tokens=1))
        after = json.loads(conn.recv(timeout=WAIT_S))
    assert error["type"] == "error" and error["status"] == 400
    assert error["error"]["param"] == "model"
    assert after["type"] == "delta"


@pytest.mark.parametrize("frame", ["not json", '{"type": "dance"}', "[1, 2]"])
def test_ws_chat_unusable_frame_closes_with_1008(base_url: str, frame: str) -> None:
    with open_ws(base_url, "/ws/chat") as conn:
        conn.send(frame)
        read_all(conn)
        assert conn.close_code == 1008


# --- /ws/room -------------------------------------------------------------------------


def next_of_type(conn: ClientConnection, kind: str) -> dict[str, object]:
    while True:
        frame = json.loads(conn.recv(timeout=WAIT_S))
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


def test_ws_room_send_is_acked_and_broadcast_with_presence(base_url: str) -> None:
    with open_ws(base_url, "/ws/room?room=wsroom1") as alice:
        assert next_of_type(alice, "presence")["count"] == 1
        with open_ws(base_url, "/ws/room?room=wsroom1") as bob:
            assert next_of_type(bob, "presence")["count"] == 2
            bob.send(json.dumps({"type": "send", "user": "bob", "text": "hi all"}))
            ack = next_of_type(bob, "ack")
            message = next_of_type(alice, "message")
        assert message["id"] == ack["id"] and message["text"] == "hi all"
        assert message["user"] == "bob"


def test_ws_room_resumes_after_last_id_and_resets_for_an_unknown_one(base_url: str) -> None:
    ids = []
    for text in ("one", "two", "three"):
        posted = requests.post(
            base_url + "/chat/send",
            json={"room": "wsroom2", "user": "ann", "text": text},
            timeout=WAIT_S,
        )
        assert posted.status_code == 202
        ids.append(posted.json()["id"])
    with open_ws(base_url, f"/ws/room?room=wsroom2&last_id={ids[0]}") as conn:
        assert [next_of_type(conn, "message")["text"] for _ in range(2)] == ["two", "three"]
    with open_ws(base_url, "/ws/room?room=wsroom2&last_id=999999") as conn:
        first = json.loads(conn.recv(timeout=WAIT_S))
        assert first["type"] == "reset"
        assert next_of_type(conn, "message")["text"] == "one"


def test_ws_room_clients_closing_while_messages_flow_end_quietly(server: RunningServer) -> None:
    logged = len(server.log())
    room = "wsbusy"
    with ExitStack() as stack:
        conns = [
            stack.enter_context(open_ws(server.url, f"/ws/room?room={room}")) for _ in range(5)
        ]
        sender = stack.enter_context(open_ws(server.url, f"/ws/room?room={room}"))
        for n in range(200):
            sender.send(json.dumps({"type": "send", "user": "ann", "text": f"m{n}"}))
        for conn in conns:
            next_of_type(conn, "message")
            conn.close()
        next_of_type(sender, "ack")
    assert server.wait_open_streams(0) == 0
    assert "Traceback" not in server.log()[logged:]


def test_ws_room_refused_send_gets_the_post_error(base_url: str) -> None:
    with open_ws(base_url, "/ws/room?room=wsroom3") as conn:
        conn.send(json.dumps({"type": "send", "user": "no spaces", "text": "x"}))
        error = next_of_type(conn, "error")
        conn.send(json.dumps({"type": "send", "user": "ann", "text": "x" * 5000}))
        too_long = next_of_type(conn, "error")
    assert (error["status"], error["field"]) == (400, "user")
    assert (too_long["status"], too_long["field"]) == (413, "text")


def test_ws_room_bad_room_gets_400_before_any_upgrade(base_url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_ws(base_url, "/ws/room?room=no%20spaces")
    assert refused.value.response.status_code == 400


# --- token and SIGTERM: servers of their own ------------------------------------------


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("ws-token") / "gunicorn.log",
        env={"SHOWCASE_HEARTBEAT_S": "1", "SHOWCASE_HUB_TOKEN": "s3cret"},
    )
    yield running
    running.stop()


def test_ws_room_token_in_the_handshake_or_in_the_frame(token_server: RunningServer) -> None:
    url = token_server.url
    with pytest.raises(InvalidStatus) as refused:
        open_ws(url, "/ws/room?room=t1", additional_headers={"Authorization": "Bearer nope"})
    assert refused.value.response.status_code == 401
    with open_ws(
        url, "/ws/room?room=t1", additional_headers={"Authorization": "Bearer s3cret"}
    ) as conn:
        conn.send(json.dumps({"type": "send", "user": "ann", "text": "a"}))
        assert next_of_type(conn, "ack")["id"]
    with open_ws(url, "/ws/room?room=t1") as conn:
        conn.send(json.dumps({"type": "send", "user": "ann", "text": "b"}))
        assert next_of_type(conn, "error")["status"] == 401
        conn.send(json.dumps({"type": "send", "user": "ann", "text": "c", "token": "s3cret"}))
        assert next_of_type(conn, "ack")["id"]


def test_ws_sigterm_closes_every_socket_with_1001_and_a_jittered_retry(
    tmp_path: Path,
) -> None:
    running = start_server(
        tmp_path / "gunicorn.log",
        env={
            "SHOWCASE_HEARTBEAT_S": "1",
            "SHOWCASE_RESTART_RETRY_MS": "1000",
            "SHOWCASE_RESTART_JITTER_MS": "4000",
        },
    )
    with ExitStack() as stack:
        stack.callback(running.stop)
        targets = ["/ws?count=1000&interval=300"] * 3 + ["/ws/chat", "/ws/room?room=bye"]
        conns = [stack.enter_context(open_ws(running.url, target)) for target in targets]
        assert running.wait_open_streams(5) == 5
        os.kill(running.pid, signal.SIGTERM)
        for conn in conns:
            read_all(conn)
            assert conn.close_code == 1001
            retry = json.loads(conn.close_reason)["retry_ms"]
            assert 1000 <= retry <= 5000


def test_ws_reader_that_stops_reading_is_cut_at_the_send_deadline(tmp_path: Path) -> None:
    running = start_server(
        tmp_path / "gunicorn.log",
        env={"SHOWCASE_HEARTBEAT_S": "1", "SHOWCASE_SEND_TIMEOUT_S": "1"},
    )
    try:
        host, port = running.url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
        sock.connect((host, int(port)))
        handshake = WSConnection(ConnectionType.CLIENT)
        sock.sendall(
            handshake.send(
                Request(host=f"{host}:{port}", target="/ws?count=1000000&interval=0&size=4096")
            )
        )
        try:
            assert running.wait_open_streams(1) == 1
            assert running.wait_open_streams(0) == 0  # never read: cut, not held
            assert running.health()["send_timeouts"] == 1
        finally:
            sock.close()
    finally:
        running.stop()
