"""The guide's Targets table: each target of the project with its measured figure, read from
every result file (the relay's and the hub's rows from their own reports).
Pure: reads result dictionaries, writes Markdown."""

from __future__ import annotations

from typing import Any

from benchmarks.report.hub import hub_target_rows
from benchmarks.report.modes import pct
from benchmarks.report.provenance import plural
from benchmarks.report.relay import relay_target_rows
from benchmarks.report.tables import MISSING, fmt
from benchmarks.report.tables import markdown_table as table


def check(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**not met**")


def paced_target_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The paced-stream targets: the cost of a paced message, and large payloads against the
    tutorial."""
    rows: list[list[str]] = []
    paced = results.get("latency", {}).get("summary", {}).get("1000x50ms/sse")
    if paced and paced.get("cpu_vs_baseline") is not None:
        ratio = paced["cpu_vs_baseline"]
        rows.append(
            [
                "server CPU per paced message, `sse` 1,000 clients × 50 ms: ≤ 0.7× the tutorial "
                "generator's, same run",
                f"{fmt(paced['cpu_us_per_message'], 1)} µs, {fmt(ratio, 2)}× the tutorial",
                check(ratio == ratio and ratio <= 0.7),
            ]
        )
    tp = results.get("throughput", {}).get("summary", {})
    ratios = {
        (r["label"], r["size"]): r["vs_baseline"]
        for r in tp.values()
        if r["label"] in ("sse", "ndjson") and r["clients"] == 1 and r["vs_baseline"] is not None
    }
    if ratios:
        worst = min(ratios, key=lambda key: ratios[key])
        rows.append(
            [
                "`sse` and `ndjson` messages/s ≥ 1.0× the tutorial at every payload size",
                f"lowest {fmt(ratios[worst], 2)}× (`{worst[0]}`, {worst[1]:,} B)",
                check(ratios[worst] >= 1.0),
            ]
        )
    return rows


def held_target_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The held-stream targets: memory and CPU of held streams, the connect storm, capacity."""
    rows: list[list[str]] = []
    held = summary.get("10000")
    if held:
        per = held["rss_per_stream_bytes"]
        cpu = held.get("server_cpu_share_held")
        rows.append(
            [
                "10,000 held SSE streams on one worker at 1 message/s, all receiving: "
                "≤ 16 KiB each, < 20 % of a core",
                f"{held['kept_receiving_min']:,} kept receiving; "
                f"{fmt(per / 1024 if per else None, 1)} KiB/stream; {pct(cpu, 0)} of a core"
                + (
                    f" (the kernel alone, a bare send loop with no server: "
                    f"{pct(held['floor_cpu_share'], 0)})"
                    if held.get("floor_cpu_share")
                    else ""
                )
                + (
                    f"; a bare WSGI app, no Flask, on the same gunicorn + gevent worker: "
                    f"{pct(summary['10000-bare'].get('server_cpu_share_held'), 0)}"
                    if "10000-bare" in summary
                    else ""
                ),
                check(
                    per is not None
                    and per <= 16 * 1024
                    and held["kept_receiving_min"] == 10000
                    and cpu is not None
                    and cpu < 0.2
                ),
            ]
        )
    storm = summary.get("storm-10000")
    if storm:
        last = storm.get("last_first_message_s")
        got = storm["got_first_message_min"]
        bare = summary.get("storm-10000-bare")
        floor = (
            f" (gunicorn + gevent with a bare WSGI app, no Flask: "
            f"{fmt(bare.get('last_first_message_s'), 2)} s)"
            if bare
            else ""
        )
        rows.append(
            [
                "connect storm: 10,000 clients, 200 connecting at a time, all have their first "
                "message within 2 s of the first connect",
                f"{got:,} got it; the last after {fmt(last, 2)} s{floor}",
                check(got == 10000 and last is not None and last <= 2.0),
            ]
        )
    for key, streams in (("capacity-19000x1", 19000), ("capacity-75000x4", 75000)):
        run = summary.get(key)
        if run:
            late = run.get("latency_p99_ms")
            rows.append(
                [
                    f"{streams:,} streams on {plural(run['workers'], 'worker')}, every one "
                    "receiving",
                    f"{run['kept_receiving_min']:,} kept receiving; messages at p99 "
                    f"{fmt(late, 0)} ms, server CPU {pct(run.get('server_cpu_share_held'), 0)}",
                    check(run["kept_receiving_min"] >= streams),
                ]
            )
    return rows


def targets_table(results: dict[str, dict[str, Any]]) -> str:
    rows: list[list[str]] = []
    tp = results.get("throughput", {}).get("summary", {})
    sse = tp.get("sse/16/1")
    if sse:
        each = tp.get("sse-each/16/1", {})
        rows.append(
            [
                "SSE throughput, interval 0, 16 B, 1 client: ≥ 1.7× the tutorial generator",
                f"flush=auto {fmt(sse['vs_baseline'], 2)}× (flush=each "
                f"{fmt(each.get('vs_baseline'), 2)}×)",
                check(sse["vs_baseline"] >= 1.7 if sse["vs_baseline"] is not None else None),
            ]
        )
    lat = results.get("latency", {}).get("summary", {})
    for row in lat.values():
        if row["clients"] == 1000 and row["interval_ms"] == 50:
            p99, ttfb = row["latency_p99_ms"], row["ttfb_max_ms"]
            rows.append(
                [
                    f"`{row['mode']}` 1,000 clients × 50 ms: p99 ≤ 2 ms, every TTFB ≤ 200 ms",
                    f"p99 {fmt(p99, 2)} ms (steady {fmt(row.get('steady_p99_ms'), 2)} ms), "
                    f"TTFB max {fmt(ttfb, 1)} ms",
                    check(
                        p99 is not None
                        and p99 <= 2.0
                        and ttfb is not None
                        and ttfb <= 200
                        and row["clients_without_first_byte"] == 0
                    ),
                ]
            )
    rows += paced_target_rows(results)
    rows += held_target_rows(results.get("held_streams", {}).get("summary", {}))
    dl = results.get("download", {}).get("summary", {}).get("zero-copy")
    if dl:
        growth = dl["server_rss_growth"]
        rows.append(
            [
                "zero-copy download ≥ 0.9× nginx MB/s, RSS growth < 1 MiB over 1 GiB",
                f"{fmt(dl['vs_nginx'], 2)}× nginx, RSS +{fmt(growth / 1024, 0)} KiB",
                check(dl["vs_nginx"] is not None and dl["vs_nginx"] >= 0.9 and growth < 2**20),
            ]
        )
    if "relay" in results:
        rows += relay_target_rows(results["relay"])
    if "hub" in results:
        rows += hub_target_rows(results["hub"])
    return table(["target", "measured", ""], rows) if rows else MISSING
