"""The answers benchmark's summary, targets, stdout table, the guide's section and its plot,
from its runs. Pure but for the plot (matplotlib, imported when drawn): no server, no sockets.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.report.provenance import plural
from benchmarks.report.stats import median, ratio, summarize
from benchmarks.report.tables import fmt, markdown_table, number_table

LANES = ("plain", "memory", "redis")
# Targets on this 2-core machine (loopback): CPU per token as a multiple of plain's…
CPU_LIMITS = {"memory": 1.25, "redis": 2.0}
RESUME_P99_MS = 50.0  # …a reconnect's first replayed item, p99…
CANCEL_P99_MS = 100.0  # …and POST cancel → the reader's cancelled chunk, p99.
HEADER = (
    "lane",
    "CPU µs/token",
    "× plain",
    "bytes/token",
    "broker ops/token",
    "resume p99 ms",
    "cancel p99 ms",
    "lost/repeated",
    "Redis bytes/answer",
)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not math.isnan(value)


def cost_ratios(runs: list[dict[str, Any]], lane: str, key: str) -> list[float]:
    """``key`` of ``lane`` ÷ plain's, per cost round (the same run and round), where both are."""
    ratios = []
    for run in runs:
        rounds: dict[int, dict[str, Any]] = {}
        for point in run["cost"]:
            rounds.setdefault(point["round"], {})[point["lane"]] = point
        for lanes in rounds.values():
            if lane in lanes and "plain" in lanes:
                mine, plain = lanes[lane].get(key), lanes["plain"].get(key)
                if _number(mine) and _number(plain):
                    ratios.append(ratio(mine, plain))
    return ratios


def summarize_lane(runs: list[dict[str, Any]], lane: str) -> dict[str, Any]:
    """One lane's medians over the cost rounds, the exactness and cancel counts summed, the
    resume and cancel percentiles over every run's raw times, Redis memory per answer."""
    cost = [p for run in runs for p in run["cost"] if p["lane"] == lane]
    exact = [p for run in runs for p in run.get("exactness", []) if p["lane"] == lane]
    cancel = [p for run in runs for p in run.get("cancel", []) if p["lane"] == lane]
    memory = [run["redis_memory"] for run in runs if lane == "redis" and run.get("redis_memory")]
    row: dict[str, Any] = {"lane": lane, "cost_rounds": len(cost)}
    row["tokens"] = sum(p["tokens"] for p in cost)
    row["expected_tokens"] = sum(p["expected_tokens"] for p in cost)
    row["cost_errors"] = sorted({e for p in cost for e in p["errors"]})
    for key in ("cpu_us_per_token", "wire_bytes_per_token", "broker_ops_per_token"):
        row[key] = median([p.get(key) for p in cost])
    row["redis_cpu_us_per_token"] = median([p.get("redis_cpu_us_per_token") for p in cost])
    row["script_calls_per_token"] = median([p.get("script_calls_per_token") for p in cost])
    row["redis_net_bytes_per_token"] = median([p.get("redis_net_bytes_per_token") for p in cost])
    row["answer_p50_s"] = median([(p.get("answer_s") or {}).get("p50") for p in cost])
    row["cpu_vs_plain"] = median(cost_ratios(runs, lane, "cpu_us_per_token"))
    row["wire_vs_plain"] = median(cost_ratios(runs, lane, "wire_bytes_per_token"))
    ops: dict[str, int] = {}
    for point in cost:
        for name, calls in (point.get("broker_ops") or {}).items():
            ops[name] = ops.get(name, 0) + calls
    row["broker_ops_by_command_per_token"] = {
        name: calls / row["tokens"] for name, calls in ops.items() if row["tokens"]
    }
    if exact:
        resumes = summarize([x for p in exact for x in p["raw_resume_ms"]])
        row |= {
            "exact_answers": sum(p["answers"] for p in exact),
            "resumed_on": exact[0]["resumed_on"],
            "cuts": {c: sum(p["cuts"][c] for p in exact) for c in exact[0]["cuts"]},
            "resume_204": sum(p["resume_204"] for p in exact),
            "resumes": resumes["n"],
            "resume_p50_ms": resumes["p50"],
            "resume_p99_ms": resumes["p99"],
            "resume_max_ms": resumes["max"],
            "resume_head_p99_ms": median([p["resume_head_ms"]["p99"] for p in exact]),
            "resume_connect_p99_ms": median(
                [(p.get("resume_connect_ms") or {}).get("p99") for p in exact]
            ),
            "client_loop_lag_p99_ms": median([p["client_loop_lag_ms"]["p99"] for p in exact]),
            "resume_server_cpu_share": median([p.get("resume_server_cpu_share") for p in exact]),
            "kernel_tcp": {
                k: sum((p.get("kernel_tcp") or {}).get(k, 0) for p in exact)
                for k in (exact[0].get("kernel_tcp") or {})
            },
        }
        for key in ("lost", "repeated", "wrong", "text_unequal", "with_errors", "not_cut"):
            row[key] = sum(p[key] for p in exact)
        row["exact_errors"] = sorted({e for p in exact for e in p["errors"]})
    if cancel:
        times = summarize([x for p in cancel for x in p["raw_cancel_ms"]])
        row |= {
            "cancels": sum(p["cancels"] for p in cancel),
            "cancels_seen": times["n"],
            "cancelled_on": cancel[0]["cancelled_on"],
            "cancel_p50_ms": times["p50"],
            "cancel_p99_ms": times["p99"],
            "cancel_errors": sorted({e for p in cancel for e in p["errors"]}),
        }
    if memory:
        row["redis_bytes_per_answer"] = median([m["bytes_per_answer"] for m in memory])
        row["redis_bytes_per_token"] = median([m["bytes_per_token"] for m in memory])
        row["redis_used_memory_per_answer"] = median([m["used_memory_per_answer"] for m in memory])
    return row


def check_targets(lanes: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target, its measured figure (text) and whether it was met (None: not measured)."""
    targets: list[dict[str, Any]] = []
    for lane, limit in CPU_LIMITS.items():
        if lane in lanes and "plain" in lanes:
            value = lanes[lane]["cpu_vs_plain"]
            targets.append(
                {
                    "target": f"{lane}: CPU per token ≤ {limit:g}× plain",
                    "measured": f"{fmt(value, 2)}×",
                    "met": value <= limit if _number(value) else None,
                }
            )
    for lane in ("memory", "redis"):
        row = lanes.get(lane)
        if not row or "exact_answers" not in row:
            continue
        resume = row["resume_p99_ms"]
        targets.append(
            {
                "target": f"{lane}: resume → first replayed item p99 ≤ {RESUME_P99_MS:g} ms",
                "measured": f"{fmt(resume, 1)} ms",
                "met": resume <= RESUME_P99_MS if _number(resume) else None,
            }
        )
        exact = row["lost"] == row["repeated"] == row["wrong"] == row["text_unequal"] == 0
        targets.append(
            {
                "target": f"{lane}: every cut answer whole after resume (lost/repeated 0/0)",
                "measured": f"{row['lost']}/{row['repeated']} of {row['exact_answers']:,} "
                f"answers ({row['with_errors']} with errors)",
                "met": exact and row["with_errors"] == 0,
            }
        )
        if "cancels" in row:
            p99 = row["cancel_p99_ms"]
            seen_all = row["cancels_seen"] == row["cancels"]
            targets.append(
                {
                    "target": f"{lane}: cancel → cancelled chunk p99 ≤ {CANCEL_P99_MS:g} ms",
                    "measured": f"{fmt(p99, 1)} ms ({row['cancels_seen']}/{row['cancels']} seen)",
                    "met": p99 <= CANCEL_P99_MS and seen_all if _number(p99) else None,
                }
            )
    return targets


def summarize_runs(runs: list[dict[str, Any]], quick: bool = False) -> dict[str, Any]:
    names = {p["lane"] for run in runs for p in run["cost"]}
    names |= {p["lane"] for run in runs for p in run.get("exactness", [])}
    lanes = {lane: summarize_lane(runs, lane) for lane in LANES if lane in names}
    return {"lanes": lanes, "targets": check_targets(lanes), "quick": quick}


def lane_cells(row: dict[str, Any]) -> list[str]:
    lost = f"{row['lost']}/{row['repeated']}" if "lost" in row else "–"
    times = "–" if row["lane"] == "plain" else fmt(row["cpu_vs_plain"], 2)
    ops = "0" if row["lane"] == "plain" else fmt(row["broker_ops_per_token"], 2)
    if row["lane"] == "memory":
        ops = "in-process"
    return [
        row["lane"],
        fmt(row["cpu_us_per_token"], 1),
        times,
        fmt(row["wire_bytes_per_token"], 0),
        ops,
        fmt(row.get("resume_p99_ms"), 1),
        fmt(row.get("cancel_p99_ms"), 1),
        lost,
        fmt(row.get("redis_bytes_per_answer"), 0),
    ]


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def _whole(row: dict[str, Any]) -> bool:
    keys = ("lost", "repeated", "wrong", "text_unequal", "with_errors")
    return all(row.get(key) == 0 for key in keys)


def recommendation(summary: dict[str, Any]) -> list[str]:
    """One or two sentences from the figures: what the log costs, whether resume kept every
    token, and when each broker is worth it (judged against the targets' limits)."""
    lanes = summary["lanes"]
    memory, redis = lanes.get("memory"), lanes.get("redis")
    sentences = []
    if memory and _number(memory["cpu_vs_plain"]):
        times = memory["cpu_vs_plain"]
        cheap = times <= CPU_LIMITS["memory"]
        resumed = (
            "with no token lost or repeated"
            if _whole(memory)
            else f"with {plural(memory.get('lost') or 0, 'token')} lost and "
            f"{memory.get('repeated')} repeated"
        )
        sentences.append(
            f"The answer log in the worker costs {fmt(times, 2)}× the plain stream's CPU per "
            f"token, and a reader cut off resumed {resumed} (first replayed item p99 "
            f"{fmt(memory.get('resume_p99_ms'), 1)} ms): "
            + (
                "leave `SHOWCASE_ANSWER_LOG` on unless answers must not be stored."
                if cheap and _whole(memory)
                else "do not count on resume until every token comes back."
                if not _whole(memory)
                else "keep it on where a dropped connection must not cost the answer, and "
                "turn it off (`SHOWCASE_ANSWER_LOG=off`) where CPU per token matters more."
            )
        )
    if redis and _number(redis["cpu_vs_plain"]):
        times = redis["cpu_vs_plain"]
        sentences.append(
            f"Redis costs {fmt(times, 2)}× plain's CPU per token in the worker "
            f"({fmt(redis['broker_ops_per_token'], 1)} Redis commands and "
            f"{fmt(redis.get('redis_cpu_us_per_token'), 1)} µs of redis-server CPU per token, "
            f"{fmt(redis.get('redis_bytes_per_answer'), 0)} bytes of Redis memory per answer "
            "kept for the TTL); "
            + (
                "take it whenever a reconnect or a cancel may reach another worker or host"
                if times <= CPU_LIMITS["redis"]
                else "take it only where a reconnect or a cancel must reach another worker or host"
            )
            + (
                ", as they did here (a second server resumed and cancelled answers the first ran)."
                if _whole(redis)
                else f"; here {plural(redis.get('lost') or 0, 'token')} lost and "
                f"{redis.get('repeated')} repeated across servers."
            )
        )
    return sentences  # a paragraph a broker


def answers_section(doc: dict[str, Any]) -> list[str]:
    """Markdown lines for the guide: what was measured, the lanes' table, the targets and a
    recommendation written from the figures."""
    summary, config = doc["summary"], doc["config"]
    lines = [
        f"Cost: {config['clients']} concurrent answers of {config['tokens']} tokens at "
        f"{config['interval_ms']:g} ms a token per lane, "
        f"{plural(config['cost_rounds'], 'round')} with the lanes in turn. *plain* has "
        "`SHOWCASE_ANSWER_LOG=off`, *memory* keeps the log in the worker, *redis* in Redis "
        "Streams. CPU is the worker's (schedstat); bytes are every byte read, heads included; "
        "broker ops are Redis commands (INFO commandstats, a Lua script's own included).",
        "",
        f"Resume and exactness: {config['answers']:,} answers per lane "
        f"({config.get('exact_concurrency', '?')} at a time, "
        f"{fmt(config.get('exact_interval_ms'), 0)} ms a token) cut at a random token (FIN, "
        "RST or mid-event) and resumed from the last whole event with `Last-Event-ID` or "
        "`?after=` (Redis: on a second server); resume time is reconnect → first replayed "
        "item. Cancel: `POST …/cancel` (Redis: to the second server) → the reader's cancelled "
        "chunk. CPU figures move with whatever else the machine runs; ratios are taken within "
        "a round.",
        "",
    ]
    rows = [lane_cells(row) for row in summary["lanes"].values()]
    lines += markdown_table(HEADER, rows).splitlines()
    lines.append("")
    target_rows = [[t["target"], t["measured"], verdict(t["met"])] for t in summary["targets"]]
    if target_rows:
        lines += markdown_table(("target", "measured", ""), target_rows).splitlines()
        lines.append("")
    for paragraph in recommendation(summary):
        lines += [paragraph, ""]
    while lines and not lines[-1]:
        lines.pop()
    if summary.get("quick"):
        lines += ["", "(A quick run: small counts, figures not judged.)"]
    return lines


def print_table(summary: dict[str, Any], console: Console) -> None:
    table = number_table("resumable answers: cost, resume, exactness, cancel", HEADER)
    for row in summary["lanes"].values():
        table.add_row(*lane_cells(row))
    console.print(table)
    for row in summary["lanes"].values():
        errors = row.get("cost_errors", []) + row.get("exact_errors", [])
        errors += row.get("cancel_errors", [])
        if errors:
            console.print(f"{row['lane']}: errors {errors[:5]}")
        if _number(row.get("answer_p50_s")):
            console.print(
                f"{row['lane']}: an answer of the cost batch took {row['answer_p50_s']:.2f} s "
                "first token to last (p50)"
            )
        if _number(row.get("resume_p99_ms")):
            console.print(
                f"{row['lane']}: resume p50 {row['resume_p50_ms']:.1f} ms, p99 "
                f"{row['resume_p99_ms']:.1f} ms (p99 to the TCP connection "
                f"{fmt(row['resume_connect_p99_ms'], 1)} ms, to the response head "
                f"{fmt(row['resume_head_p99_ms'], 1)} ms); the client's own loop lag p99 "
                f"{fmt(row['client_loop_lag_p99_ms'], 1)} ms; the resuming worker was busy "
                f"{fmt(100.0 * row['resume_server_cpu_share'], 0)} % of a core meanwhile"
            )
        if any((row.get("kernel_tcp") or {}).values()):
            counters = ", ".join(f"{k} {n}" for k, n in row["kernel_tcp"].items())
            console.print(f"{row['lane']}: the machine's TCP counters over the resumes: {counters}")
        if _number(row.get("redis_cpu_us_per_token")):
            console.print(
                f"{row['lane']}: redis-server CPU {row['redis_cpu_us_per_token']:.1f} µs per token "
                "(besides the worker's)"
            )
        if row.get("broker_ops_by_command_per_token"):
            ops = ", ".join(
                f"{k} {v:.2f}" for k, v in row["broker_ops_by_command_per_token"].items()
            )
            console.print(
                f"{row['lane']}: Redis commands per token (a script's own commands count "
                f"too): {ops}; script calls {fmt(row.get('script_calls_per_token'), 2)}, "
                f"bytes to and from Redis {fmt(row.get('redis_net_bytes_per_token'), 0)} per token"
            )
    table = number_table("targets", ("target", "measured", ""))
    for t in summary["targets"]:
        table.add_row(t["target"], t["measured"], verdict(t["met"]).strip("*"))
    console.print(table)


def plot_answers(path: Path, out: Path | None = None) -> Path:
    """Two CDFs per resumable lane: reconnect → first replayed item, and cancel → the
    cancelled chunk, with the targets as dotted lines."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from benchmarks.report.figure import load, save  # its import selects the Agg backend

    data = load(path)
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8))
    panels = (
        ("exactness", "raw_resume_ms", "reconnect → first replayed item (ms)", RESUME_P99_MS),
        ("cancel", "raw_cancel_ms", "POST cancel → cancelled chunk (ms)", CANCEL_P99_MS),
    )
    for ax, (phase, key, label, target) in zip(axes, panels, strict=True):
        lanes: dict[str, list[float]] = {}
        for run in data["runs"]:
            for point in run.get(phase, []):
                lanes.setdefault(point["lane"], []).extend(point[key])
        for lane, values in lanes.items():
            ordered = sorted(values)
            if ordered:
                ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=lane)
        ax.axvline(target, color="#888888", linewidth=0.9, linestyle=":")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.axhline(0.99, color="#bbbbbb", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"{label}, log scale")
        ax.set_ylabel("fraction")
        ax.grid(True, alpha=0.3)
        if lanes:
            ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Resumable answers (dotted: target)", fontsize=10)
    return save(fig, path, out)
