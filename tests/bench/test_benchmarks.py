"""Every benchmark in a tiny configuration against the real server: a valid JSON with the
expected keys and a PNG. Never a timing threshold: the targets are checked by `make bench`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks import download, framing, held_streams, idle_memory, latency, throughput
from showcase.tools.cli import main as showcase_main
from showcase.tools.launcher import RunningServer

pytestmark = pytest.mark.integration

TOP_KEYS = {"benchmark", "created", "environment", "server", "client", "config", "summary", "runs"}
ENV_KEYS = {"version", "python", "packages", "cpu_count", "cpu_model", "kernel", "git", "cpu_clock"}


def run_benchmark(
    main: Callable[[Sequence[str] | None], int],
    server: RunningServer,
    out: Path,
    *options: str,
) -> dict[str, Any]:
    common = ["--url", server.url, "--server-pid", str(server.pid), "--runs", "1", "--no-pin"]
    assert main([*common, "--out", str(out), *options]) == 0
    document: dict[str, Any] = json.loads(out.read_text())
    assert TOP_KEYS <= set(document)
    assert ENV_KEYS <= set(document["environment"])
    assert {"flask", "gunicorn", "gevent"} <= set(document["environment"]["packages"])
    assert len(document["runs"]) == 1
    png = out.with_suffix(".png")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return document


def test_latency(server: RunningServer, tmp_path: Path) -> None:
    doc = run_benchmark(
        latency.main, server, tmp_path / "latency.json", "--scenarios", "3x20", "--duration", "0.2"
    )
    assert doc["benchmark"] == "latency"
    rows = doc["summary"]
    assert {"sse", "ndjson", "chunked"} <= {row["mode"] for row in rows.values()}
    for row in rows.values():
        assert row["messages_received"] == row["messages_expected"] > 0
        assert row["clients_without_first_byte"] == 0
        assert row["latency_p99_ms"] is not None and row["ttfb_max_ms"] is not None
    point = doc["runs"][0]["points"][0]
    assert len(point["raw_latency_ms"]) == 3 * point["count"] and len(point["raw_ttfb_ms"]) == 3
    assert point["server_cpu_s"] is not None  # read from /proc for --server-pid


def test_latency_measures_ws_and_polling_lanes(server: RunningServer, tmp_path: Path) -> None:
    doc = run_benchmark(
        latency.main,
        server,
        tmp_path / "latency.json",
        *("--modes", "sse,ws,poll,short-poll", "--scenarios", "3x20", "--duration", "0.2"),
    )
    rows = {row["mode"]: row for row in doc["summary"].values()}
    assert set(rows) == {"sse", "ws", "poll", "short-poll"}
    for row in rows.values():
        assert row["messages_received"] == row["messages_expected"] > 0
        assert row["clients_without_first_byte"] == 0
        assert row["latency_p99_ms"] is not None and row["latency_p99_ms"] >= 0
    for mode in ("poll", "short-poll"):
        # At least one request per answer, and never more answers than polls sent.
        assert 0 < rows[mode]["requests_per_message"]
        assert rows[mode]["header_bytes_per_message"] > 0
    assert "requests_per_message" not in rows["ws"]
    points = {point["mode"]: point for point in doc["runs"][0]["points"]}
    assert points["ws"]["status_200"] == 3 and points["ws"]["complete"] == 3  # 101, close 1000
    assert points["poll"]["requests"] >= 3 and points["poll"]["complete"] == 3
    assert len(points["ws"]["raw_latency_ms"]) == 3 * points["ws"]["count"]


def test_throughput(server: RunningServer, tmp_path: Path) -> None:
    doc = run_benchmark(
        throughput.main,
        server,
        tmp_path / "throughput.json",
        "--routes",
        "sse,sse-each,baseline,ndjson,chunked,ws",
        "--sizes",
        "16,1024",
        "--clients",
        "1,2",
        "--scale",
        "0.005",
    )
    rows = doc["summary"]
    assert set(rows) >= {"sse/16/1", "baseline/16/1", "chunked/1024/2", "ws/16/2"}
    for row in rows.values():
        assert row["complete"] == row["streams"]
        assert row["messages_per_s"] > 0 and row["wire_mb_per_s"] > 0
    assert rows["sse/16/1"]["vs_baseline"] > 0 and rows["baseline/16/1"]["vs_baseline"] == 1.0


def test_framing(server: RunningServer, tmp_path: Path) -> None:
    doc = run_benchmark(framing.main, server, tmp_path / "framing.json", "--sizes", "16", "--quick")
    rows = doc["summary"]
    # Three stream modes and polling × two flush policies; WebSocket: one frame a message.
    assert len(rows) == 9 and "ws/16/each" in rows and "ws/16/auto" not in rows
    for row in rows.values():
        assert row["wire_bytes_per_message"] > 0 and row["payload_bytes_per_message"] > 0
    # One chunk per message costs its chunk-size line and CRLF on top of coalesced writes.
    assert (
        rows["sse/16/each"]["wire_bytes_per_message"]
        > rows["sse/16/auto"]["wire_bytes_per_message"]
    )
    # A server's frame header is 2 bytes under 126 of payload; besides the messages, the wire
    # holds only the close frame (2 B of header, 2 of code, a reason of at most 123).
    ws = next(p for p in doc["runs"][0]["points"] if p["mode"] == "ws")
    assert 4 <= ws["wire_bytes"] - ws["payload_bytes"] - 2 * ws["messages"] <= 127
    # A poll a message pays a request and a response head each time.
    assert rows["poll/16/each"]["requests_per_message"] >= 1.0
    assert rows["poll/16/each"]["header_bytes_per_message"] > 100
    assert rows["poll/16/auto"]["requests_per_message"] < 0.5
    for point in doc["runs"][0]["points"]:
        if point["mode"] == "ws":
            assert point["status"] == 101 and point["messages"] == 200 and point["reads"] > 0
        elif point["mode"] == "poll":
            # Polled with next each time: every message exactly once.
            assert point["status"] == 200 and point["messages"] == 200 and point["requests"] > 0
        else:
            assert point["status"] == 200 and point["messages"] == 200 and point["reads"] > 0


def test_held_streams(server: RunningServer, tmp_path: Path) -> None:
    doc = run_benchmark(
        held_streams.main, server, tmp_path / "held_streams.json", "--levels", "20", "--hold", "1.5"
    )
    row = doc["summary"]["20"]
    assert row["got_first_message_min"] == 20
    point = doc["runs"][0]["points"][0]
    assert point["status_200"] == 20 and point["samples"]


def test_download(server: RunningServer, data_dir: Path, tmp_path: Path) -> None:
    doc = run_benchmark(
        download.main,
        server,
        tmp_path / "download.json",
        "--file",
        "1MiB.bin",
        "--data-dir",
        str(data_dir),
        "--no-nginx",
    )
    assert set(doc["summary"]) == {"zero-copy", "generator", "generated"}
    assert doc["config"]["nginx"] == {"skipped": "--no-nginx"}  # said, not silently dropped
    for point in doc["runs"][0]["points"]:
        assert point["status"] == 200 and point["bytes"] == 1 << 20 and point["ended"]
        assert point["server_rss_growth"] is not None and point["server_io"] is not None
    for row in doc["summary"].values():
        assert row["complete"] == row["transfers"] > 0
    # The file's bytes left the zero-copy route through sendfile, the others' through send().
    assert doc["summary"]["zero-copy"]["server_written_bytes"] >= 1 << 20
    assert doc["summary"]["generator"]["server_written_bytes"] < 1 << 20


def test_showcase_bench_runs_a_benchmark(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "framing.json"
    code = showcase_main(
        [
            "bench",
            "framing",
            "--url",
            server.url,
            "--runs",
            "1",
            "--no-pin",
            "--no-plot",
            "--quick",
            "--sizes",
            "16",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert json.loads(out.read_text())["benchmark"] == "framing"
    assert str(out) in capsys.readouterr().out


def test_idle_memory(tmp_path: Path) -> None:
    """Each lane's own server holds the connections until RSS is read: every one counted open
    (the poll's too), and a figure per connection from the worker's memory."""
    out = tmp_path / "idle_memory.json"
    code = idle_memory.main(
        ["--connections", "40", "--lanes", "sse,ws,poll", "--out", str(out), "--no-plot"]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert set(doc["summary"]) == {"sse", "ws", "poll"}
    for point in doc["runs"][0]["points"]:
        # The warm-up's 50 and the 40 measured, all held at the reading.
        assert point["open_streams"] >= 40 + idle_memory.WARM_CONNECTIONS
        assert point["rss_after_kib"] >= point["rss_before_kib"] > 0
