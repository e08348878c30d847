"""LLM streaming and relays: time to first token and inter-token gaps of the three chat APIs;
what each chained SSE relay hop adds (latency, server CPU per event) at 100 clients × 50 ms;
how fast one hop forwards at interval 0; what a new stream costs each server, direct and
through one hop. How the relays are built: docs/chat.md.

    python -m benchmarks.relay [--quick] [--runs 3] [--hops 0,1,2,3]

Without ``--url`` it starts a chain of servers (``benchmarks.chain``), one gevent worker each
on a free port: the origin (which also answers the chat APIs), then relay k reading relay k−1
(or the origin's ``/stream/sse``) through ``SHOWCASE_RELAY_SSE_URL``. With ``--url`` it
measures that one server: hop 0 is its ``/stream/sse``, hop 1 its ``/relay/stream/sse``
(whatever upstream that server is configured with). Answers are timed by ``benchmarks.tokens``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from benchmarks.chain import (
    NEW_STREAMS_CONNECTING,
    idle,
    measure_hop,
    measure_new_streams,
    measure_throughput,
    open_bare_relay,
    open_chain,
    warm_up,
)
from benchmarks.harness import (
    add_common_args,
    client_cpus,
    fmt,
    markdown_table,
    number_table,
    progress,
    report,
)
from benchmarks.latency import RAMP_CLIENTS_PER_S
from benchmarks.stats import median
from benchmarks.tokens import APIS, chat_body, measure_answers

# The server's chat pace (SHOWCASE_CHAT_INTERVAL_MS): fast, so the client's timing shows.
CHAT_INTERVAL_MS = 5.0
# The Coze typewriter's divisor: base pauses 2–4 ms, 20–30 ms after a sentence's end.
COZE_SPEED = 10.0
QUESTION = "hello"  # a canned answer: 27 tokens, 118 characters
# Issue 9's targets, for the scenario 100 clients × 50 ms.
TARGET_HOP_P99_MS = 1.0
TARGET_HOP_EVENTS_PER_S = 50_000.0
TARGET_SCENARIO = (100, 50.0)


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
        help="also measure one hop through benchmarks/bare_relay.py (default: yes)",
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


def hop_label(hops: int, relay: str = "showcase") -> str:
    return f"{hops} (bare WSGI relay)" if relay == "bare" else str(hops)


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


def check_targets(summary: dict[str, Any], scenario: tuple[int, float]) -> list[dict[str, Any]]:
    """Issue 9's two targets with the measured figures; ``met`` is None when not measured."""
    one = summary["hops"].get("1")
    bare = summary["hops"].get("1-bare")
    fits = tuple(scenario) == TARGET_SCENARIO
    added = one["added_p99_ms"] if one and "0" in summary["hops"] else None
    floor = (
        f"; a bare WSGI relay on the same server +{fmt(bare['added_p99_ms'], 2)} ms "
        f"(steady +{fmt(bare['added_steady_p99_ms'], 2)})"
        if bare and "0" in summary["hops"]
        else ""
    )
    tp = summary["throughput"].get("1")
    rate = tp["events_per_s"] if tp else None
    return [
        {
            "target": f"one relay hop adds ≤ {TARGET_HOP_P99_MS:g} ms at p99, "
            f"{TARGET_SCENARIO[0]} clients × {TARGET_SCENARIO[1]:g} ms",
            "measured": f"+{fmt(added, 2)} ms at p99 (+{fmt(one['added_p50_ms'], 2)} ms at "
            f"p50; steady +{fmt(one['added_steady_p99_ms'], 2)} ms at p99), "
            f"{scenario[0]} clients × {scenario[1]:g} ms{floor}"
            if one
            else "–",
            "met": None
            if added is None or not fits or math.isnan(added)
            else added <= TARGET_HOP_P99_MS,
        },
        {
            "target": f"a hop forwards ≥ {TARGET_HOP_EVENTS_PER_S:,.0f} events/s on one worker",
            "measured": f"{fmt(rate, 0)} events/s end to end; the relay's worker "
            f"{fmt(tp['server_cpu_us_per_event'][-1], 2)} µs CPU per event "
            f"(≈ {fmt(tp['worker_events_per_s'], 0)}/s of a core)"
            if tp
            else "–",
            "met": None if rate is None or math.isnan(rate) else rate >= TARGET_HOP_EVENTS_PER_S,
        },
    ]


def verdict(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**not met**")


def chat_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            r["api"],
            f"`{r['route']}`",
            f"{r['complete']}/{r['requests']}",
            f"{r['tokens']:,}",
            *(fmt(r[f"ttft_{q}_ms"], 2) for q in ("p50", "p95", "p99")),
            *(fmt(r[f"inter_token_{q}_ms"], 2) for q in ("p50", "p95", "p99")),
            fmt(r["tokens_per_s"], 0),
        ]
        for r in summary["chat"].values()
    ]


CHAT_HEADER: tuple[str, ...] = ("API", "route", "answers", "tokens", "TTFT p50 ms", "p95")
CHAT_HEADER += ("p99", "gap p50 ms", "p95", "p99", "tokens/s")
HOP_HEADER: tuple[str, ...] = ("hops", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms")
HOP_HEADER += ("steady p99 ms", "TTFB p50 ms", "TTFB max ms", "server CPU µs/event (all hops)")
HOP_HEADER += ("events",)
THROUGHPUT_HEADER: tuple[str, ...] = ("hops", "events/s end to end")
THROUGHPUT_HEADER += ("server CPU µs/event, origin first", "last worker alone, events/s", "events")
NEW_STREAMS_HEADER: tuple[str, ...] = ("hops", "streams/s", "server CPU µs/stream, origin first")
NEW_STREAMS_HEADER += ("share of a core at the ramp's rate", "complete")


def hop_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            hop_label(r["hops"], r.get("relay", "showcase")),
            fmt(r["latency_p50_ms"], 3),
            fmt(r["latency_p99_ms"], 3),
            fmt(r["added_p50_ms"], 3),
            fmt(r["added_p99_ms"], 3),
            fmt(r["steady_p99_ms"], 3),
            fmt(r["ttfb_p50_ms"], 2),
            fmt(r["ttfb_max_ms"], 1),
            fmt(r["cpu_us_per_event"], 1),
            f"{r['messages_received']:,}/{r['messages_expected']:,}",
        ]
        for r in summary["hops"].values()
    ]


def throughput_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            hop_label(r["hops"], r.get("relay", "showcase")),
            fmt(r["events_per_s"], 0),
            " + ".join(fmt(x, 2) for x in r["server_cpu_us_per_event"]),
            fmt(r["worker_events_per_s"], 0),
            f"{r['messages_received']:,}/{r['messages_expected']:,}",
        ]
        for r in summary["throughput"].values()
    ]


def new_stream_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            hop_label(r["hops"], r.get("relay", "showcase")),
            fmt(r["streams_per_s"], 0),
            " + ".join(fmt(x, 0) for x in r["server_cpu_us_per_stream"]),
            f"{fmt(r['ramp_core_share'] * 100, 0)} %",
            f"{r['complete']:,}/{r['streams']:,}",
        ]
        for r in summary.get("new_streams", {}).values()
    ]


def relay_target_rows(doc: dict[str, Any]) -> list[list[str]]:
    """The guide's targets rows: [target, measured, verdict]."""
    return [[t["target"], t["measured"], verdict(t["met"])] for t in doc["summary"]["targets"]]


def placement(server: dict[str, Any]) -> str:
    """Where the chain ran, in a sentence: the hops share a core when pinned."""
    if not server.get("own", True):
        return f"Measured on {server.get('url', 'a given server')}: hop 1 is its own relay."
    if server.get("server_cpu") is not None:
        return (
            f"Every server of the chain runs on CPU {server['server_cpu']} (the client on "
            f"CPU {server.get('client_cpu')}): a relay waits for its upstream's process to "
            "yield the core."
        )
    return "The servers and the client were not pinned."


def bare_sentence(summary: dict[str, Any]) -> str:
    """What the bare relay row is, when the run has one."""
    if not any(r.get("relay") == "bare" for r in summary["hops"].values()):
        return ""
    return (
        " The bare WSGI relay (`benchmarks/bare_relay.py`) is one hop on the same server and "
        "settings that passes each read of its upstream on as it came, with no Flask, no "
        "parsing and no re-encoding: what a hop costs on gunicorn's gevent worker before any "
        "app code."
    )


def relay_markdown(doc: dict[str, Any]) -> str:
    """The guide's chapter body from a relay result: the chat APIs' token timing, the cost of
    each hop, one hop's throughput, and the targets with the measured figures."""
    summary, config = doc["summary"], doc["config"]
    pace = config.get("chat_interval_ms")
    pace_text = f"{pace:g} ms per token" if pace is not None else "the server's own pace"
    clients, interval = config["scenario"]
    parts = [
        f"**Chat APIs.** {config['chat_clients']} concurrent clients, each asking "
        f"“{config['question']}” {config['chat_rounds']} time(s) per run, the server typing at "
        f"{pace_text} (`SHOWCASE_CHAT_INTERVAL_MS`, longer after punctuation) and the Coze "
        f"typewriter at speed {config['coze_speed']:g}. TTFT: request sent → first token "
        "received; gap: between two tokens' arrivals at the client (medians of the runs' "
        "percentiles).",
        markdown_table(CHAT_HEADER, chat_rows(summary)),
        f"**Relay hops.** {clients} clients × {interval:g} ms through 0–"
        f"{max([0, *(r['hops'] for r in summary['hops'].values())])} chained "
        "`/relay/stream/sse` hops, one gevent worker each; latency is receive time − the "
        "origin's `ts`, added latency a hop count's percentile − hop 0's in the same run, "
        "server CPU summed over every worker of the chain while all streams were open. "
        f"Clients connect at {config.get('ramp_clients_per_s', RAMP_CLIENTS_PER_S):,.0f}/s, "
        "each one a new upstream connection at every hop: p99 counts the events sent during "
        "that ramp, steady p99 only those sent while every stream was open. "
        + placement(doc.get("server", {}))
        + bare_sentence(summary),
        markdown_table(HOP_HEADER, hop_rows(summary)),
        f"**Forwarding at interval 0.** One client, {config['events']:,} events of 16 B pad; "
        "the last column is the last server's worker CPU per event turned into a rate. A hop "
        "passes each read of whole events on as one write, and at interval 0 a read carries "
        "many events: a relay's CPU per event here is a fraction of a paced event's.",
        markdown_table(THROUGHPUT_HEADER, throughput_rows(summary)),
        *new_streams_part(summary, config),
        markdown_table(("target (issue 9)", "measured", ""), relay_target_rows(doc)),
        "How the relays are built, and what a disconnect or a failing upstream does across "
        "hops: [LLM streaming and relays](chat.md).",
    ]
    return "\n\n".join(parts)


def new_streams_part(summary: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The guide's paragraph and table on what a new stream costs, if it was measured."""
    if not summary.get("new_streams"):
        return []
    ramp = config.get("ramp_clients_per_s", RAMP_CLIENTS_PER_S)
    return [
        f"**What a new stream costs.** {config['new_streams']:,} one-event streams per run, "
        f"{NEW_STREAMS_CONNECTING} connecting at a time: each server's CPU per stream, from "
        "the request to the closed connection. Through a hop that is the client's request, "
        "the relay's upstream connection and the origin's request. The last column is that "
        f"cost at the rate the hop benchmark's clients connect ({ramp:,.0f}/s): the load on "
        "the shared core while they do, which the events of the streams already open wait "
        "behind (the gap between p99 and steady p99 above).",
        markdown_table(NEW_STREAMS_HEADER, new_stream_rows(summary)),
    ]


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
