"""The guide's tables of the stream modes' own benchmarks: latency, throughput, framing,
held streams and downloads. Pure: reads result dictionaries, writes Markdown."""

from __future__ import annotations

from typing import Any

from benchmarks.report.capacity import is_reference, server_name
from benchmarks.report.tables import fmt
from benchmarks.report.tables import markdown_table as table


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def received(row: dict[str, Any]) -> str:
    got, expected = row["messages_received"], row["messages_expected"]
    return "all" if got == expected else f"**{got:,} of {expected:,}**"


def latency_table(doc: dict[str, Any]) -> str:
    """One row per load and mode: the columns a reader weighs; the rest (p95, steady p99,
    TTFB p50, message counts, client CPU) are in the linked file."""
    rows = [
        [
            f"{r['clients']:,} × {r['interval_ms']:g} ms",
            f"`{r['mode']}`",
            fmt(r["latency_p50_ms"], 2),
            fmt(r["latency_p99_ms"], 2),
            fmt(r["latency_max_ms"], 1),
            fmt(r["ttfb_max_ms"], 1),
            received(r),
            fmt(r.get("cpu_us_per_message"), 1),
        ]
        for r in doc["summary"].values()
    ]
    text = table(
        ["clients × interval", "mode", "p50 ms", "p99 ms", "max ms", "TTFB max ms", "received"]
        + ["server µs/msg"],
        rows,
    )
    polls = [r for r in doc["summary"].values() if r.get("requests_per_message") is not None]
    if polls:
        text += (
            "\n\nA poll's latency is its receive time − the message's due time. What polling "
            "pays besides: "
            + "; ".join(
                f"`{r['mode']}` {r['clients']:,} × {r['interval_ms']:g} ms: "
                f"{fmt(r['requests_per_message'], 2)} requests and "
                f"{fmt(r.get('header_bytes_per_message'), 0)} B of headers per message"
                for r in polls
            )
            + "."
        )
    return text


def throughput_table(doc: dict[str, Any]) -> str:
    """Messages/s per route at each client count and padding (flush=auto), with the server's
    CPU per message: one row per load instead of one per route."""
    summary = doc["summary"]
    labels = [m for m in ("sse", "ndjson", "chunked", "baseline") if f"{m}/16/1" in summary]
    loads = sorted({(r["clients"], r["size"]) for r in summary.values()})
    rows = []
    for clients, size in loads:
        cells = []
        for label in labels:
            r = summary.get(f"{label}/{size}/{clients}")
            cells.append(
                "–"
                if r is None
                else f"{fmt(r['messages_per_s'], 0)} ({fmt(r['server_cpu_us_per_message'], 1)} µs)"
            )
        rows.append([f"{clients:,}", f"{size:,}", *cells])
    return table(["clients", "pad B", *(f"`{label}` messages/s" for label in labels)], rows)


FRAMING_MODES = ("sse", "ndjson", "chunked", "ws", "poll")


def framing_table(doc: dict[str, Any]) -> str:
    """One row a size and mode: the coalesced writes (``flush=auto``; polling: every message
    ready at once, one answer) and one write a message (``flush=each``; ws: a frame a message;
    polling: an answer a message, request and heads counted)."""
    summary = doc["summary"]
    sizes = sorted({r["size"] for r in summary.values()})
    rows = []
    for size in sizes:
        for mode in FRAMING_MODES:
            auto = summary.get(f"{mode}/{size}/auto")
            each = summary.get(f"{mode}/{size}/each")
            first = auto or each
            if first is None:
                continue
            rows.append(
                [
                    f"{size:,}",
                    f"`{mode}`",
                    fmt(first["payload_bytes_per_message"], 1),
                    fmt(auto["wire_bytes_per_message"], 1) if auto else "–",
                    pct(auto["overhead"]) if auto else "–",
                    fmt(each["wire_bytes_per_message"], 1) if each else "–",
                    pct(each["overhead"]) if each else "–",
                    fmt(first["parse_us_per_message"], 2),
                ]
            )
    return table(
        [
            "pad B",
            "mode",
            "payload B/msg",
            "coalesced: wire B/msg",
            "overhead",
            "a write a message: wire B/msg",
            "overhead",
            "parse µs/msg",
        ],
        rows,
    )


def idle_memory_table(doc: dict[str, Any]) -> str:
    rows = [
        [
            f"`{r['lane']}`",
            f"{r['connections']:,}",
            fmt(r["kib_per_connection"], 1),
            fmt(r["rss_after_kib"] / 1024, 0),
        ]
        for r in doc["summary"].values()
    ]
    return table(["transport", "connections held", "KiB each", "worker RSS, MiB"], rows)


def held_table(doc: dict[str, Any]) -> str:
    rows = []
    for r in doc["summary"].values():
        if r.get("scenario", "held") != "held":
            continue  # the storm and capacity rows have their own section
        per = r["rss_per_stream_bytes"]
        held = r["server_rss_held"]
        rows.append(
            [
                f"{r['streams']:,}" + (f", {server_name(r)}" if is_reference(r) else ""),
                f"{r['got_first_message_min']:,}",
                f"{r['kept_receiving_min']:,}",
                fmt(per / 1024 if per is not None else None, 1),
                fmt(held / 2**20 if held is not None else None, 0),
                pct(r.get("server_cpu_share_held"), 0),  # none when no stream was held
                pct(r.get("floor_cpu_share"), 0),
                fmt(r["latency_p99_ms"], 1),
            ]
        )
    return table(
        [
            "streams",
            "got first message",
            "kept receiving",
            "RSS per stream KiB",
            "worker RSS MiB",
            "server CPU",
            "kernel floor (no server)",
            "p99 latency ms",
        ],
        rows,
    )


def nginx_note(doc: dict[str, Any]) -> dict[str, str]:
    """``{"version": …}`` or ``{"skipped": reason}``; older files held the version string."""
    note = doc["config"].get("nginx")
    if isinstance(note, dict):
        return note
    return {"version": note} if note else {"skipped": "not recorded"}


def download_table(doc: dict[str, Any]) -> str:
    routes = doc["config"]["routes"]
    nginx = nginx_note(doc)
    rows = []
    for r in doc["summary"].values():
        written = r.get("server_written_bytes")
        rows.append(
            [
                f"`{r['label']}`",
                f"`{routes.get(r['label']) or nginx.get('version', 'nginx')}`",
                fmt(r["mb_per_s"], 0),
                fmt(r["vs_nginx"], 2) + "×",
                fmt(r["server_cpu_s"], 3),
                fmt((r["server_rss_growth"] or 0) / 1024, 0),
                fmt(written / 2**20 if written is not None else None, 0),
            ]
        )
    size = doc["config"]["bytes"] / 2**20
    skipped = (
        f"\n\n**nginx was not measured in this run** ({nginx['skipped']}), so there is no "
        'nginx row and no "vs nginx" figure.'
        if "skipped" in nginx
        else ""
    )
    return (
        f'File: {size:,.0f} MiB, page-cached. "sendfile/write MiB": what the server\'s '
        "`/proc/<pid>/io` counted as written (`wchar`): `sendfile` counts the file's bytes, a "
        "socket `send()` counts nothing, so it shows which routes were zero-copy."
        + skipped
        + "\n\n"
        + table(
            [
                "route",
                "path",
                "MB/s",
                "vs nginx",
                "server CPU s",
                "server RSS growth KiB",
                "sendfile/write MiB",
            ],
            rows,
        )
    )


def times(mine: float | None, other: float | None) -> str:
    """``1.52× (more)``: a ratio that reads the same whichever way the numbers fall."""
    if mine is None or other is None or not other:
        return "–"
    value = mine / other
    word = "more" if value > 1.05 else "less" if value < 0.95 else "about the same"
    return f"{value:.2f}×, {word}"


def download_statement(doc: dict[str, Any]) -> str:
    """What a generator download costs against zero-copy, in CPU and memory, as measured."""
    summary = doc["summary"]
    gen, zero = summary.get("generator"), summary.get("zero-copy")
    if not gen or not zero:
        return "_This result has no generator and zero-copy pair to compare._"
    mib = doc["config"]["bytes"] / 2**20
    cpu_g, cpu_z = gen["server_cpu_s"], zero["server_cpu_s"]
    rss_g, rss_z = gen["server_rss_growth"], zero["server_rss_growth"]
    text = (
        f"**A generator download against zero-copy, measured:** reading the {mib:,.0f} MiB file "
        "in a Python generator (`generator`) instead of handing it to `sendfile` (`zero-copy`) "
        f"cost the worker {fmt(cpu_g, 3)} s of CPU against {fmt(cpu_z, 3)} s "
        f"({times(cpu_g, cpu_z)}); the worker's RSS grew by at most "
        f"{fmt((rss_g or 0) / 1024, 0)} KiB against {fmt((rss_z or 0) / 1024, 0)} KiB; "
        f"it moved {fmt(gen['mb_per_s'], 0)} MB/s against {fmt(zero['mb_per_s'], 0)} MB/s "
        f"({times(gen['mb_per_s'], zero['mb_per_s'])})."
    )
    written_z, calls_z = zero.get("server_written_bytes"), zero.get("server_write_syscalls")
    if written_z is not None and calls_z is not None:
        text += (
            f" Zero-copy sent {written_z / 2**20:,.0f} MiB through `sendfile` in "
            f"{calls_z:,.0f} calls; the generator's bytes went through Python and `send()` "
            f"({fmt((gen.get('server_written_bytes') or 0) / 2**20, 0)} MiB by `sendfile`)."
        )
    return text
