"""The hub benchmark: its subscriber client read from bytes cut at every offset, the delivery
checks, the summary and targets, the guide chapter from a fixed result, and a small quick
run end to end against real servers (memory broker; Redis with a redis-server it starts).
No timing threshold: the targets are reported, not asserted."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from benchmarks import hub
from benchmarks.floor import measure_floor, wire_message
from benchmarks.load.hub_client import Subscriber, SubscriberProtocol, parse_message
from benchmarks.report import hub as hub_report
from benchmarks.report.hub import floor_ms, summarize_runs
from showcase.hub.event import hub_error_event, message_event, presence_event

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def hub_stream() -> bytes:
    """What a subscriber reads: the preamble, its presence, two messages in one write, one more."""
    first = message_event(1, "1", "r", "ann", 'say "ts": 1}', 1000.0)
    second = message_event(2, "2", "r", "bob", "two", 2000.0)
    third = message_event(3, "1767225600000-0", "r", "ann", "three", 3000.5)
    return (
        HEAD
        + chunk(b"retry: 1000\n\n" + presence_event("r", 1, 900.0).sse_bytes)
        + chunk(first.sse_bytes + second.sse_bytes)
        + chunk(third.sse_bytes)
    )


def read_in_pieces(pieces: list[bytes]) -> Subscriber:
    async def feed() -> Subscriber:
        record = Subscriber()
        protocol = SubscriberProtocol(b"", record)
        for piece in pieces:
            protocol.data_received(piece)
        assert protocol.tally.messages == b"".join(pieces).count(b'data: {"id":"')  # live
        protocol.finish()
        return record

    return asyncio.run(feed())


def test_parse_message_takes_the_id_and_the_last_ts() -> None:
    line = b'data: {"id":"1767225600000-0","room":"r","user":"u","text":"\\"ts\\":9}","ts":1.5}'
    assert parse_message(line) == ("1767225600000-0", 1.5)


def test_subscriber_reads_every_message_whatever_the_cuts() -> None:
    stream = hub_stream()
    whole = read_in_pieces([stream])
    assert whole.status == 200 and whole.error is None
    assert whole.ids == ["1", "2", "1767225600000-0"]
    assert whole.t_joined is not None
    for cut in range(1, len(stream)):
        record = read_in_pieces([stream[:cut], stream[cut:]])
        assert (record.status, record.ids) == (200, whole.ids), cut
        assert record.t_joined is not None
    bytewise = read_in_pieces([stream[i : i + 1] for i in range(len(stream))])
    assert bytewise.ids == whole.ids and len(bytewise.latencies_ms) == 3


def test_an_error_event_or_the_server_ending_the_stream_is_an_error() -> None:
    failed = HEAD + chunk(b"retry: 1000\n\n" + hub_error_event("redis: gone", 1.0).sse_bytes)
    record = read_in_pieces([failed])
    assert record.status == 200 and record.error == 'event: error {"reason":"redis: gone"}'

    async def ended() -> Subscriber:
        record = Subscriber()
        protocol = SubscriberProtocol(b"", record)
        protocol.data_received(hub_stream())
        protocol.eof_received()
        protocol.finish()
        return record

    assert asyncio.run(ended()).error == "closed by the server"


def test_latency_is_receive_time_minus_ts() -> None:
    record = read_in_pieces([hub_stream()])
    sent = (1000.0, 2000.0, 3000.5)
    for latency, at, ts in zip(record.latencies_ms, record.received_at, sent, strict=True):
        assert latency == pytest.approx(at * 1000.0 - ts)


def subscriber(ids: list[str], latencies: list[float] | None = None) -> Subscriber:
    return Subscriber(status=200, ids=ids, latencies_ms=latencies or [1.0] * len(ids))


def test_check_deliveries_counts_missing_duplicated_and_out_of_order() -> None:
    records = [
        subscriber(["1", "2", "3"]),
        subscriber(["1", "3"]),
        subscriber(["1", "2", "2", "3"]),
        subscriber(["2", "1", "3"]),
        subscriber(["1", "2", "3", "9"]),
        subscriber([]),
    ]
    assert hub.check_deliveries(records, ["1", "2", "3"]) == {
        "subscribers_complete": 1,
        "missing": 1 + 3,
        "duplicated": 1,
        "out_of_order_subscribers": 1,
        "unexpected": 1,
    }


def test_fanout_is_each_message_last_delivery() -> None:
    records = [subscriber(["1", "2"], [3.0, 5.0]), subscriber(["1", "2"], [7.0, 4.0])]
    assert sorted(hub.fanout_ms(records)) == [5.0, 7.0]


def test_quantiles_keep_min_max_and_order() -> None:
    values = [float(v) for v in range(10_000, 0, -1)]
    kept = hub.quantiles(values, 11)
    assert kept[0] == 1.0 and kept[-1] == 10_000.0 and kept == sorted(kept) and len(kept) == 11
    assert hub.quantiles([3.0, 1.0], 11) == [1.0, 3.0]


def test_parse_configs() -> None:
    assert hub.parse_configs("memory-1000x1,redis-20000x4") == [
        hub.Config("memory", 1, 1000),
        hub.Config("redis", 4, 20000),
    ]
    assert hub.Config("redis", 4, 20000).label == "redis-20000x4"


def point(config: str, subscribers: int, **figures: Any) -> dict[str, Any]:
    broker, _, rest = config.partition("-")
    workers = int(rest.partition("x")[2])
    latency = {"n": 1, "mean": 1.0, "p50": 10.0, "p95": 40.0, "p99": 50.0, "max": 60.0}
    base: dict[str, Any] = {
        "config": config,
        "broker": broker,
        "workers": workers,
        "subscribers": subscribers,
        "rate_per_s": 1.0,
        "connect_per_s": 1000.0,
        "server_cpu_ms_per_join": 1.5,
        "client_cpu_us_per_delivery": 3.0,
        "status_200": subscribers,
        "joined": subscribers,
        "subscribers_complete": subscribers,
        "missing": 0,
        "duplicated": 0,
        "out_of_order_subscribers": 0,
        "unexpected": 0,
        "deliveries": subscribers * 20,
        "expected_deliveries": subscribers * 20,
        "published": 20,
        "acknowledged": 20,
        "latency_ms": latency,
        "fanout_ms": {**latency, "p50": 30.0},
        "server_cpu_us_per_delivery": 8.0,
        "redis_cpu_us_per_message": 150.0 if broker == "redis" else None,
        "rss_per_subscriber_bytes": 16 * 1024,
        "fanout_per_s": 300_000.0,
        "errors": {},
    }
    base.update(figures)
    return base


REDIS_LATENCY = {"p50": 20.0, "p95": 90.0, "p99": 150.0, "max": 300.0}


def full_result(**memory: Any) -> dict[str, Any]:
    runs = [
        {
            "run": 0,
            "points": [
                point("memory-1000x1", 1000),
                point("memory-10000x1", 10_000, **memory),
                point(
                    "redis-20000x4",
                    20_000,
                    latency_ms={"p50": 20.0, "p95": 90.0, "p99": 150.0, "max": 300.0},
                ),
            ],
        }
    ]
    config = {"rate_per_s": 1.0, "messages": 20, "runs": 1}
    server = {"own": True, "server_cpu": 0, "client_cpu": 1}
    return {"summary": hub_report.summarize_runs(runs), "config": config, "server": server}


def test_targets_from_a_full_result() -> None:
    doc = full_result()
    targets = doc["summary"]["targets"]
    assert [t["met"] for t in targets] == [True, True, True]
    rows = hub_report.hub_target_rows(doc)
    assert [row[2] for row in rows] == ["met", "met", "met"]
    assert "10,000/10,000 subscribers got every message" in rows[0][1]
    assert "p99 150.0 ms" in rows[1][1]


def test_a_missing_message_fails_the_target_whatever_the_latency() -> None:
    doc = full_result(subscribers_complete=9_999, missing=1)
    memory_target = doc["summary"]["targets"][0]
    assert memory_target["met"] is False
    assert "9,999/10,000" in memory_target["measured"] and "1 missing" in memory_target["measured"]
    assert doc["summary"]["configs"]["memory-10000x1"]["every_message"] is False


def test_a_failed_publish_fails_the_target() -> None:
    doc = full_result(acknowledged=19)
    memory_target = doc["summary"]["targets"][0]
    assert memory_target["met"] is False
    assert "1 of 20 publishes failed" in memory_target["measured"]


def test_a_publish_that_gets_no_answer_is_recorded_not_raised() -> None:
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        published = hub.publish_messages(url, "r", 2, 100.0, timeout_s=0.2)
    assert [(p.index, p.status, p.id) for p in published] == [(0, 0, None), (1, 0, None)]
    assert all(p.error and p.error.startswith("TimeoutError") for p in published)


def test_memory_per_subscriber_target_takes_the_larger() -> None:
    doc = full_result(rss_per_subscriber_bytes=21 * 1024)
    assert doc["summary"]["targets"][2]["met"] is False
    assert "21.0 KiB (memory-10000x1)" in doc["summary"]["targets"][2]["measured"]


def test_quick_configurations_are_not_judged() -> None:
    runs = [{"run": 0, "points": [point("memory-200x1", 200), point("redis-1000x4", 1000)]}]
    targets = hub_report.summarize_runs(runs)["targets"]
    assert [t["met"] for t in targets] == [None, None, None]


def test_summary_takes_medians_and_sums_counts() -> None:
    runs = [
        {
            "run": r,
            "points": [point("memory-1000x1", 1000, server_cpu_us_per_delivery=cpu, missing=m)],
        }
        for r, (cpu, m) in enumerate(((8.0, 0), (12.0, 2), (10.0, 1)))
    ]
    row = hub_report.summarize_runs(runs)["configs"]["memory-1000x1"]
    assert row["server_cpu_us_per_delivery"] == 10.0
    assert row["missing"] == 3 and row["runs"] == 3
    assert row["latency_max_ms"] == 60.0


def test_markdown_says_cost_redis_and_when_to_shard() -> None:
    text = hub_report.hub_markdown(full_result())
    assert "| `memory-10000x1` | 10,000 | 1 | 10,000/10,000 |" in text
    assert "**Fan-out cost per subscriber.**" in text and "8.0 µs of server CPU" in text
    assert "16.0 KiB" in text and "1.50 ms of CPU while 10,000 joined at 1,000" in text
    assert "client spent 3.0 µs per delivery on its own core, less than the server" in text
    assert "**What Redis adds.**" in text and "150 µs per published message" in text
    # 8 µs a delivery: a core saturates at 125,000 deliveries/s; 100 ms holds 12,500.
    assert "**When to shard** (computed from the measured CPU per delivery, not measured" in text
    assert "125,000 deliveries a second" in text
    assert "| 1 msg/s | 125,000 | 12,500 |" in text
    assert "| 10 msg/s | 12,500 | 12,500 |" in text
    assert "| 100 msg/s | 1,250 | 1,250 |" in text
    # The targets are stated once, in the guide's Targets table.
    assert "| target | measured |  |" not in text and "[Targets](#targets)" in text


def test_a_kernel_floor_beyond_the_floor_run_says_it_is_extrapolated() -> None:
    doc = full_result()
    doc["summary"]["floor"] = {"connections": 10_000, "us_per_send": {"p50": 11.0}}
    doc["summary"]["configs"]["redis-20000x4"]["floor_fanout_ms"] = 220.0
    for target in doc["summary"]["targets"]:
        target["measured"] += "; the kernel alone needs 220 ms for 20,000 sends on one core"
    text = hub_report.hub_markdown(doc)
    assert "`redis-20000x4` (extrapolated from 10,000 measured)" in text
    rows = {row[0][:20]: row[1] for row in hub_report.hub_target_rows(doc)}
    redis = next(measured for target, measured in rows.items() if target.startswith("Redis"))
    assert "20,000 sends on one core (extrapolated from 10,000 measured)" in redis


SMALL = ["--quick", "--runs", "1", "--no-pin", "--messages", "3", "--rate", "10"]
SMALL += ["--connect-rate", "500", "--quiet-max", "1"]


def read_result(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["benchmark"] == "hub"
    assert {"environment", "server", "client", "config", "summary", "runs"} <= set(document)
    png = out.with_suffix(".png")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return document


def assert_every_delivery(doc: dict[str, Any], labels: list[str]) -> None:
    summary = doc["summary"]
    assert list(summary["configs"]) == labels
    for label in labels:
        row = summary["configs"][label]
        assert row["published"] == row["acknowledged"] == 3
        assert row["joined_min"] == row["subscribers"]
        assert row["subscribers_complete_min"] == row["subscribers"], label
        assert row["every_message"] is True
        assert row["missing"] == row["duplicated"] == row["out_of_order_subscribers"] == 0
        assert row["deliveries"] == row["expected_deliveries"] == 3 * row["subscribers"]
        assert row["latency_p99_ms"] is not None and row["server_cpu_us_per_delivery"] is not None
        assert row["rss_per_subscriber_bytes"] is not None
    point = doc["runs"][0]["points"][0]
    assert len(point["raw_latency_ms"]) == 3 * point["subscribers"]
    assert [t["met"] for t in summary["targets"]] == [None, None, None]
    assert hub_report.hub_markdown(doc).count("\n| `") >= len(labels)


@pytest.mark.integration
def test_quick_run_memory_broker(tmp_path: Path) -> None:
    out = tmp_path / "hub.json"
    assert hub.main([*SMALL, "--configs", "memory-60x1,memory-150x1", "--out", str(out)]) == 0
    doc = read_result(out)
    assert_every_delivery(doc, ["memory-60x1", "memory-150x1"])
    assert doc["server"]["configs"]["memory-60x1"]["broker"] == "memory"


@pytest.mark.integration
def test_quick_run_redis_broker_over_two_workers(tmp_path: Path) -> None:
    out = tmp_path / "hub.json"
    argv = [*SMALL, "--configs", "redis-120x2", "--processes", "2", "--out", str(out)]
    assert hub.main(argv) == 0
    doc = read_result(out)
    assert_every_delivery(doc, ["redis-120x2"])
    row = doc["summary"]["configs"]["redis-120x2"]
    assert row["redis_cpu_us_per_message"] is not None  # redis-server's CPU, read from /proc
    settings = doc["server"]["configs"]["redis-120x2"]
    assert settings["broker"] == "redis" and settings["workers"] == 2
    assert doc["runs"][0]["points"][0]["client_processes"] == 2


def test_the_kernel_floor_sends_to_every_connection_each_round() -> None:
    floor = measure_floor(connections=200, rounds=2)
    assert floor["connections"] == 200 and floor["rounds"] == 2
    assert len(floor["per_send_us"]) == 2 and all(us > 0 for us in floor["per_send_us"])
    assert floor["short_sends"] == 0  # every send took the whole message
    assert floor["message_bytes"] == len(wire_message())
    summary = summarize_runs([], floor)
    assert summary["floor"] is floor
    assert floor_ms(floor, 10_000) == pytest.approx(floor["us_per_send"]["p50"] * 10)
