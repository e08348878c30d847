"""Resumable, cancellable answers: what the answer log costs and whether it keeps its promise.
Three lanes in one run, each its own ``showcase serve`` (one gevent worker, pinned): ``plain``
(``SHOWCASE_ANSWER_LOG=off``: no ids, no log), ``memory`` (the log in the worker) and
``redis`` (Redis Streams on a ``redis-server`` started here on a free 127.0.0.1 port, shared
by two servers, A and B).

1. cost: 100 concurrent ``POST /v1/chat/completions`` answers at 40 ms a token: server CPU
   µs per token, bytes on the wire per token, broker operations per token (Redis: INFO
   commandstats before/after) and each lane's ratio to plain, measured in the same round;
2. resume: the time from a reconnect (``GET …/<id>/stream`` with ``Last-Event-ID`` or
   ``?after=``) to its first replayed item, p50/p99 over every resume of (3);
3. exactness: answers cut at a random token by FIN, RST (SO_LINGER 0) or in the middle of an
   event, resumed from the last whole event; the tokens each reader assembled against the
   uninterrupted answer (lost, repeated, text unequal). Redis: started on A, resumed on B;
4. cancel: ``POST …/cancel`` → the reader sees the ``"cancelled": true`` chunk, p50/p99
   (Redis: the cancel sent to B, the reader on A);
5. Redis memory per answer: MEMORY USAGE of each answer's keys, and INFO used_memory's
   growth over K answers.

    python -m benchmarks.answers [--quick] [--lanes plain,memory,redis] [--answers 1000]
        [--clients 100] [--interval 40] [--tokens 60] [--out results/latest/answers.json]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from benchmarks.infra import procfs
from benchmarks.infra.answer_lanes import (
    Lane,
    command_calls,
    lane_servers,
    net_bytes,
    redis_client,
    tcp_counters,
)
from benchmarks.infra.harness import (
    CLIENT_CPU,
    SERVER_CPU,
    Target,
    add_common_args,
    client_cpus,
    pinning_wanted,
    progress,
    write_result,
)
from benchmarks.infra.measure import wait_idle
from benchmarks.load.answer_reader import CUTS, run_client
from benchmarks.load.answer_trials import (
    EXACT_INTERVAL_MS,
    LEG_DEADLINE_S,
    PROMPT,
    RESUME_WAIT_S,
    chat_body,
    cut_and_resume,
    read_answers,
    run_bounded,
    start_and_cancel,
)
from benchmarks.load.tokens import run_chats
from benchmarks.report.answers import print_table, summarize_runs
from benchmarks.report.stats import summarize
from showcase.chat.answer import answer_tokens
from showcase.tools.launcher import wait_for_health

__all__ = ["main", "LANES"]

LANES = ("plain", "memory", "redis")
CLIENTS, QUICK_CLIENTS = 100, 30  # concurrent answers of the cost batch
INTERVAL_MS = 40.0  # the cost batch's pace, ms a token
TOKENS, QUICK_TOKENS = 60, 15  # per answer of the cost batch (max_tokens)
COST_ROUNDS, QUICK_COST_ROUNDS = 3, 1  # cost batches per lane, lanes rotating
ANSWERS, QUICK_ANSWERS = 1000, 48  # cut and resumed, per lane (memory, redis)
EXACT_CONCURRENCY = 25
EXACT_TOKENS, QUICK_EXACT_TOKENS = 30, 20
CANCELS, QUICK_CANCELS = 100, 10
CANCEL_CONCURRENCY = 10
MEMORY_ANSWERS, QUICK_MEMORY_ANSWERS = 100, 20  # Redis memory per answer over this many
PHASE_DEADLINE_S = 150.0  # one phase of one lane, at most
IDLE_S = 5.0  # before a batch, the worker's streams of the last one closed (bounded)
SETTLE_S = 0.3  # after a batch, before the CPU is read again (the answers' last writes)


# 1. cost ------------------------------------------------------------------------------------


def wait_quiet(target: Target) -> None:
    """Wait (bounded) until the worker holds no stream and generates no answer: an answer
    outlives its request, and one still typing would count in the next batch's CPU."""
    wait_idle(target.url, IDLE_S)
    with contextlib.suppress(requests.RequestException, KeyError):
        wait_for_health(target.url, "answers", lambda count: count == 0, IDLE_S)


def measure_cost(lane: Lane, args: argparse.Namespace) -> dict[str, Any]:
    """One batch of ``args.clients`` concurrent answers of ``args.tokens`` tokens: the
    worker's CPU, the bytes read and (Redis) the broker's calls and CPU around it."""
    target = lane.start
    client = redis_client(lane.redis)
    wait_quiet(target)
    body = chat_body(args.tokens, args.interval)
    before = target.worker_sample()
    calls_before = command_calls(client) if client else {}
    net_before = net_bytes(client) if client else 0
    redis_cpu_before = procfs.cpu_seconds(lane.redis.pid) if lane.redis else None
    started = time.perf_counter()
    records = run_chats(target.url, "openai", body, args.clients, 1, LEG_DEADLINE_S * 2)
    wall_s = time.perf_counter() - started
    time.sleep(SETTLE_S)
    after = target.worker_sample()
    calls_after = command_calls(client) if client else {}
    net_after = net_bytes(client) if client else 0
    redis_cpu_after = procfs.cpu_seconds(lane.redis.pid) if lane.redis else None
    tokens = sum(r.messages for r in records)
    wire = sum(r.wire_bytes + r.head_bytes for r in records)
    cpu_s = after.cpu_s - before.cpu_s if after and before else None
    ops = {k: n - calls_before.get(k, 0) for k, n in calls_after.items()}
    ops = {k: n for k, n in sorted(ops.items()) if n}
    if client:
        client.close()
    return {
        "lane": lane.name,
        "answers": len(records),
        "complete": sum(r.complete for r in records),
        "errors": sorted({r.error for r in records if r.error}),
        "tokens": tokens,
        "expected_tokens": args.clients * args.tokens,
        "wall_s": wall_s,
        # First token to last of each answer: a lane that makes answers late shows here.
        "answer_s": summarize(
            [r.received_at[-1] - r.received_at[0] for r in records if len(r.received_at) > 1]
        ),
        "server_cpu_s": cpu_s,
        "cpu_us_per_token": cpu_s / tokens * 1e6 if cpu_s is not None and tokens else None,
        "wire_bytes": wire,
        "wire_bytes_per_token": wire / tokens if tokens else None,
        "broker_ops": ops if lane.redis else None,
        # Commands a script runs count as well as the script's call (EVALSHA + its XADD…).
        "broker_ops_per_token": sum(ops.values()) / tokens if lane.redis and tokens else None,
        "script_calls_per_token": sum(n for k, n in ops.items() if k.startswith("eval")) / tokens
        if lane.redis and tokens
        else None,
        "redis_net_bytes_per_token": (net_after - net_before) / tokens
        if lane.redis and tokens
        else None,
        "redis_cpu_us_per_token": (redis_cpu_after - redis_cpu_before) / tokens * 1e6
        if redis_cpu_after is not None and redis_cpu_before is not None and tokens
        else None,
    }


# 2 and 3. exactness and resume --------------------------------------------------------------


def measure_exactness(
    lane: Lane, args: argparse.Namespace, note: Callable[[str], None]
) -> dict[str, Any]:
    rng = random.Random(f"{lane.name}-{args.answers}")
    wait_quiet(lane.start)
    before = [target.worker_sample() for target in (lane.start, lane.other)]
    kernel_before = tcp_counters()
    started = time.perf_counter()
    records, lags = run_client(
        run_bounded(
            args.answers,
            EXACT_CONCURRENCY,
            lambda i: cut_and_resume(lane.start.url, lane.other.url, i, rng, args.expected),
            PHASE_DEADLINE_S,
            lambda n: note(f"{lane.name}: {n}/{args.answers} cut and resumed"),
        )
    )
    wall_s = time.perf_counter() - started
    after = [target.worker_sample() for target in (lane.start, lane.other)]
    kernel_after = tcp_counters()
    shares = [
        (b.cpu_s - a.cpu_s) / wall_s if a and b and wall_s > 0 else None
        for a, b in zip(before, after, strict=True)
    ]
    resumes = [r["resume_ms"] for r in records if r.get("resume_ms") is not None]
    heads = [r["resume_head_ms"] for r in records if r.get("resume_head_ms") is not None]
    connects = [r["resume_connect_ms"] for r in records if r.get("resume_connect_ms") is not None]
    failed = [r for r in records if r.get("errors") or r.get("lost") or r.get("repeated")]
    return {
        "lane": lane.name,
        "resumed_on": "second server" if lane.other is not lane.start else "same server",
        "answers": len(records),
        "cuts": {cut: sum(r.get("cut") == cut for r in records) for cut in CUTS},
        "not_cut": sum(r.get("cut") is None and not r.get("errors") for r in records),
        "resume_204": sum(r.get("resume_status") == 204 for r in records),
        "finished": sum(bool(r.get("finished")) for r in records),
        **{k: sum(r.get(k, 0) for r in records) for k in ("lost", "repeated", "wrong")},
        "text_unequal": sum(r.get("text_unequal", 0) for r in records),
        "with_errors": sum(bool(r.get("errors")) for r in records),
        "errors": sorted({e for r in records for e in r.get("errors", [])})[:20],
        "failed_examples": failed[:10],
        "wall_s": wall_s,
        # How busy the worker was (a share of one core): a resume waits behind the answers.
        "start_server_cpu_share": shares[0],
        "resume_server_cpu_share": shares[1],
        "kernel_tcp": {k: n - kernel_before.get(k, 0) for k, n in kernel_after.items()},
        "resume_ms": summarize(resumes),
        # Split: the TCP connect; connect and request to the response head; then the item.
        "resume_connect_ms": summarize(connects),
        "resume_head_ms": summarize(heads),
        "client_loop_lag_ms": summarize(lags),
        "raw_resume_ms": [round(x, 3) for x in resumes],
    }


# 4. cancel ----------------------------------------------------------------------------------


def measure_cancel(
    lane: Lane, args: argparse.Namespace, note: Callable[[str], None]
) -> dict[str, Any]:
    rng = random.Random(f"cancel-{lane.name}")
    wait_quiet(lane.start)
    records, lags = run_client(
        run_bounded(
            args.cancels,
            CANCEL_CONCURRENCY,
            lambda _: start_and_cancel(
                lane.start.url, lane.other.url, rng, len(args.expected_long), args.interval
            ),
            PHASE_DEADLINE_S,
            lambda n: note(f"{lane.name}: {n}/{args.cancels} cancelled"),
        )
    )
    times = [r["cancel_ms"] for r in records if r.get("cancel_ms") is not None]
    statuses: dict[str, int] = {}
    for r in records:
        key = f"{r.get('cancel_status')} {r.get('cancel_answer')}"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "lane": lane.name,
        "cancelled_on": "second server" if lane.other is not lane.start else "same server",
        "cancels": len(records),
        "seen": len(times),
        "done": sum(bool(r.get("done")) for r in records),
        "statuses": statuses,
        "with_errors": sum(bool(r.get("errors")) for r in records),
        "errors": sorted({e for r in records for e in r.get("errors", [])})[:20],
        "cancel_ms": summarize(times),
        "client_loop_lag_ms": summarize(lags),
        "raw_cancel_ms": [round(x, 3) for x in times],
    }


# 5. Redis memory ----------------------------------------------------------------------------


def measure_redis_memory(lane: Lane, args: argparse.Namespace) -> dict[str, Any]:
    """K whole answers of ``args.tokens`` tokens on a Redis that holds nothing else of this
    run yet: MEMORY USAGE of the keys naming each answer id, and used_memory's growth."""
    client = redis_client(lane.redis)
    assert client is not None
    wait_quiet(lane.start)
    used_before = int(client.info("memory")["used_memory"])
    legs = run_client(
        read_answers(lane.start.url, args.memory_answers, args.tokens, EXACT_CONCURRENCY)
    )
    time.sleep(SETTLE_S)
    used_after = int(client.info("memory")["used_memory"])
    ids = [leg.answer_id for leg in legs if leg.answer_id and leg.done]
    per_answer: list[int] = []
    keys_per_answer: list[int] = []
    for answer_id in ids:
        keys = list(itertools.islice(client.scan_iter(match=f"*{answer_id}*", count=1000), 100))
        keys_per_answer.append(len(keys))
        per_answer.append(sum(int(client.memory_usage(key, samples=0) or 0) for key in keys))
    client.close()
    tokens = sum(len(leg.tokens) for leg in legs if leg.done)
    found = [b for b in per_answer if b]
    return {
        "lane": lane.name,
        "answers": len(legs),
        "finished": len(ids),
        "tokens": tokens,
        "keys_per_answer": summarize([float(k) for k in keys_per_answer]),
        "bytes_per_answer": sum(found) / len(found) if found else None,
        "bytes_per_token": sum(found) / tokens if found and tokens else None,
        "used_memory_growth_bytes": used_after - used_before,
        "used_memory_per_answer": (used_after - used_before) / len(ids) if ids else None,
        "errors": sorted({leg.error for leg in legs if leg.error}),
    }


def warm_up(lane: Lane) -> None:
    """A few answers read to the end, on both servers: imports, the broker's connections."""
    for target in {id(lane.start): lane.start, id(lane.other): lane.other}.values():
        run_chats(target.url, "openai", chat_body(3, 1.0), 5, 1, LEG_DEADLINE_S)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench answers", description=__doc__)
    add_common_args(parser, runs=1)
    parser.add_argument("--lanes", default=",".join(LANES), help="plain,memory,redis")
    parser.add_argument("--clients", type=int, help=f"concurrent answers, cost ({CLIENTS})")
    parser.add_argument("--interval", type=float, default=INTERVAL_MS, help="ms a token (cost)")
    parser.add_argument("--tokens", type=int, help=f"tokens per answer, cost ({TOKENS})")
    parser.add_argument("--rounds", type=int, help=f"cost batches per lane ({COST_ROUNDS})")
    parser.add_argument("--answers", type=int, help=f"cut and resumed per lane ({ANSWERS})")
    parser.add_argument("--cancels", type=int, help=f"cancelled per lane ({CANCELS})")
    parser.add_argument(
        "--memory-answers", type=int, help=f"Redis memory over ({MEMORY_ANSWERS}) answers"
    )
    return parser


def settle_args(args: argparse.Namespace) -> None:
    """Fill what was not given with the full or the quick defaults; bound every count."""
    quick = args.quick
    args.clients = min(args.clients or (QUICK_CLIENTS if quick else CLIENTS), 2000)
    args.tokens = min(args.tokens or (QUICK_TOKENS if quick else TOKENS), 176)
    args.rounds = min(args.rounds or (QUICK_COST_ROUNDS if quick else COST_ROUNDS), 20)
    args.answers = min(args.answers or (QUICK_ANSWERS if quick else ANSWERS), 20_000)
    args.cancels = min(args.cancels or (QUICK_CANCELS if quick else CANCELS), 5000)
    memory = args.memory_answers or (QUICK_MEMORY_ANSWERS if quick else MEMORY_ANSWERS)
    args.memory_answers = min(memory, 5000)
    args.exact_tokens = QUICK_EXACT_TOKENS if quick else EXACT_TOKENS
    args.expected = answer_tokens(PROMPT)[: args.exact_tokens]
    args.expected_long = answer_tokens(PROMPT)  # the cancelled answers: the whole passage
    bad = [x for x in args.lanes.split(",") if x and x not in LANES]
    if bad:
        raise SystemExit(f"showcase bench answers: unknown lane {bad[0]!r} (of {LANES})")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.url:
        raise SystemExit("showcase bench answers: starts its own servers (one per lane): no --url")
    settle_args(args)
    lanes = [name for name in LANES if name in args.lanes.split(",")]
    cpus = client_cpus(args)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    runs: list[dict[str, Any]] = []
    servers: dict[str, Any] = {}
    resumable = [name for name in lanes if name != "plain"]
    steps = args.runs * (args.rounds * len(lanes) + 2 * len(resumable) + ("redis" in lanes))
    cpu = SERVER_CPU if pinning_wanted(args) else None
    with progress() as bar, lane_servers(lanes, cpu) as started:
        task = bar.add_task("answers", total=steps, note="warm-up")
        for lane in started.values():
            warm_up(lane)
            servers[lane.name] = {"url": lane.start.url, **lane.start.settings}
            if lane.redis:
                servers[lane.name]["redis_version"] = lane.redis.version
                servers[lane.name]["second_url"] = lane.other.url
        for run in range(args.runs):

            def note(text: str, run: int = run) -> None:
                bar.update(task, note=f"run {run + 1}: {text}")

            point: dict[str, Any] = {"run": run, "cost": [], "exactness": [], "cancel": []}
            if "redis" in started:  # first, while the Redis holds nothing else of this run
                note("redis memory per answer")
                point["redis_memory"] = measure_redis_memory(started["redis"], args)
                bar.advance(task)
            for round_index in range(args.rounds):
                shift = (run * args.rounds + round_index) % len(lanes)
                for name in lanes[shift:] + lanes[:shift]:
                    note(f"cost round {round_index + 1}: {name}")
                    cost = measure_cost(started[name], args)
                    point["cost"].append({"round": round_index, **cost})
                    bar.advance(task)
            for name in resumable:
                point["exactness"].append(measure_exactness(started[name], args, note))
                bar.advance(task)
                point["cancel"].append(measure_cancel(started[name], args, note))
                bar.advance(task)
            runs.append(point)
    summary = summarize_runs(runs, quick=args.quick)
    config = {
        "lanes": lanes,
        "clients": args.clients,
        "interval_ms": args.interval,
        "tokens": args.tokens,
        "cost_rounds": args.rounds,
        "answers": args.answers,
        "exact_concurrency": EXACT_CONCURRENCY,
        "exact_interval_ms": EXACT_INTERVAL_MS,
        "exact_tokens": args.exact_tokens,
        "resume_wait_s": list(RESUME_WAIT_S),
        "cuts": list(CUTS),
        "cancels": args.cancels,
        "cancel_concurrency": CANCEL_CONCURRENCY,
        "memory_answers": args.memory_answers,
        "runs": args.runs,
        "quick": args.quick,
    }
    server = {
        "own": True,
        "server_cpu": SERVER_CPU if pinning_wanted(args) else None,
        "client_cpu": CLIENT_CPU if pinning_wanted(args) else None,
        "lanes": servers,
    }
    out = write_result("answers", args, config, server, runs, summary)
    from rich.console import Console

    print_table(summary, Console(width=160))
    if not args.no_plot:
        from benchmarks.report.answers import plot_answers

        print(f"plot: {plot_answers(out)}")
    print(f"result: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
