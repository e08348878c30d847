"""The held-streams load generator and its report: connections spread over loopback source
addresses (seen from the server's access log), every loop bounded by its plan, and the
guide's capacity section computed from a result."""

from __future__ import annotations

import json
import re
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks import held_streams
from benchmarks.load.wire import (
    Plan,
    StreamRecord,
    _share,
    loopback_sources,
    run_plan_in_process,
    run_plan_split,
)
from benchmarks.report.capacity import capacity_markdown, project, stopped_by
from showcase.tools.launcher import start_server

ACCESS_LINE = re.compile(r'^(127\.\d+\.\d+\.\d+) .*"GET /stream/sse\?count=2\S* HTTP/1\.1" 200 ')


def test_loopback_sources_carry_into_the_third_octet() -> None:
    assert loopback_sources(3) == ("127.0.0.2", "127.0.0.3", "127.0.0.4")
    assert loopback_sources(3, first=253) == ("127.0.0.253", "127.0.0.254", "127.0.1.1")
    assert len(set(loopback_sources(1000))) == 1000


def test_split_processes_share_the_connecting_bound_and_keep_the_rest() -> None:
    plan = Plan(
        url="http://127.0.0.1:1",
        paths=("/",) * 10,
        max_connecting=200,
        hold_s=5.0,
        hold_after_connects=True,
        source_hosts=("127.0.0.2",),
    )
    shares = [_share(plan, plan.paths[i::5], 5) for i in range(5)]
    assert [s.max_connecting for s in shares] == [40] * 5
    assert [len(s.paths) for s in shares] == [2] * 5
    # Every other field as the plan has it (hold_after_connects was once dropped here).
    assert all(s.source_hosts == plan.source_hosts for s in shares)
    assert all(s.hold_after_connects and s.hold_s == 5.0 for s in shares)


@pytest.mark.integration
def test_connections_spread_over_source_addresses(tmp_path: Path) -> None:
    """300 streams from 3 source addresses in 2 client processes: the server's access log
    shows each address 100 times, and no (address, port) is used twice."""
    server = start_server(tmp_path / "gunicorn.log", env={"SHOWCASE_ACCESS_LOG": "-"})
    try:
        sources = loopback_sources(3)
        plan = Plan(
            url=server.url,
            paths=("/stream/sse?count=2&interval=10",) * 300,
            deadline_s=60.0,
            max_connecting=60,
            source_hosts=sources,
        )
        records, _ = run_plan_split(plan, 2, None)
        server.wait_open_streams(0)
    finally:
        server.stop()
    assert [r.status for r in records] == [200] * 300
    assert all(r.messages == 2 and r.complete and r.error is None for r in records)
    assert Counter(r.source.split(":")[0] for r in records if r.source) == dict.fromkeys(
        sources, 100
    )
    assert len({r.source for r in records}) == 300
    seen = Counter(
        match.group(1) for line in server.log().splitlines() if (match := ACCESS_LINE.match(line))
    )
    assert seen == dict.fromkeys(sources, 100)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connections_end_the_plan() -> None:
    plan = Plan(url=f"http://127.0.0.1:{closed_port()}", paths=("/",) * 50, deadline_s=30.0)
    records, _ = run_plan_in_process(plan, None)
    assert len(records) == 50
    assert all(r.error is not None and r.error.startswith("connect:") for r in records)


def test_a_source_address_that_is_not_local_fails_the_connect() -> None:
    """192.0.2.0/24 (TEST-NET-1) is no address of this machine: bind fails, nothing hangs."""
    plan = Plan(
        url=f"http://127.0.0.1:{closed_port()}",
        paths=("/",) * 4,
        deadline_s=30.0,
        source_hosts=("192.0.2.1",),
    )
    records, _ = run_plan_in_process(plan, None)
    assert all(r.error is not None and r.error.startswith("connect:") for r in records)


@pytest.mark.integration
def test_streams_that_never_end_stop_at_the_deadline(base_url: str) -> None:
    """Streams longer than the plan end at its deadline, each marked so, none left open."""
    plan = Plan(
        url=base_url,
        paths=("/stream/sse?count=1000&interval=500",) * 20,
        deadline_s=1.5,
        source_hosts=loopback_sources(2),
    )
    records, _ = run_plan_in_process(plan, None)
    assert [r.status for r in records] == [200] * 20
    assert all(r.error == "deadline" and not r.complete for r in records)
    assert all(r.messages >= 1 and r.t_end is not None for r in records)


@pytest.mark.integration
def test_a_hold_closes_every_stream_without_an_error(base_url: str) -> None:
    plan = Plan(
        url=base_url,
        paths=("/stream/sse?count=1000&interval=200",) * 20,
        hold_s=1.0,
        deadline_s=30.0,
    )
    records, _ = run_plan_in_process(plan, None)
    assert [r.status for r in records] == [200] * 20
    assert all(r.error is None and r.t_end is not None and r.messages >= 2 for r in records)


@pytest.mark.parametrize("after_connects", [False, True])
def test_streams_not_connected_when_the_hold_ends_say_so(after_connects: bool) -> None:
    """A listener that never accepts (backlog 0): its queue takes a connection or two, the
    kernel drops the rest's SYNs and their connects hang. When the hold ends, each stream says
    what it was still waiting for, rather than ending with no error and no answer. With
    ``hold_after_connects`` the hold waits for the connects first, up to the deadline."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        plan = Plan(
            url=f"http://127.0.0.1:{port}",
            paths=("/",) * 6,
            hold_s=0.3,
            deadline_s=1.5,
            hold_after_connects=after_connects,
        )
        started = time.monotonic()
        records, _ = run_plan_in_process(plan, None)
        took = time.monotonic() - started
    errors = Counter(r.error for r in records)
    assert set(errors) <= {"not connected when the hold ended", "no response when the hold ended"}
    assert errors["not connected when the hold ended"] >= 1
    assert took >= (1.4 if after_connects else 0.3)
    assert took < 5.0


def record(arrivals: list[float], end: float | None, keep: bool = True) -> StreamRecord:
    return StreamRecord(
        "/",
        status=200,
        messages=len(arrivals),
        t_first_message=arrivals[0] if arrivals else None,
        t_end=end,
        received_at=list(arrivals) if keep else [],
    )


@pytest.mark.parametrize(
    ("arrivals", "end", "kept"),
    [
        ([100.0], 100.4, True),  # closed before the second was due
        ([100.0], 102.5, False),  # silent for 2.5 intervals
        ([100.0, 101.0], 102.9, True),
        ([100.0 + 1.02 * i for i in range(30)], 130.0, True),  # 20 ms of drift per message
        ([100.0, 101.0, 104.0, 105.0], 105.5, False),  # a stall in the middle
    ],
)
def test_kept_receiving_means_no_silence_over_two_intervals(
    arrivals: list[float], end: float, kept: bool
) -> None:
    assert held_streams.kept_receiving(record(arrivals, end), 1000.0, closed=999.0) is kept


def test_kept_receiving_without_arrival_times_counts_messages() -> None:
    five = [100.0 + i for i in range(5)]
    assert held_streams.kept_receiving(record(five, 105.0, keep=False), 1000.0, closed=999.0)
    assert not held_streams.kept_receiving(record(five, 108.0, keep=False), 1000.0, closed=0)


def test_a_stream_without_a_first_message_did_not_keep_receiving() -> None:
    assert not held_streams.kept_receiving(record([], 105.0), 1000.0, closed=105.0)


def scenarios(*argv: str) -> tuple[list[int], int, list[tuple[int, int]]]:
    return held_streams.plan_scenarios(held_streams.build_parser().parse_args(list(argv)))


def test_scenarios_default_named_and_quick() -> None:
    assert scenarios() == ([1000, 5000, 10000], 10000, [(19000, 1), (75000, 4)])
    assert scenarios("--levels", "20") == ([20], 0, [])
    assert scenarios("--levels", "", "--storm", "300", "--capacity", "500x2") == (
        [],
        300,
        [(500, 2)],
    )
    assert scenarios("--quick") == ([200, 1000], 300, [(1000, 2)])


def point(scenario: str, streams: int, workers: int, **figures: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "streams": streams,
        "workers": workers,
        "interval_ms": 1000.0,
        "got_first_message": streams,
        "kept_receiving": streams,
        "errors": {},
        **figures,
    }


def test_summary_keys_scenarios_and_takes_the_least_count() -> None:
    runs = [
        {
            "run": 0,
            "points": [
                point("held", 10000, 1, rss_per_stream_bytes=20000.0),
                point("storm", 10000, 1, storm_s=5.0, flowing=1000),
                point("capacity", 75000, 4, rss_per_stream_bytes=19000.0),
            ],
        },
        {
            "run": 1,
            "points": [
                {**point("held", 10000, 1, rss_per_stream_bytes=22000.0), "kept_receiving": 9990},
                {**point("storm", 10000, 1, storm_s=3.0, flowing=1000), "errors": {"x": 2}},
                {**point("storm", 10000, 1, storm_s=2.5), "against": "bare"},
            ],
        },
    ]
    summary = held_streams.summarize_runs(runs)
    assert list(summary) == ["10000", "storm-10000", "capacity-75000x4", "storm-10000-bare"]
    assert summary["storm-10000-bare"]["against"] == "bare"
    assert summary["10000"]["kept_receiving_min"] == 9990
    assert summary["10000"]["rss_per_stream_bytes"] == 21000.0
    assert summary["storm-10000"]["storm_s"] == 4.0
    assert summary["storm-10000"]["flowing"] == 1000
    assert summary["storm-10000"]["errors"] == {"x": 2}
    assert summary["capacity-75000x4"]["workers"] == 4


LIMITS = {
    "nofile_soft": 20000,
    "nofile_hard": 20000,
    "somaxconn": 4096,
    "tcp_max_syn_backlog": 2048,
    "gunicorn_backlog": 4096,
    "listen_queue": 4096,
    "ephemeral_ports": [32768, 60999],
    "ephemeral_ports_count": 28232,
    "worker_connections_default": 20000,
    "memory_bytes": 16 * 2**30,
    "cpu_count": 2,
}


def row(scenario: str, streams: int, workers: int, **figures: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "streams": streams,
        "workers": workers,
        "interval_ms": 10000.0 if scenario == "capacity" else 1000.0,
        "got_first_message_min": streams,
        "kept_receiving_min": streams,
        "rss_per_stream_bytes": 20480.0,
        "server_cpu_share_held": 0.4,
        "first_message_p50_ms": 2.0,
        "first_message_p95_ms": 30.0,
        "first_message_max_ms": 90.0,
        **figures,
    }


RESULT = {
    "environment": {"memory_bytes": 16 * 2**30, "cpu_count": 2},
    "config": {"limits": LIMITS},
    "summary": {
        "10000": row("held", 10000, 1),
        "storm-10000": row(
            "storm",
            10000,
            1,
            flowing=1000,
            max_connecting=200,
            storm_s=5.5,
            connect_s=1.7,
            server_cpu_ms_per_new_stream=0.45,
            flowing_latency_p99_ms=12.0,
        ),
        "capacity-19000x1": row(
            "capacity", 19000, 1, rss_per_stream_bytes=16384.0, server_cpu_share_held=0.02
        ),
        "capacity-75000x4": row("capacity", 75000, 4, rss_per_stream_bytes=17000.0),
    },
}


def test_capacity_section_measures_limits_and_projects() -> None:
    text = capacity_markdown(RESULT, source="docs/results/held_streams.json")
    assert "`docs/results/held_streams.json`" in text
    # Streams per worker: 75,000 on 4 workers is 18,750 each; memory per stream as measured.
    assert "| 75,000 | 4 | 18,750 | 10 s | 75,000 | 75,000 | 16.6 |" in text
    assert "| 19,000 | 1 | 19,000 | 10 s |" in text
    # Every limit, with the setting that lifts it.
    for needle in (
        "RLIMIT_NOFILE",
        "hard limit 20,000",
        "`showcase serve --worker-connections N`",
        "net.core.somaxconn 4,096",
        "`sysctl net.ipv4.ip_local_port_range`",
        "32,768–60,999: 28,232 per source address",
        "16.0 KiB measured",  # the one-worker run with the most streams: 19,000
        "40.0 µs measured",  # 40 % of a core for 10,000 messages/s: dearer than 2 % for 1,900
    ):
        assert needle in text, needle
    # The storm, with its target.
    assert "the last 5.50 s after the first connect (target: 2 s)" in text
    assert "connecting took 1.70 s" in text
    # Projection from 16 KiB per stream: 80 % of 16 GiB holds 838,860 streams.
    by_memory = int(16 * 2**30 * 0.8 / 16384)
    assert f"| this machine | {by_memory:,} | 19,936: 43 workers | 50,000 | 500,000 |" in text
    # At 0.1 msg/s two cores pay for 500,000 streams, fewer than memory allows.
    assert "| 50,000 | 500,000 | **500,000** |" in text
    assert f"| 64 GiB, 16 cores, fd limit 1,048,576 | {int(64 * 2**30 * 0.8 / 16384):,} |" in text


def test_capacity_says_what_its_projection_assumes() -> None:
    result = {**RESULT, "summary": {**RESULT["summary"]}}
    result["summary"]["capacity-75000x4"] = row(
        "capacity", 75000, 4, rss_per_stream_bytes=17000.0, latency_p99_ms=1933.7
    )
    text = capacity_markdown(result)
    assert "| every stream received, but messages late: p99 1,934 ms |" in text
    assert "The projection assumes" in text and "p99 1,934 ms" in text


def test_projection_is_memory_over_memory_per_stream() -> None:
    p = project(16384.0, 40e-6, 2**30, 4, 1 << 20)
    assert p["by_memory"] == int(2**30 * 0.8 / 16384)
    assert p["workers_needed"] == 1
    assert p["by_cpu"] == {1.0: 100000, 0.1: 1000000}


def test_capacity_section_without_measurements_still_renders() -> None:
    text = capacity_markdown({"summary": {}, "config": {"limits": LIMITS}})
    assert "RLIMIT_NOFILE" in text and "Connect storm" not in text


def test_parse_capacity() -> None:
    assert held_streams.parse_capacity("19000x1,75000x4") == [(19000, 1), (75000, 4)]
    assert held_streams.parse_capacity("500") == [(500, 1)]
    assert held_streams.parse_capacity("") == []


def test_cpu_per_message_as_measured_wins_over_the_share() -> None:
    result = {**RESULT, "summary": dict(RESULT["summary"])}
    result["summary"]["10000"] = row("held", 10000, 1, server_cpu_us_per_message=25.0)
    assert "25.0 µs measured" in capacity_markdown(result)


def test_the_dearest_message_sets_the_cpu_figure() -> None:
    """19,000 streams at one message per 10 s on 40 % of a core: 210.5 µs a message."""
    result = {**RESULT, "summary": dict(RESULT["summary"])}
    result["summary"]["capacity-19000x1"] = row("capacity", 19000, 1, server_cpu_share_held=0.4)
    assert "210.5 µs measured (the dearest of the largest runs)" in capacity_markdown(result)


@pytest.mark.parametrize(
    ("figures", "reason"),
    [
        ({}, "nothing: every stream received"),
        (
            {"got_first_message_min": 51557, "connected": 51600},
            "23,400 never connected in time: the listen queue was full",
        ),
        ({"got_first_message_min": 9000, "connected": 10000}, "not answered in time"),
        ({"kept_receiving_min": 9000}, "messages late"),
        ({"latency_p99_ms": 1933.7}, "every stream received, but messages late: p99 1,934 ms"),
        ({"latency_p99_ms": 2.1}, "nothing: every stream received, p99 2 ms"),
        (
            {"got_first_message_min": 0, "errors": {"connect: [Errno 99] x": 7, "reset": 1}},
            "7 × connect: [Errno 99] x",
        ),
    ],
)
def test_what_stopped_a_run(figures: dict[str, Any], reason: str) -> None:
    streams = 75000 if "connected" in figures and figures["connected"] > 50000 else 10000
    assert reason in stopped_by(row("capacity", streams, 4, **figures))


@pytest.mark.integration
def test_a_level_and_the_storm_run_against_the_showcase_and_its_references(
    tmp_path: Path,
) -> None:
    """A small level and storm against each server, own servers started and stopped by the
    benchmark: the showcase, the tutorial Flask generator, the bare WSGI app, and the
    showcase's /ws."""
    out = tmp_path / "held.json"
    argv = ["--levels", "40", "--hold", "2", "--interval", "200"]
    argv += ["--storm", "30", "--storm-flowing", "5", "--storm-hold", "1"]
    argv += ["--runs", "1", "--no-pin", "--no-plot", "--out", str(out)]
    assert held_streams.main(argv) == 0
    summary = json.loads(out.read_text())["summary"]
    levels = {"40", "40-tutorial", "40-bare", "40-ws"}
    storms = {"storm-30", "storm-30-tutorial", "storm-30-bare", "storm-30-ws"}
    assert set(summary) == levels | storms
    for key, row in summary.items():
        assert row["errors"] == {}
        if key in levels:
            assert row["kept_receiving_min"] == 40
            assert row["server_cpu_share_held"] > 0
        else:
            assert row["got_first_message_min"] == 30
            assert row["server_cpu_ms_per_new_stream"] > 0
    assert "floor_cpu_share" in summary["40"]  # the kernel floor: the showcase's level only
    assert "floor_cpu_share" not in summary["40-bare"]


@pytest.mark.integration
def test_a_level_of_long_polls_keeps_receiving(tmp_path: Path) -> None:
    """``--against poll``: the level's clients poll instead of holding a stream, and each
    gets every message when it is due."""
    out = tmp_path / "held.json"
    argv = ["--levels", "20", "--hold", "1.5", "--interval", "200", "--against", "poll"]
    argv += ["--storm", "0", "--runs", "1", "--no-pin", "--no-plot", "--out", str(out)]
    assert held_streams.main(argv) == 0
    summary = json.loads(out.read_text())["summary"]
    assert set(summary) == {"20", "20-poll"}
    row = summary["20-poll"]
    assert row["errors"] == {}
    assert row["got_first_message_min"] == row["kept_receiving_min"] == 20
