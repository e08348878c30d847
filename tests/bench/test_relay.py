"""The relay benchmark: a small --quick run against a real chain of servers (and against one
given with --url), and its guide chapter written from a fixed result. No timing threshold:
the targets are reported, not asserted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import guide, relay, suite
from benchmarks.report.relay import relay_markdown, relay_target_rows
from benchmarks.report.tables import markdown_table
from showcase.tools.launcher import RunningServer

SMALL = [
    "--quick",
    "--runs",
    "1",
    "--no-pin",
    "--clients",
    "4",
    "--interval",
    "20",
    "--duration",
    "0.4",
    "--events",
    "2000",
    "--new-streams",
    "40",
    "--chat-clients",
    "2",
    "--chat-rounds",
    "1",
    "--chat-interval",
    "2",
    "--coze-speed",
    "50",
]


def read_result(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["benchmark"] == "relay"
    assert {"environment", "server", "client", "config", "summary", "runs"} <= set(document)
    png = out.with_suffix(".png")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return document


@pytest.mark.integration
def test_quick_run_through_a_chain_of_two_relays(tmp_path: Path) -> None:
    out = tmp_path / "relay.json"
    assert relay.main([*SMALL, "--hops", "0,1,2", "--out", str(out)]) == 0
    doc = read_result(out)
    summary = doc["summary"]
    # The chain was built by configuration: relay k reads relay k-1, the first the origin.
    chain, upstreams = doc["server"]["chain"], doc["server"]["relay_upstreams"]
    assert chain[0].endswith("/stream/sse") and upstreams == chain[:-1]
    assert doc["config"]["chat_interval_ms"] == 2.0
    assert set(summary["chat"]) == {"openai", "ndjson", "coze"}
    for row in summary["chat"].values():
        assert row["complete"] == row["requests"] == 2 and not row["errors"]
        assert row["tokens"] > 2 and row["ttft_p50_ms"] is not None
        assert row["inter_token_p99_ms"] is not None
    # The Coze relay retypes character by character: more tokens than the OpenAI answer.
    assert summary["chat"]["coze"]["tokens"] > summary["chat"]["openai"]["tokens"]
    # The bare WSGI relay reads the same origin: one more hop-1 row, a reference.
    assert list(summary["hops"]) == ["0", "1", "1-bare", "2"]
    assert doc["runs"][0]["hops"][-1]["relay"] in ("showcase", "bare")
    for row in summary["hops"].values():
        assert row["messages_received"] == row["messages_expected"] > 0
        assert row["latency_p99_ms"] is not None
    assert summary["hops"]["0"]["added_p99_ms"] == 0.0
    assert summary["hops"]["1-bare"]["relay"] == "bare"
    assert "a bare WSGI relay on the same server +" in summary["targets"][0]["measured"]
    # New streams: CPU per stream of each server on the path (origin first), all complete.
    assert list(summary["new_streams"]) == ["0", "1", "1-bare"]
    for key, servers in (("0", 1), ("1", 2), ("1-bare", 2)):
        row = summary["new_streams"][key]
        assert row["complete"] == row["streams"] == 40
        assert len(row["server_cpu_us_per_stream"]) == servers
        assert all(cpu > 0 for cpu in row["server_cpu_us_per_stream"])
    assert list(summary["throughput"]) == ["0", "1", "1-bare"]
    for key in ("1", "1-bare"):
        one = summary["throughput"][key]
        assert one["messages_received"] == one["messages_expected"] == 2000
        assert len(one["server_cpu_us_per_event"]) == 2  # origin and relay, read from /proc
        assert one["events_per_s"] > 0
    # Not the target's scenario (100 × 50 ms): the latency target is reported, not judged.
    latency_target, rate_target = summary["targets"]
    assert latency_target["met"] is None and "4 clients × 20 ms" in latency_target["measured"]
    assert rate_target["met"] in (True, False)
    raw = doc["runs"][0]["hops"][0]["raw_latency_ms"]
    assert len(raw) == summary["hops"]["0"]["messages_received"]


@pytest.mark.integration
def test_quick_run_against_a_given_server(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "relay.json"
    given = ["--url", server.url, "--server-pid", str(server.pid), "--apis", "openai"]
    assert relay.main([*SMALL, *given, "--out", str(out)]) == 0
    doc = read_result(out)
    assert doc["server"] == {"own": False, "url": server.url, "chain": "one server"}
    assert doc["config"]["chat_interval_ms"] is None  # the server's own pace
    assert list(doc["summary"]["chat"]) == ["openai"]
    # Hop 1 is the server's own relay, reading its /stream/sse ("self"); no bare relay.
    assert list(doc["summary"]["hops"]) == ["0", "1"]
    assert list(doc["summary"]["new_streams"]) == ["0", "1"]
    for row in doc["summary"]["hops"].values():
        assert row["messages_received"] == row["messages_expected"] > 0


def test_the_suite_runs_it_and_the_guide_has_a_chapter_for_it() -> None:
    assert suite.BENCHMARKS["relay"] is relay.main
    assert "relay" in guide.NAMES
    assert "{{relay_section}}" in guide.TEMPLATE.read_text()


def fixture_doc() -> dict[str, Any]:
    chat = {
        "api": "openai",
        "route": "/v1/chat/completions",
        "requests": 12,
        "complete": 12,
        "tokens": 324,
        "errors": [],
        "ttft_p50_ms": 1.25,
        "ttft_p95_ms": 2.5,
        "ttft_p99_ms": 3.75,
        "inter_token_p50_ms": 5.4,
        "inter_token_p95_ms": 30.5,
        "inter_token_p99_ms": 31.0,
        "tokens_per_s": 121.0,
    }

    def hop(count: int, p99: float, cpu: float) -> dict[str, Any]:
        return {
            "hops": count,
            "latency_p50_ms": 0.2 + count,
            "latency_p95_ms": 0.5 + count,
            "latency_p99_ms": p99,
            "latency_max_ms": p99 * 2,
            "steady_p99_ms": p99 / 2,
            "ttfb_p50_ms": 1.5,
            "ttfb_max_ms": 40.0,
            "added_p50_ms": float(count),
            "added_p99_ms": p99 - 1.0,
            "added_steady_p99_ms": (p99 - 1.0) / 2,
            "cpu_us_per_event": cpu,
            "messages_received": 6100,
            "messages_expected": 6100,
        }

    throughput = {
        "hops": 1,
        "events_per_s": 96_500.0,
        "server_cpu_us_per_event": [2.5, 4.8],
        "worker_events_per_s": 208_333.0,
        "messages_received": 200_000,
        "messages_expected": 200_000,
    }
    bare = {**hop(1, 1.25, 90.0), "relay": "bare"}
    new_streams = {
        "0": {"hops": 0, "streams_per_s": 2000.0, "server_cpu_us_per_stream": [400.0]},
        "1": {"hops": 1, "streams_per_s": 800.0, "server_cpu_us_per_stream": [450.0, 650.0]},
    }
    for row in new_streams.values():
        row.update(complete=6000, streams=6000)
        row["ramp_core_share"] = sum(row["server_cpu_us_per_stream"]) * 500 / 1e6
    summary: dict[str, Any] = {
        "chat": {"openai": chat},
        "hops": {
            "0": hop(0, 1.0, 42.0),
            "1": hop(1, 1.5, 150.0),
            "1-bare": bare,
            "2": hop(2, 9.0, 230.0),
        },
        "throughput": {"1": throughput},
        "new_streams": new_streams,
    }
    summary["targets"] = relay.check_targets(summary, (100, 50.0))
    config = {
        "question": "hello",
        "chat_interval_ms": 5.0,
        "coze_speed": 10.0,
        "chat_clients": 4,
        "chat_rounds": 3,
        "scenario": [100, 50.0],
        "events": 200_000,
        "new_streams": 2000,
    }
    return {"benchmark": "relay", "config": config, "summary": summary}


def test_relay_markdown_tables_and_targets_come_from_the_result() -> None:
    text = relay_markdown(fixture_doc())
    assert "| openai | `/v1/chat/completions` | 12/12 | 324 | 1.25 | 2.50 | 3.75 |" in text
    assert "4 concurrent clients" in text and "5 ms per token" in text
    # One hop: +0.5 ms at p99 against hop 0 in the same run; two hops: +8 ms.
    assert "| 1 | 1.500 | 1.000 | 0.500 | 0.750 | 40.0 | 150.0 | 6,100/6,100 |" in text
    assert "| 2 | 9.000 | 2.000 | 8.000 |" in text
    assert "| 1 | 96,500 | 2.50 + 4.80 | 208,333 | 200,000/200,000 |" in text
    # The bare relay's row and what it is; new streams with the ramp's load: 1.1 ms × 500/s.
    assert "| 1 (bare WSGI relay) | 1.250 | 1.000 | 0.250 |" in text
    assert "`benchmarks/reference/bare_relay.py`" in text
    assert "| 1 | 800 | 450 + 650 | 55 % | 6,000/6,000 |" in text
    # The targets are stated once, in the guide's Targets table, not in the chapter.
    targets = markdown_table(("target", "measured", ""), relay_target_rows(fixture_doc()))
    assert "| one relay hop adds ≤ 1 ms at p99, 100 clients × 50 ms | +0.50 ms at p99" in targets
    assert targets.count("| met |") == 2 and "| met |" not in text
    assert "a bare WSGI relay on the same server +0.25 ms (steady +0.12)" in targets
    assert "[LLM streaming and relays](chat.md)" in text


def test_targets_are_judged_only_on_the_issue_scenario() -> None:
    doc = fixture_doc()
    summary = doc["summary"]
    summary["hops"]["1"]["added_p99_ms"] = 25.0
    summary["throughput"]["1"]["events_per_s"] = 40_000.0
    hop_target, rate_target = relay.check_targets(summary, (100, 50.0))
    assert hop_target["met"] is False and rate_target["met"] is False
    assert relay.verdict(hop_target["met"]) == "**not met**"
    hop_target, _ = relay.check_targets(summary, (10, 20.0))
    assert hop_target["met"] is None and relay.verdict(None) == "–"
    assert relay.check_targets({"hops": {}, "throughput": {}}, (100, 50.0))[0]["met"] is None
    doc["summary"]["targets"] = relay.check_targets(summary, (100, 50.0))
    rows = relay_target_rows(doc)
    assert [row[2] for row in rows] == ["**not met**", "**not met**"]
