"""The hub benchmark's summary, targets and the guide's "broadcast" chapter, from its runs.

Pure: reads result dictionaries, writes text; no server, no sockets.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from rich.console import Console

from benchmarks.report.provenance import plural
from benchmarks.report.stats import median
from benchmarks.report.tables import fmt, markdown_table, number_table

# The hub's targets on this 2-core machine.
TARGET_MEMORY = ("memory-10000x1", 100.0)  # every message, p99 within 100 ms of its publish
TARGET_REDIS = ("redis-20000x4", 200.0)
TARGET_RATE_PER_S = 1.0
TARGET_RSS_PER_SUBSCRIBER_BYTES = 20 * 1024
# Publish rates the "when to shard" table is computed at (messages a second to one room).
SHARD_RATES_PER_S = (1.0, 10.0, 100.0)
FANOUT_BUDGET_MS = 100.0  # a message should reach every subscriber of a worker within this

KEEP = ("config", "broker", "workers", "subscribers", "rate_per_s", "connect_per_s")
SUMMED: tuple[str, ...] = ("missing", "duplicated", "out_of_order_subscribers", "unexpected")
SUMMED += ("deliveries",)
SUMMED += ("expected_deliveries", "published", "acknowledged")
LEAST = ("joined", "status_200", "subscribers_complete")
SCALARS: tuple[str, ...] = ("join_s", "settle_s", "server_cpu_ms_per_join", "publish_ack_p50_ms")
SCALARS += ("delivered_per_s", "fanout_per_s", "server_cpu_s", "server_cpu_us_per_delivery")
SCALARS += ("server_cpu_share", "redis_cpu_us_per_message", "server_rss_baseline")
SCALARS += ("server_rss_idle", "rss_per_subscriber_bytes", "client_cpu_s")
SCALARS += ("client_cpu_us_per_delivery",)


def summarize_runs(
    runs: list[dict[str, Any]], floor: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per configuration: counts summed (missing, duplicated) or least (complete
    subscribers), percentiles and costs the median of the runs, max the largest; then the
    targets. ``every_message``: every subscriber of every run got every message once, in order.
    ``floor`` (benchmarks.floor): each configuration's ``floor_fanout_ms`` is what its
    subscribers' sends alone take on one core."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for point in run["points"]:
            grouped.setdefault(point["config"], []).append(point)
    configs: dict[str, Any] = {}
    for label, points in grouped.items():
        row: dict[str, Any] = {k: points[0][k] for k in KEEP}
        row["runs"] = len(points)
        row.update({k: sum(p[k] for p in points) for k in SUMMED})
        row.update({f"{k}_min": min(p[k] for p in points) for k in LEAST})
        row.update({k: median([p.get(k) for p in points]) for k in SCALARS})
        for name in ("latency", "fanout"):
            for q in ("p50", "p95", "p99"):
                row[f"{name}_{q}_ms"] = median([p[f"{name}_ms"][q] for p in points])
            row[f"{name}_max_ms"] = max(p[f"{name}_ms"]["max"] for p in points)
        row["every_message"] = all(
            p["subscribers_complete"] == p["subscribers"] and p["acknowledged"] == p["published"]
            for p in points
        )
        row["errors"] = dict(sum((Counter(p.get("errors", {})) for p in points), Counter()))
        row["floor_fanout_ms"] = floor_ms(floor, row["subscribers"])
        configs[label] = row
    return {"configs": configs, "targets": check_targets(configs), "floor": floor}


def floor_ms(floor: dict[str, Any] | None, sends: int) -> float | None:
    """The kernel floor of ``sends`` loopback sends, one after another on one core, in ms."""
    if not floor:
        return None
    return float(floor["us_per_send"]["p50"]) * sends / 1000.0


def plural_rate(rate: float) -> str:
    return f"{rate:g} message a second" if rate == 1 else f"{rate:g} messages a second"


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def check_targets(configs: dict[str, Any]) -> list[dict[str, Any]]:
    """The hub's three targets with the measured figures; ``met`` is None when the run did
    not measure the target's configuration (a quick run, another rate)."""
    targets = []
    for (label, p99_ms), text in (
        (TARGET_MEMORY, "memory broker, 1 worker, 10,000 subscribers at 1 msg/s"),
        (TARGET_REDIS, "Redis broker, 4 workers, 20,000 subscribers at 1 msg/s"),
    ):
        row = configs.get(label)
        fits = row is not None and row["rate_per_s"] == TARGET_RATE_PER_S
        measured = "–"
        met = None
        if row is not None:
            measured = (
                f"{fmt(row['subscribers_complete_min'], 0)}/{fmt(row['subscribers'], 0)} "
                f"subscribers got every message ({row['missing']:,} missing, "
                f"{row['duplicated']:,} duplicated); p99 {fmt(row['latency_p99_ms'], 1)} ms, "
                f"max {fmt(row['latency_max_ms'], 1)} ms at {row['rate_per_s']:g} msg/s"
            )
            if row["acknowledged"] < row["published"]:
                failed = row["published"] - row["acknowledged"]
                measured += f"; {failed:,} of {row['published']:,} publishes failed"
            if _known(row.get("floor_fanout_ms")):
                measured += (
                    f"; the kernel alone needs {fmt(row['floor_fanout_ms'], 0)} ms for "
                    f"{row['subscribers']:,} sends on one core"
                )
            p99 = row["latency_p99_ms"]
            met = (row["every_message"] and _known(p99) and p99 <= p99_ms) if fits else None
        targets.append(
            {
                "target": f"{text}: every subscriber receives every message, "
                f"p99 ≤ {p99_ms:g} ms after its publish",
                "config": label,
                "measured": measured,
                "met": met,
            }
        )
    rows = [configs[label] for label, _ in (TARGET_MEMORY, TARGET_REDIS) if label in configs]
    per = [r["rss_per_subscriber_bytes"] for r in rows if _known(r["rss_per_subscriber_bytes"])]
    targets.append(
        {
            "target": f"≤ {TARGET_RSS_PER_SUBSCRIBER_BYTES // 1024} KiB of server memory per "
            "idle subscriber",
            "config": ",".join(r["config"] for r in rows),
            "measured": "; ".join(
                f"{fmt(_kib(r['rss_per_subscriber_bytes']), 1)} KiB ({r['config']})" for r in rows
            )
            or "–",
            "met": max(per) <= TARGET_RSS_PER_SUBSCRIBER_BYTES if per else None,
        }
    )
    return targets


def _kib(value: float | None) -> float | None:
    return value / 1024.0 if _known(value) else None  # type: ignore[operator]


def verdict(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**not met**")


def hub_target_rows(doc: dict[str, Any]) -> list[list[str]]:
    """The guide's targets rows: [target, measured, verdict]; a kernel floor computed for
    more sends than the floor run made says it is an extrapolation."""
    rows = []
    for t in doc["summary"]["targets"]:
        measured = t["measured"]
        note = extrapolation_note(doc["summary"], t.get("config"))
        if note and "sends on one core" in measured:
            measured = measured.replace("sends on one core", f"sends on one core {note}")
        rows.append([t["target"], measured, verdict(t["met"])])
    return rows


def extrapolation_note(summary: dict[str, Any], label: str | None) -> str:
    """'(extrapolated from 10,000 measured)' when a configuration's kernel floor is the
    floor run's µs per send times more sends than that run made; '' otherwise."""
    floor = summary.get("floor") or {}
    row = summary.get("configs", {}).get(label or "")
    measured = floor.get("connections")
    if not row or not measured or row["subscribers"] <= measured:
        return ""
    return f"(extrapolated from {measured:,} measured)"


HEADER: tuple[str, ...] = ("configuration", "subscribers", "workers", "every message")
HEADER += ("latency p50 / p99 / max ms", "last delivery p50 ms", "kernel floor ms")
HEADER += ("server CPU µs/delivery", "Redis CPU µs/message", "KiB per idle subscriber")


def config_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in summary["configs"].values():
        got = f"{r['subscribers_complete_min']:,}/{r['subscribers']:,}"
        if r["missing"] or r["duplicated"]:
            got += f" ({r['missing']:,} missing, {r['duplicated']:,} twice)"
        rows.append(
            [
                f"`{r['config']}`",
                f"{r['subscribers']:,}",
                str(r["workers"]),
                got,
                " / ".join(fmt(r[f"latency_{q}_ms"], 1) for q in ("p50", "p99", "max")),
                fmt(r["fanout_p50_ms"], 1),
                fmt(r.get("floor_fanout_ms"), 1)
                + ("*" if extrapolation_note(summary, r.get("config")) else ""),
                fmt(r["server_cpu_us_per_delivery"], 1),
                fmt(r["redis_cpu_us_per_message"], 0) if r["broker"] == "redis" else "–",
                fmt(_kib(r["rss_per_subscriber_bytes"]), 1),
            ]
        )
    return rows


def largest(summary: dict[str, Any], broker: str) -> dict[str, Any] | None:
    rows = [r for r in summary["configs"].values() if r["broker"] == broker]
    return max(rows, key=lambda r: r["subscribers"]) if rows else None


def shard_rows(cpu_us: float) -> list[list[str]]:
    """Subscribers one worker serves at each rate: before its core saturates, and before one
    message's fan-out outlasts FANOUT_BUDGET_MS (deliveries run one after another)."""
    in_budget = FANOUT_BUDGET_MS * 1000.0 / cpu_us
    return [
        [
            f"{rate:g} msg/s",
            f"{1e6 / (cpu_us * rate):,.0f}",
            f"{min(in_budget, 1e6 / (cpu_us * rate)):,.0f}",
        ]
        for rate in SHARD_RATES_PER_S
    ]


def placement(doc: dict[str, Any]) -> str:
    server = doc.get("server", {})
    if not server.get("own", True):
        return f"Measured on {server.get('url', 'a given server')}."
    if server.get("server_cpu") is not None:
        return (
            f"Every worker (and redis-server) runs on CPU {server['server_cpu']}, the "
            f"subscribers and the publisher on CPU {server.get('client_cpu')}: four workers "
            "share one core here, so Redis shows what it adds, not what more cores would give."
        )
    return "Server and clients were not pinned."


def hub_markdown(doc: dict[str, Any]) -> str:
    """The guide's "broadcast" chapter body from a hub result: the measured configurations,
    the fan-out cost per subscriber, what Redis adds, when to shard, and the targets."""
    summary, config = doc["summary"], doc["config"]
    parts = [
        f"One publisher POSTs `/chat/send` at {plural_rate(config['rate_per_s'])} "
        f"({config['messages']} per configuration and run, {plural(config['runs'], 'run')}) "
        "to one room; every subscriber holds `GET /chat/events` on it. Latency is receive "
        "time − the message's `ts` (the server's publish time, same clock); *last delivery* "
        "is when the last subscriber had a message.",
        "Server CPU is the workers' (from /proc) over the publishing window, per delivery; "
        "memory per idle subscriber is the workers' RSS with every subscriber joined and "
        "quiet, less before, ÷ subscribers. " + placement(doc),
        markdown_table(HEADER, config_rows(summary)),
    ]
    extrapolated = [
        f"`{label}` {extrapolation_note(summary, label)}"
        for label in summary["configs"]
        if extrapolation_note(summary, label)
    ]
    if extrapolated:
        parts.append(
            "\\* The kernel floor is the floor run's µs per send × subscribers, not "
            "measured at that count: " + "; ".join(extrapolated) + "."
        )
    memory = largest(summary, "memory")
    if memory and _known(memory["server_cpu_us_per_delivery"]):
        cpu_us = memory["server_cpu_us_per_delivery"]
        per_kib = _kib(memory["rss_per_subscriber_bytes"])
        parts.append(
            f"**Fan-out cost per subscriber.** On one worker with {memory['subscribers']:,} "
            f"subscribers a delivery costs {cpu_us:,.1f} µs of server CPU and an idle "
            f"subscriber {fmt(per_kib, 1)} KiB. The message is encoded and framed once for "
            "the room; the publish then writes it to each waiting subscriber's socket itself, "
            "one non-blocking `send` each, and the subscribers' greenlets sleep on (one is "
            "woken only when its socket is full or broken). Deliveries run one after another "
            "on the worker's core, so the last subscriber gets a message about subscribers × "
            f"{cpu_us:,.1f} µs after it was published: {fmt(memory['fanout_p50_ms'], 0)} ms "
            f"measured for {memory['subscribers']:,}."
        )
        floor = summary.get("floor")
        if floor and _known(memory.get("floor_fanout_ms")):
            parts.append(
                f"Most of that is the kernel's: a bare loop of `send` to "
                f"{floor['connections']:,} loopback connections, with no server and no app "
                f"code (`benchmarks/floor.py`), takes {floor['us_per_send']['p50']:,.2f} µs "
                f"per connection here, {fmt(memory['floor_fanout_ms'], 0)} ms for "
                f"{memory['subscribers']:,}: the system call and the TCP/IP path, and on "
                "loopback the receiving side's too, which runs on the sender's core. A server "
                "in any language pays that much per connection here; the hub adds the rest."
            )
        parts.append(
            f"A join cost the worker {fmt(memory['server_cpu_ms_per_join'], 2)} ms of CPU "
            f"while {memory['subscribers']:,} joined at {fmt(memory.get('connect_per_s'), 0)} a "
            "second (the request, the subscription, and presence: a room's count reaches its "
            "subscribers at most once a second, or 1,000 of them a second in a large room)."
        )
        client_us = memory.get("client_cpu_us_per_delivery")
        if _known(client_us):
            parts[-1] += (
                f" The subscribers' client spent {client_us:,.1f} µs per delivery on its own "
                "core"
                + (
                    ", less than the server: it kept up."
                    if client_us < cpu_us
                    else ": as much as the server, so part of the latency is the client's."
                )
            )
    redis = largest(summary, "redis")
    if memory and redis:
        parts.append(
            f"**What Redis adds.** {redis['subscribers']:,} subscribers over "
            f"{redis['workers']} workers: p50 {fmt(redis['latency_p50_ms'], 1)} ms and p99 "
            f"{fmt(redis['latency_p99_ms'], 1)} ms (memory broker, {memory['subscribers']:,} "
            f"on one worker: {fmt(memory['latency_p50_ms'], 1)} and "
            f"{fmt(memory['latency_p99_ms'], 1)} ms); the workers spend "
            f"{fmt(redis['server_cpu_us_per_delivery'], 1)} µs per delivery (memory: "
            f"{fmt(memory['server_cpu_us_per_delivery'], 1)}), and redis-server "
            f"{fmt(redis['redis_cpu_us_per_message'], 0)} µs per published message: the XADD "
            "and each worker's XREAD (one reader per worker, never one per subscriber; its "
            "polls while idle count here too). Redis makes the room one for every worker and "
            "host; each worker fans out to its own subscribers."
        )
    if memory and _known(memory["server_cpu_us_per_delivery"]):
        cpu_us = memory["server_cpu_us_per_delivery"]
        parts += [
            f"**When to shard** (computed from the measured CPU per delivery, not measured "
            f"at these rates). At {cpu_us:,.1f} µs per delivery one worker's core is busy "
            f"all the time at {1e6 / cpu_us:,.0f} deliveries a second: subscribers × "
            "messages per second to their room. Well before that, the fan-out of one "
            f"message outlasts {FANOUT_BUDGET_MS:g} ms beyond "
            f"{FANOUT_BUDGET_MS * 1000.0 / cpu_us:,.0f} subscribers on one worker. Past "
            "either figure, run more workers on more cores with the Redis broker (each "
            "fans out to its share in parallel), and more hosts on the same Redis past one "
            "machine's cores.",
            markdown_table(
                (
                    "publish rate to one room",
                    "subscribers per worker (core saturated)",
                    f"and with every delivery within {FANOUT_BUDGET_MS:g} ms",
                ),
                shard_rows(cpu_us),
            ),
        ]
    parts.append(
        "How the hub is built and what it does on a reconnect: [the hub](hub.md). Its "
        "targets are under [Targets](#targets)."
    )
    return "\n\n".join(parts)


def print_tables(summary: dict[str, Any], console: Console) -> None:
    table = number_table("broadcast hub: one room, one publisher", HEADER)
    for row in config_rows(summary):
        table.add_row(*(cell.replace("`", "") for cell in row))
    console.print(table)
    for label, row in summary["configs"].items():
        if row["errors"]:
            console.print(f"{label}: errors {row['errors']}")
    table = number_table("targets", ("target", "measured", ""))
    for t in summary["targets"]:
        table.add_row(t["target"], t["measured"], verdict(t["met"]).strip("*"))
    console.print(table)
