"""The load generator's WebSocket client: ``GET /ws`` read by the websockets library's
sans-I/O ``ClientProtocol``, driven by an asyncio protocol as ``wire.StreamProtocol`` drives
httptools, so one client process paces as many connections as it does streams.

Why this and not the library's asyncio client or wsproto: the receive time is taken when a
read comes off the socket (before parsing, as for every other mode), which a ``recv()`` after
the library's queue cannot give; and websockets' frame parser costs several times less per
message than wsproto's (both pure Python), which decides whether one client core keeps up
with 1,000 paced connections.

Per connection the record holds what a stream's does: status (101 once accepted), TTFB
(handshake sent → first frame), wire bytes (everything after the 101's head: frame headers
included), body bytes (text payloads), and per message receive − ``ts``.
"""

from __future__ import annotations

import asyncio
import time

from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from benchmarks.load.wire import Plan, RecordProtocol, StreamRecord, parse_ts

MAX_MESSAGE_BYTES = 4 << 20  # a 1 MiB pad and its JSON, with room to spare
NORMAL_CLOSE = 1000


def open_ws(host: str, record: StreamRecord, plan: Plan) -> RecordProtocol:
    """The protocol reading one ``/ws…`` connection (``record.path`` is its target)."""
    return WSProtocol(f"ws://{host}{record.path}", record, plan.latency, plan.keep)


class WSProtocol(RecordProtocol):
    """One WebSocket: the handshake, then one text frame per message; a ping is answered
    (the library queues the pong), a close is answered and ends the record, complete when
    its code is 1000."""

    def __init__(self, uri: str, record: StreamRecord, latency: bool, keep: bool) -> None:
        self.record = record
        self.latency = latency
        self.keep = keep
        self.ws = ClientProtocol(parse_uri(uri), max_size=MAX_MESSAGE_BYTES)
        self.done = asyncio.get_running_loop().create_future()
        self.transport = None
        self.head = b""
        self.head_done = False
        self.fragments: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self.record.t_request = time.time()
        self.record.requests += 1
        self.flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        record = self.record
        self.count_read(data)
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                record.status = event.status_code
                if self.ws.handshake_exc is not None:
                    self.fail(f"handshake: {self.ws.handshake_exc}")
                    return
            elif isinstance(event, Frame):
                self.on_frame(event, now)
        self.flush()

    def on_frame(self, frame: Frame, now: float) -> None:
        record = self.record
        if record.ttfb_s is None:
            record.ttfb_s = now - record.t_request
        if frame.opcode is Opcode.CLOSE:
            # The frame's own code: the library names it (close_code) only once TCP is closed.
            close = Close.parse(frame.data)
            record.complete = close.code == NORMAL_CLOSE
            if not record.complete:
                record.error = f"close {close.code} {close.reason}"
            record.t_end = now
            return
        if frame.opcode not in (Opcode.TEXT, Opcode.CONT):
            return  # ping (the pong is queued), pong, binary: no message of the contract
        # The parser hands over bytes; the type allows any buffer.
        part = frame.data if isinstance(frame.data, bytes) else bytes(frame.data)
        if not frame.fin:
            self.fragments.append(part)
            return
        data = b"".join([*self.fragments, part]) if self.fragments else part
        self.fragments.clear()
        record.body_bytes += len(data)
        if not self.latency:
            return
        ts = parse_ts(data)
        if ts is None:
            return
        if record.messages == 0:
            record.t_first_message = now
        record.messages += 1
        if self.keep:
            record.latencies_ms.append(now * 1000.0 - ts)
            record.received_at.append(now)

    def flush(self) -> None:
        """Write what the library queued (handshake, pongs, the close's answer); an empty
        chunk is its end of stream: close the connection."""
        if self.transport is None:
            return
        for chunk in self.ws.data_to_send():
            if not self.head_done:
                self.record.request_bytes += len(chunk)  # the handshake's request
            if chunk:
                self.transport.write(chunk)
            else:
                self.transport.close()
