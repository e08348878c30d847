"""The answers benchmark: its client cut every way and resumed against a small double of the
contract (tests/bench/answer_double.py), the token accounting, the summary and the guide's
section from a fixed result, and a quick run end to end against real servers (plain, memory,
and Redis with a redis-server it starts). No timing threshold: targets are reported."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import answers
from benchmarks.infra.answer_lanes import Lane
from benchmarks.infra.harness import Target
from benchmarks.load.answer_reader import CUTS, Leg, post_request, read_leg, resume_request
from benchmarks.load.answer_trials import chat_body, count_tokens, host_port
from benchmarks.report.answers import answers_section, summarize_runs
from tests.bench.answer_double import TOKENS, answer_double


def body(tokens: int) -> dict[str, Any]:
    return chat_body(tokens, 1.0)


def cut_then_resume(url: str, cut: str, after: int, by_query: bool) -> tuple[Leg, Leg | None]:
    host, port = host_port(url)

    async def both() -> tuple[Leg, Leg | None]:
        request = post_request(host, port, body(len(TOKENS)))
        first = await read_leg(host, port, request, 5.0, cut=cut, cut_after_tokens=after)
        if first.cut is None:
            return first, None
        assert first.answer_id is not None
        again = resume_request(host, port, first.answer_id, first.last_id, by_query)
        return first, await read_leg(host, port, again, 5.0)

    return asyncio.run(both())


def test_count_tokens_counts_lost_repeated_and_wrong() -> None:
    expected = ("a", "b", "c", "d")
    whole = count_tokens([(0, "a"), (1, "b"), (2, "c"), (3, "d")], expected)
    assert whole == {"lost": 0, "repeated": 0, "wrong": 0, "text_unequal": 0}
    broken = count_tokens([(0, "a"), (1, "b"), (1, "b"), (3, "x")], expected)
    assert broken == {"lost": 1, "repeated": 1, "wrong": 1, "text_unequal": 1}


@pytest.mark.parametrize("cut", CUTS)
def test_a_cut_answer_resumed_after_its_last_whole_event_is_whole(cut: str) -> None:
    with answer_double() as url:
        for after in (0, 1, 5, 10):
            for by_query in (False, True):
                first, second = cut_then_resume(url, cut, after, by_query)
                assert first.status == 200 and first.cut == cut, (after, first)
                assert first.error is None and not first.done
                assert first.last_id == (first.tokens[-1][0] if first.tokens else None)
                assert second is not None and second.status == 200 and second.done
                tokens = first.tokens + second.tokens
                assert count_tokens(tokens, TOKENS)["text_unequal"] == 0, (after, tokens)
                assert [seq for seq, _ in tokens] == list(range(len(TOKENS)))
                assert second.t_first_item is not None


def test_a_mid_event_cut_reads_part_of_the_next_event_and_keeps_none_of_it() -> None:
    with answer_double() as url:
        host, port = host_port(url)

        async def whole_and_cut() -> tuple[Leg, Leg]:
            request = post_request(host, port, body(3))
            whole = await read_leg(host, port, request, 5.0)
            request = post_request(host, port, body(6))
            cut = await read_leg(
                host, port, request, 5.0, cut="mid", cut_after_tokens=2, partial_bytes=5
            )
            return whole, cut

        whole, cut = asyncio.run(whole_and_cut())
    assert whole.done and [seq for seq, _ in whole.tokens] == [0, 1, 2]
    assert cut.cut == "mid" and [seq for seq, _ in cut.tokens] == [0, 1]
    assert cut.last_id == 1
    # Whole events of two tokens are fewer bytes than what the cut leg read.
    role_and_two = whole.wire_bytes - len(b"data: [DONE]\n\n")
    assert cut.wire_bytes > 0 and cut.wire_bytes < role_and_two


def double_lane(url: str) -> Lane:
    target = Target(url, [], {})
    return Lane("memory", target, target)


def double_args(count: int) -> argparse.Namespace:
    return argparse.Namespace(
        answers=count,
        exact_tokens=len(TOKENS),
        expected=TOKENS,
        expected_long=TOKENS,
        cancels=count,
        interval=1.0,
    )


def test_measure_exactness_cuts_every_way_and_loses_nothing() -> None:
    with answer_double() as url:
        result = answers.measure_exactness(double_lane(url), double_args(30), lambda _: None)
    assert result["answers"] == 30 and result["with_errors"] == 0, result["errors"]
    assert (result["lost"], result["repeated"], result["wrong"]) == (0, 0, 0)
    assert result["text_unequal"] == 0
    assert sum(result["cuts"].values()) + result["not_cut"] == 30
    assert all(result["cuts"][cut] > 0 for cut in CUTS)
    assert result["resume_ms"]["n"] == len(result["raw_resume_ms"]) > 0


def test_measure_cancel_times_the_cancelled_chunk() -> None:
    with answer_double() as url:
        result = answers.measure_cancel(double_lane(url), double_args(6), lambda _: None)
    assert result["cancels"] == 6 and result["with_errors"] == 0, result["errors"]
    assert result["seen"] == 6 and result["statuses"] == {"200 cancelled": 6}
    assert result["cancel_ms"]["p99"] >= 0


def cost(lane: str, round_index: int, cpu: float, ops: float | None) -> dict[str, Any]:
    return {
        "round": round_index,
        "lane": lane,
        "tokens": 1000,
        "expected_tokens": 1000,
        "errors": [],
        "cpu_us_per_token": cpu,
        "wire_bytes_per_token": 200.0,
        "broker_ops_per_token": ops,
        "broker_ops": {"xadd": 1000} if ops else None,
        "redis_cpu_us_per_token": 5.0 if ops else None,
    }


def exactness(lane: str, lost: int, resume: list[float]) -> dict[str, Any]:
    return {
        "lane": lane,
        "answers": 100,
        "resumed_on": "second server" if lane == "redis" else "same server",
        "cuts": {"fin": 33, "rst": 33, "mid": 33},
        "not_cut": 1,
        "resume_204": 2,
        **{"lost": lost, "repeated": 0, "wrong": 0, "text_unequal": int(bool(lost))},
        "with_errors": 0,
        "errors": [],
        "raw_resume_ms": resume,
        "resume_head_ms": {"p99": 1.0},
        "client_loop_lag_ms": {"p99": 0.5},
        "resume_server_cpu_share": 0.4,
    }


def fixed_result() -> dict[str, Any]:
    run = {
        "run": 0,
        "cost": [
            cost("plain", 0, 100.0, None),
            cost("memory", 0, 110.0, None),
            cost("redis", 0, 250.0, 2.0),
            cost("plain", 1, 200.0, None),
            cost("memory", 1, 240.0, None),
            cost("redis", 1, 380.0, 2.0),
        ],
        "exactness": [exactness("memory", 0, [1.0, 2.0, 3.0]), exactness("redis", 2, [4.0, 60.0])],
        "cancel": [
            {
                "lane": lane,
                "cancels": 2,
                "cancelled_on": "same server",
                "errors": [],
                "raw_cancel_ms": [5.0, 7.0],
            }
            for lane in ("memory", "redis")
        ],
        "redis_memory": {
            "bytes_per_answer": 12_345.0,
            "bytes_per_token": 200.0,
            "used_memory_per_answer": 13_000.0,
        },
    }
    config = {
        "clients": 100,
        "tokens": 60,
        "interval_ms": 40.0,
        "cost_rounds": 2,
        "answers": 100,
    }
    return {"config": config, "summary": summarize_runs([run]), "runs": [run]}


def test_summary_takes_ratios_within_a_round_and_sums_the_counts() -> None:
    lanes = fixed_result()["summary"]["lanes"]
    assert lanes["memory"]["cpu_vs_plain"] == pytest.approx((1.1 + 1.2) / 2)
    assert lanes["redis"]["cpu_vs_plain"] == pytest.approx((2.5 + 1.9) / 2)
    assert lanes["redis"]["broker_ops_by_command_per_token"] == {"xadd": 1.0}
    assert (lanes["memory"]["lost"], lanes["redis"]["lost"]) == (0, 2)
    assert lanes["redis"]["resume_p99_ms"] == 60.0
    assert lanes["memory"]["cancel_p99_ms"] == 7.0
    assert lanes["redis"]["redis_bytes_per_answer"] == 12_345.0


def test_targets_judge_cpu_resume_exactness_and_cancel() -> None:
    targets = {t["target"]: t["met"] for t in fixed_result()["summary"]["targets"]}
    assert targets["memory: CPU per token ≤ 1.25× plain"] is True
    assert targets["redis: CPU per token ≤ 2× plain"] is False
    assert targets["memory: resume → first replayed item p99 ≤ 50 ms"] is True
    assert targets["redis: resume → first replayed item p99 ≤ 50 ms"] is False
    assert targets["redis: every cut answer whole after resume (lost/repeated 0/0)"] is False
    assert targets["memory: cancel → cancelled chunk p99 ≤ 100 ms"] is True


def test_answers_section_is_a_table_and_advice_from_the_figures() -> None:
    lines = answers_section(fixed_result())
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    table = [line for line in lines if line.startswith("| lane |")]
    assert len(table) == 1 and "Redis bytes/answer" in table[0]
    memory_row = next(line for line in lines if line.startswith("| memory |"))
    assert "1.15" in memory_row and "0/0" in memory_row
    redis_row = next(line for line in lines if line.startswith("| redis |"))
    assert "2.20" in redis_row and "12,345" in redis_row and "2/0" in redis_row
    advice = " ".join(lines[lines.index(next(x for x in lines if "costs 1.15×" in x)) :])
    assert (
        "costs 1.15× the plain stream's CPU" in advice
        and "leave `SHOWCASE_ANSWER_LOG` on" in advice
    )
    assert "2.20× plain" in advice and "12,345 bytes" in advice
    assert "take it only where" in advice and "2 tokens lost" in advice


def test_quick_run_measures_every_lane_and_loses_no_token(tmp_path: Path) -> None:
    out = tmp_path / "answers.json"
    argv = ["--quick", "--no-pin", "--no-plot", "--answers", "24", "--cancels", "4"]
    argv += ["--clients", "10", "--tokens", "8", "--memory-answers", "5", "--out", str(out)]
    assert answers.main(argv) == 0
    doc = json.loads(out.read_text())
    assert {"environment", "config", "runs", "summary", "server"} <= doc.keys()
    lanes = doc["summary"]["lanes"]
    assert list(lanes) == ["plain", "memory", "redis"]
    for name, row in lanes.items():
        assert row["tokens"] == row["expected_tokens"] == 10 * 8, name
        assert row["cpu_us_per_token"] > 0 and row["wire_bytes_per_token"] > 0
    assert lanes["redis"]["broker_ops_per_token"] > 0
    assert lanes["redis"]["redis_bytes_per_answer"] > 0
    for name in ("memory", "redis"):
        row = lanes[name]
        assert row["exact_answers"] == 24 and row["with_errors"] == 0, row["exact_errors"]
        assert (row["lost"], row["repeated"], row["wrong"], row["text_unequal"]) == (0, 0, 0, 0)
        assert row["resumes"] > 0
        assert row["cancels_seen"] == row["cancels"] == 4, row["cancel_errors"]
    assert lanes["redis"]["resumed_on"] == "second server"
    assert answers_section(doc)


@pytest.mark.parametrize(("cut", "seen"), [("fin", "eof"), ("rst", "reset"), ("mid", "eof")])
def test_the_server_sees_a_fin_or_a_reset_as_the_cut_says(cut: str, seen: str) -> None:
    """A raw server sends the head and three token events (for ``mid``, a moment later the
    first bytes of a fourth, the one the cut stops inside), then reads what the client did."""
    import socket
    import threading
    import time

    from benchmarks.load.answer_reader import run_client
    from tests.bench.answer_double import event

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    result: list[str] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            body = b"".join(event("chatcmpl-x", n, {"content": f"t{n}"}) for n in range(3))
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * len(body))
            connection.sendall(head + body)
            if cut == "mid":
                time.sleep(0.05)
                connection.sendall(event("chatcmpl-x", 3, {"content": "t3"})[:10])
            connection.settimeout(5)
            try:
                result.append("eof" if connection.recv(65536) == b"" else "data")
            except ConnectionResetError:
                result.append("reset")

    thread = threading.Thread(target=serve)
    thread.start()
    request = post_request("127.0.0.1", port, body(3))
    leg = run_client(read_leg("127.0.0.1", port, request, 5.0, cut=cut, cut_after_tokens=2))
    thread.join(10)
    listener.close()
    assert leg.cut == cut and [seq for seq, _ in leg.tokens] == [0, 1, 2]
    assert leg.last_id == 2
    assert result == [seen]


def test_the_plot_is_drawn_next_to_the_result(tmp_path: Path) -> None:
    from benchmarks.report.answers import plot_answers

    result = tmp_path / "answers.json"
    result.write_text(json.dumps(fixed_result()))
    png = plot_answers(result)
    assert png == tmp_path / "answers.png" and png.read_bytes().startswith(b"\x89PNG")
