"""The storm's bare reference app: what it answers, called as WSGI (no server)."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.reference import bare_wsgi


def call(path: str, query: str = "") -> tuple[str, list[bytes]]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = list(bare_wsgi.app({"PATH_INFO": path, "QUERY_STRING": query}, start_response))
    return seen["status"], body


def test_streams_count_messages_with_a_ts_and_counts_them_while_open() -> None:
    status, body = call("/stream/sse", "count=3&interval=0")
    assert status == "200 OK"
    assert [json.loads(line[len(b"data: ") :])["seq"] for line in body] == [0, 1, 2]
    assert all(line.endswith(b"\n\n") and b'"ts":' in line for line in body)
    assert bare_wsgi.OPEN["streams"] == 0  # the generator ran to its end


def test_healthz_reports_open_streams_and_connections() -> None:
    status, body = call("/healthz")
    assert status == "200 OK"
    assert set(json.loads(body[0])) == {"open_streams", "open_connections"}


def test_bad_and_unknown_requests_are_refused() -> None:
    assert call("/stream/sse", "count=x")[0].startswith("400")
    assert call("/stream/sse", "count=0")[0].startswith("400")
    assert call("/stream/sse", "interval=-1")[0].startswith("400")
    assert call("/nowhere")[0].startswith("404")
