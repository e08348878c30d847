"""LLM streaming and relays: time to first token and inter-token gaps of the three chat APIs;
what each chained SSE relay hop adds (latency, server CPU per event) at 100 clients × 50 ms;
how fast one hop forwards at interval 0; what a new stream costs each server, direct and
through one hop. How the relays are built: docs/chat.md.

    python -m benchmarks.relay [--quick] [--runs 3] [--hops 0,1,2,3]

Without ``--url`` it starts a chain of servers (``benchmarks.infra.chain``), one gevent worker each
on a free port: the origin (which also answers the chat APIs), then relay k reading relay k−1
(or the origin's ``/stream/sse``) through ``SHOWCASE_RELAY_SSE_URL``. With ``--url`` it
measures that one server: hop 0 is its ``/stream/sse``, hop 1 its ``/relay/stream/sse``
(whatever upstream that server is configured with). Answers are timed by ``benchmarks.load.tokens``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from benchmarks.infra.chain import (
    idle,
    measure_hop,
    measure_new_streams,
    measure_throughput,
    open_bare_relay,
    open_chain,
    warm_up,
)
from benchmarks.infra.harness import add_common_args, client_cpus, progress, report
from benchmarks.load.tokens import APIS, chat_body, measure_answers
from benchmarks.report.conditions import RAMP_CLIENTS_PER_S
from benchmarks.report.relay import (
    CHAT_HEADER,
    HOP_HEADER,
    NEW_STREAMS_HEADER,
    THROUGHPUT_HEADER,
    chat_rows,
    check_targets,
    hop_label,
    hop_rows,
    new_stream_rows,
    throughput_rows,
    verdict,
)
from benchmarks.report.stats import median
from benchmarks.report.tables import number_table

# The server's chat pace (SHOWCASE_CHAT_INTERVAL_MS): fast, so the client's timing shows.
CHAT_INTERVAL_MS = 5.0
# The Coze typewriter's divisor: base pauses 2–4 ms, 20–30 ms after a sentence's end.
COZE_SPEED = 10.0
QUESTION = "hello"  # a canned answer: 27 tokens, 118 characters


def parse_ints(text: str) -> tuple[int, ...]:
    return tuple(int(item) for item in text.split(",") if item)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench relay", description=__doc__)
    add_common_args(parser)
    parser.add_argument("--hops", type=parse_ints, default=(0, 1, 2, 3), help="e.g. 0,1,2,3")
    parser.add_argument("--clients", type=int, default=100, help="streams per hop count")
    parser.add_argument("--interval", type=float, default=50.0, help="ms between events")
    parser.add_argument("--duration", type=float, default=3.0, help="s of events per stream")
    parser.add_argument("--events", type=int, help="interval-0 events (200,000; quick 20,000)")
    parser.add_argument("--new-streams", type=int, help="one-event streams (2,000; quick 200)")
    parser.add_argument("--apis", default=",".join(APIS), help="chat APIs, comma-separated")
    parser.add_argument("--chat-clients", type=int, help="concurrent chat clients (4; quick 2)")
    parser.add_argument("--chat-rounds", type=int, help="questions per client (3; quick 1)")
    parser.add_argument("--chat-interval", type=float, default=CHAT_INTERVAL_MS, help="ms/token")
    parser.add_argument("--coze-speed", type=float, default=COZE_SPEED, help="typewriter ÷")
    parser.add_argument("--question", default=QUESTION, help="picks the answer")
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure one hop through benchmarks/reference/bare_relay.py (default: yes)",
    )
    return parser


def pin_client(args: argparse.Namespace) -> None:
    cpus = client_cpus(args)
    if cpus:
        os.sched_setaffinity(0, set(cpus))


def point_key(point: dict[str, Any]) -> str:
    """``"1"``, or ``"1-bare"`` for the bare relay (results older than it have no key)."""
    return str(point.get("key", point["hops"]))


def point_keys(runs: list[dict[str, Any]], part: str) -> list[str]:
    """The keys of ``part``'s points, by hop count, the showcase's before a reference's."""
    points = [p for run in runs for p in run.get(part, [])]
    keys = {point_key(p): (p["hops"], p.get("relay", "showcase") != "showcase") for p in points}
    return sorted(keys, key=lambda key: keys[key])


def grouped(runs: list[dict[str, Any]], part: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """``part``'s points of every run, grouped by key in ``point_keys``' order."""
    return [
        (key, [p for run in runs for p in run[part] if point_key(p) == key])
        for key in point_keys(runs, part)
    ]


def per_server_median(points: list[dict[str, Any]], field: str) -> list[float]:
    """The median over ``points`` of each server's figure in ``field`` (origin first)."""
    return [median([p[field][i] for p in points]) for i in range(len(points[0][field]))]


def identity(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Which hop a group of points measured: its hop count and relay."""
    return {"hops": points[0]["hops"], "relay": points[0].get("relay", "showcase")}


def summarize_runs(runs: list[dict[str, Any]], scenario: tuple[int, float]) -> dict[str, Any]:
    """Medians over runs; a hop's added latency is its p50/p99 − hop 0's in the same run."""
    chat: dict[str, Any] = {}
    for api in dict.fromkeys(p["api"] for run in runs for p in run["chat"]):
        points = [p for run in runs for p in run["chat"] if p["api"] == api]
        chat[api] = {
            "api": api,
            "route": points[0]["route"],
            "requests": sum(p["requests"] for p in points),
            "complete": sum(p["complete"] for p in points),
            "tokens": sum(p["tokens"] for p in points),
            "errors": sorted({e for p in points for e in p["errors"]}),
            **{
                f"{name}_{q}_ms": median([p[f"{name}_ms"][q] for p in points])
                for name in ("ttft", "inter_token")
                for q in ("p50", "p95", "p99")
            },
            "tokens_per_s": median([p["tokens_per_s"] for p in points]),
        }
    hops: dict[str, Any] = {}
    for row_key in point_keys(runs, "hops"):
        pairs = [
            (p, next((z for z in run["hops"] if z["hops"] == 0), None))
            for run in runs
            for p in run["hops"]
            if point_key(p) == row_key
        ]
        points = [p for p, _ in pairs]

        def added(q: str, key: str = "latency_ms", pairs: list[Any] = pairs) -> float:
            return median([p[key][q] - z[key][q] if z else math.nan for p, z in pairs])

        hops[row_key] = {
            **identity(points),
            **{
                f"latency_{q}_ms": median([p["latency_ms"][q] for p in points])
                for q in ("p50", "p95", "p99", "max")
            },
            "steady_p99_ms": median([p["steady_latency_ms"]["p99"] for p in points]),
            "ttfb_p50_ms": median([p["ttfb_ms"]["p50"] for p in points]),
            "ttfb_max_ms": max((p["ttfb_ms"]["max"] for p in points), default=math.nan),
            "added_p50_ms": added("p50"),
            "added_p99_ms": added("p99"),
            "added_steady_p99_ms": added("p99", "steady_latency_ms"),
            "cpu_us_per_event": median([p["cpu_us_per_event"] for p in points]),
            "messages_received": sum(p["messages"] for p in points),
            "messages_expected": sum(p["expected_messages"] for p in points),
        }
    throughput: dict[str, Any] = {}
    for key, points in grouped(runs, "throughput"):
        per_server = per_server_median(points, "server_cpu_us_per_event")
        throughput[key] = {
            **identity(points),
            "events_per_s": median([p["events_per_s"] for p in points]),
            "server_cpu_us_per_event": per_server,
            # What the last server's worker would forward with a core to itself.
            "worker_events_per_s": 1e6 / per_server[-1] if per_server[-1] else math.nan,
            "messages_received": sum(p["messages"] for p in points),
            "messages_expected": sum(p["events"] for p in points),
        }
    new_streams: dict[str, Any] = {}
    for key, points in grouped(runs, "new_streams"):
        per_server = per_server_median(points, "server_cpu_us_per_stream")
        new_streams[key] = {
            **identity(points),
            "streams_per_s": median([p["streams_per_s"] for p in points]),
            "server_cpu_us_per_stream": per_server,
            # The share of a core the benchmark's connect ramp asks of the chain's servers.
            "ramp_core_share": sum(per_server) * RAMP_CLIENTS_PER_S / 1e6,
            "complete": sum(p["complete"] for p in points),
            "streams": sum(p["streams"] for p in points),
        }
    summary = {"chat": chat, "hops": hops, "throughput": throughput, "new_streams": new_streams}
    return {**summary, "targets": check_targets(summary, scenario)}


def print_tables(summary: dict[str, Any], console: Console) -> None:
    for title, header, rows in (
        ("chat APIs: time to first token and gaps between tokens", CHAT_HEADER, chat_rows),
        ("relay hops: latency (receive − origin ts) and server CPU", HOP_HEADER, hop_rows),
        ("one hop at interval 0", THROUGHPUT_HEADER, throughput_rows),
        ("new streams: server CPU per stream", NEW_STREAMS_HEADER, new_stream_rows),
    ):
        table = number_table(title, header)
        for row in rows(summary):
            table.add_row(*row)
        console.print(table)
    table = number_table("targets", ("target", "measured", ""))
    for t in summary["targets"]:
        table.add_row(t["target"], t["measured"], verdict(t["met"]).strip("*"))
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.chat_clients = args.chat_clients or (2 if args.quick else 4)
    args.chat_rounds = args.chat_rounds or (1 if args.quick else 3)
    args.duration = min(args.duration, 1.5) if args.quick else args.duration
    events = args.events or (20_000 if args.quick else 200_000)
    new_streams = args.new_streams or (200 if args.quick else 2_000)
    apis = [api for api in args.apis.split(",") if api]
    depth = max(args.hops) if args.hops else 0
    pin_client(args)
    runs: list[dict[str, Any]] = []
    with (
        open_chain(args, depth, args.chat_interval) as (chain, server),
        open_bare_relay(args, chain) as bare,
        progress() as bar,
    ):
        references = [bare] if bare is not None else []
        hops = [hop for hop in chain if hop.hops in args.hops]
        hops += [hop for hop in references if hop.hops in args.hops]
        # Both relays pass each read of whole events on as one write (at interval 0 a read
        # carries many events), so the bare relay's forwarding compares, as its new streams do.
        one_hop = [hop for hop in chain if hop.hops <= 1] + references
        steps = len(apis) + len(hops) + 2 * len(one_hop)
        task = bar.add_task("relay", total=args.runs * steps, note="warm-up")
        warm_up(chain, args)
        for run in range(args.runs):
            # Hop counts rotate from run to run: none is always measured first.
            shift = run % max(1, len(hops))
            points: dict[str, list[dict[str, Any]]] = {
                "chat": [],
                "hops": [],
                "throughput": [],
                "new_streams": [],
            }
            for api in apis:
                bar.update(task, note=f"run {run + 1}: {api}")
                idle(chain)
                body = chat_body(api, args.question, args.coze_speed)
                clients, rounds = args.chat_clients, args.chat_rounds
                points["chat"].append(measure_answers(chain[0].url, api, body, clients, rounds))
                bar.advance(task)
            for hop in hops[shift:] + hops[:shift]:
                bar.update(task, note=f"run {run + 1}: {hop_label(hop.hops, hop.relay)} hop(s)")
                idle(chain)
                points["hops"].append(measure_hop(hop, args))
                bar.advance(task)
            for hop in one_hop:
                bar.update(task, note=f"run {run + 1}: interval 0, {hop.hops} hop(s)")
                idle(chain)
                points["throughput"].append(measure_throughput(hop, events, args))
                bar.advance(task)
            for hop in one_hop:
                note = f"run {run + 1}: new streams, {hop_label(hop.hops, hop.relay)} hop(s)"
                bar.update(task, note=note)
                idle(chain)
                points["new_streams"].append(measure_new_streams(hop, new_streams, args))
                bar.advance(task)
            runs.append({"run": run, **points})
    scenario = (args.clients, args.interval)
    summary = summarize_runs(runs, scenario)
    config = {
        "apis": apis,
        "question": args.question,
        "chat_interval_ms": server.get("chat_interval_ms"),
        "coze_speed": args.coze_speed,
        "chat_clients": args.chat_clients,
        "chat_rounds": args.chat_rounds,
        "hops": list(args.hops),
        "scenario": scenario,
        "duration_s": args.duration,
        "ramp_clients_per_s": RAMP_CLIENTS_PER_S,
        "events": events,
        "new_streams": new_streams,
        "runs": args.runs,
    }
    return report("relay", args, config, server, runs, summary, lambda c: print_tables(summary, c))


if __name__ == "__main__":
    sys.exit(main())
