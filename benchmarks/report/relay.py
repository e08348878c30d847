"""The relay benchmark's targets, tables and the guide's chapter on LLM streaming and relays,
from its result. Pure: reads result dictionaries, writes text; no server, no sockets.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.report.conditions import NEW_STREAMS_CONNECTING, RAMP_CLIENTS_PER_S
from benchmarks.report.provenance import plural
from benchmarks.report.tables import fmt, markdown_table

# The relay's targets, for the scenario 100 clients × 50 ms.
TARGET_HOP_P99_MS = 1.0
TARGET_HOP_EVENTS_PER_S = 50_000.0
TARGET_SCENARIO = (100, 50.0)


def hop_label(hops: int, relay: str = "showcase") -> str:
    return f"{hops} (bare WSGI relay)" if relay == "bare" else str(hops)


def check_targets(summary: dict[str, Any], scenario: tuple[int, float]) -> list[dict[str, Any]]:
    """The relay's two targets with the measured figures; ``met`` is None when not measured."""
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
# The columns a reader weighs; p50 and TTFB p50 are in the result file.
HOP_HEADER: tuple[str, ...] = ("hops", "p99 ms", "added p50 ms", "added p99 ms")
HOP_HEADER += ("steady p99 ms", "TTFB max ms", "server CPU µs/event (all hops)")
HOP_HEADER += ("events",)
THROUGHPUT_HEADER: tuple[str, ...] = ("hops", "events/s end to end")
THROUGHPUT_HEADER += ("server CPU µs/event, origin first", "last worker alone, events/s", "events")
NEW_STREAMS_HEADER: tuple[str, ...] = ("hops", "streams/s", "server CPU µs/stream, origin first")
NEW_STREAMS_HEADER += ("share of a core at the ramp's rate", "complete")


def hop_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            hop_label(r["hops"], r.get("relay", "showcase")),
            fmt(r["latency_p99_ms"], 3),
            fmt(r["added_p50_ms"], 3),
            fmt(r["added_p99_ms"], 3),
            fmt(r["steady_p99_ms"], 3),
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
        "\n\nThe bare WSGI relay (`benchmarks/reference/bare_relay.py`) is one hop on the "
        "same server and settings that passes each read of its upstream on as it came, with "
        "no Flask, no parsing and no re-encoding: what a hop costs on gunicorn's gevent "
        "worker before any app code."
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
        f"“{config['question']}” {plural(config['chat_rounds'], 'time')} per run, the server "
        "typing at "
        f"{pace_text} (`SHOWCASE_CHAT_INTERVAL_MS`, longer after punctuation) and the Coze "
        f"typewriter at speed {config['coze_speed']:g}. TTFT: request sent → first token "
        "received; gap: between two tokens' arrivals at the client (medians of the runs' "
        "percentiles).",
        markdown_table(CHAT_HEADER, chat_rows(summary)),
        f"**Relay hops.** {clients} clients × {interval:g} ms through 0–"
        f"{max([0, *(r['hops'] for r in summary['hops'].values())])} chained "
        "`/relay/stream/sse` hops, one gevent worker each; latency is receive time − the "
        "origin's `ts`; *added*: a hop count's percentile − hop 0's in the same run; server "
        "CPU summed over every worker of the chain while all streams were open.",
        f"Clients connect at {config.get('ramp_clients_per_s', RAMP_CLIENTS_PER_S):,.0f}/s, "
        "each a new upstream connection at every hop: p99 counts the events sent during that "
        "ramp, steady p99 only those sent while every stream was open. "
        + placement(doc.get("server", {}))
        + bare_sentence(summary),
        markdown_table(HOP_HEADER, hop_rows(summary)),
        f"**Forwarding at interval 0.** One client, {config['events']:,} events of 16 B pad; "
        "the last column is the last server's worker CPU per event turned into a rate. A hop "
        "passes each read of whole events on as one write, and at interval 0 a read carries "
        "many events: a relay's CPU per event here is a fraction of a paced event's.",
        markdown_table(THROUGHPUT_HEADER, throughput_rows(summary)),
        *new_streams_part(summary, config),
        "How the relays are built, and what a disconnect or a failing upstream does across "
        "hops: [LLM streaming and relays](chat.md). The relay's targets are under "
        "[Targets](#targets).",
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
