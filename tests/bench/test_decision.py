"""The decision part's figures come from the results, and say so when a mode was not
measured; latency is called a separator only when the p99s say it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.report import decision

FIXTURES = Path(__file__).with_name("fixtures")


def fixture_results() -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text()) for path in FIXTURES.glob("*.json")}


def latency_doc(p99_by_mode: dict[str, float]) -> dict[str, Any]:
    summary = {
        f"1000x50ms/{mode}": {
            "mode": mode,
            "clients": 1000,
            "interval_ms": 50.0,
            "latency_p99_ms": p99,
            "cpu_us_per_message": 20.0,
        }
        for mode, p99 in p99_by_mode.items()
    }
    return {"summary": summary}


def without_ws_and_poll(results: dict[str, Any]) -> dict[str, Any]:
    """The results of a publish that measured neither WebSocket nor polling."""
    results.pop("idle_memory", None)
    for name in ("framing", "latency", "held_streams"):
        summary = results[name]["summary"]
        for key, row in list(summary.items()):
            if row.get("mode") in ("ws", "poll", "short-poll") or row.get("against") in (
                "ws",
                "poll",
            ):
                del summary[key]
    return results


def test_modes_without_figures_are_not_measured_in_this_publish() -> None:
    results = without_ws_and_poll(fixture_results())
    text = decision.use_cases(results) + decision.separates(results)
    assert "`ws` not measured in this publish" in text
    assert "`poll` not measured in this publish" in text


def test_every_use_case_carries_figures_from_the_results() -> None:
    results = fixture_results()
    row = results["framing"]["summary"]["sse/16/auto"]
    row["wire_bytes_per_message"] = 123.4
    text = decision.use_cases(results)
    assert "`sse` 123 B" in text
    assert "](#framing-overhead)" in text and "](#memory-per-idle-connection)" in text


def test_latency_does_not_separate_modes_all_under_the_target() -> None:
    results = {"latency": latency_doc({"sse": 0.7, "ndjson": 1.0, "ws": 0.9})}
    text = decision.separates(results)
    assert "**Latency does not separate the modes:** every one measured met p99 ≤ 2 ms" in text
    assert "`ws` 0.90" in text and "`poll` not measured in this publish" in text


def test_latency_names_the_mode_it_separates() -> None:
    results = {"latency": latency_doc({"sse": 0.7, "poll": 68.3})}
    assert "**Latency separates `poll` from the rest**" in decision.separates(results)


def test_idle_memory_prefers_the_idle_benchmark_then_held_streams_against_rows() -> None:
    held = {
        "10000": {"scenario": "held", "streams": 10000, "rss_per_stream_bytes": 15 * 1024},
        "10000-ws": {
            "scenario": "held",
            "against": "ws",
            "streams": 10000,
            "rss_per_stream_bytes": 18 * 1024,
        },
    }
    idle = {"summary": {"poll": {"lane": "poll", "kib_per_connection": 9.5}}}
    kib = decision.idle_memory({"held_streams": {"summary": held}, "idle_memory": idle})
    assert kib == {"sse": 15.0, "ws": 18.0, "poll": 9.5}
    idle["summary"]["ws"] = {"lane": "ws", "kib_per_connection": 17.0}
    kib = decision.idle_memory({"held_streams": {"summary": held}, "idle_memory": idle})
    assert kib["ws"] == 17.0  # quiet connections, rather than streams flowing


def test_anchor_is_githubs() -> None:
    assert decision.anchor("Throughput (interval 0)") == "#throughput-interval-0"
    assert decision.anchor("Broadcast: one message to many") == "#broadcast-one-message-to-many"
