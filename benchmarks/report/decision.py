"""The guide's first part: which mode for which app, by use case, each reason carrying the
figure behind it from the result files and a link to the section that shows it.
Pure: reads result dictionaries, writes Markdown; every number comes from the results."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from benchmarks.report.tables import fmt

Results = Mapping[str, Mapping[str, Any]]
NOT_MEASURED = "not measured in this publish"
STREAM_MODES = ("sse", "ndjson", "chunked", "ws", "poll")
DEPLOYING = "Deploying: proxies, compression, idle timeouts, restarts"  # a heading
LATENCY_SAME_MS = 2.0  # the paced-latency target: p99s all under it do not separate modes
SMALL_PAD_BYTES = 16  # a token's size: where framing weighs most
ANSWER_TOKENS = 500  # a long chat answer, to turn bytes per token into bytes per answer


def anchor(heading: str) -> str:
    """GitHub's link to a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return "#" + text.replace(" ", "-")


def see(title: str, heading: str | None = None) -> str:
    return f"[{title}]({anchor(heading or title)})"


def _known(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def latency_row(results: Results, mode: str) -> Mapping[str, Any] | None:
    """The mode's row at the most clients at a 50 ms interval (the latency benchmark's
    heaviest paced load)."""
    rows = [
        r
        for r in results.get("latency", {}).get("summary", {}).values()
        if r.get("mode") == mode and r.get("interval_ms") == 50
    ]
    return max(rows, key=lambda r: r["clients"]) if rows else None


def latency_spread(results: Results) -> str:
    """p99 of each stream mode at the heaviest paced load, and which were not measured."""
    parts, missing, clients = [], [], 0
    for mode in STREAM_MODES:
        row = latency_row(results, mode)
        if row is None or not _known(row.get("latency_p99_ms")):
            missing.append(f"`{mode}`")
            continue
        clients = max(clients, row["clients"])
        parts.append(f"`{mode}` {fmt(row['latency_p99_ms'], 2)}")
    if not parts:
        return f"latency {NOT_MEASURED}"
    text = f"p99 at {clients:,} clients × 50 ms, ms: " + ", ".join(parts)
    if missing:
        text += f" ({', '.join(missing)} {NOT_MEASURED})"
    return text


def latency_verdict(results: Results) -> str:
    """Whether the measured p99s separate the modes: all within the paced-latency target
    (LATENCY_SAME_MS) do not."""
    p99s = [
        row["latency_p99_ms"]
        for mode in STREAM_MODES
        if (row := latency_row(results, mode)) and _known(row.get("latency_p99_ms"))
    ]
    if not p99s:
        return "**Latency:**"
    if max(p99s) <= LATENCY_SAME_MS:
        return (
            f"**Latency does not separate the modes:** every one measured met p99 ≤ "
            f"{LATENCY_SAME_MS:g} ms; pick by the rest."
        )
    slow = [
        f"`{mode}`"
        for mode in STREAM_MODES
        if (row := latency_row(results, mode))
        and _known(row.get("latency_p99_ms"))
        and row["latency_p99_ms"] > LATENCY_SAME_MS
    ]
    return (
        f"**Latency separates {', '.join(slow)} from the rest** (p99 above "
        f"{LATENCY_SAME_MS:g} ms); among the others it does not."
    )


IDLE_MEMORY = "Memory per idle connection"
# The row a mode is compared by: coalesced writes for the streams; a frame a message for ws
# (it has no other); an answer a message for polling, as a feed or a dashboard polls.
FRAMING_FLUSH = {"ws": "each", "poll": "each"}


def framing_row(results: Results, mode: str, size: int) -> Mapping[str, Any] | None:
    summary = results.get("framing", {}).get("summary", {})
    row = summary.get(f"{mode}/{size}/{FRAMING_FLUSH.get(mode, 'auto')}")
    return row if row and _known(row.get("wire_bytes_per_message")) else None


def framing_phrase(results: Results, modes: tuple[str, ...]) -> str:
    """Wire bytes per 16 B message and the overhead over the payload, per mode."""
    parts = []
    for mode in modes:
        row = framing_row(results, mode, SMALL_PAD_BYTES)
        if row is None:
            parts.append(f"`{mode}` {NOT_MEASURED}")
        else:
            overhead = f"{row['overhead'] * 100:+.0f} %"
            parts.append(f"`{mode}` {fmt(row['wire_bytes_per_message'], 0)} B ({overhead})")
    return ", ".join(parts)


def answer_bytes(results: Results) -> str:
    """'; a 500-token answer: 43 KiB against 29 KiB' from the 16 B wire figures."""
    sse = framing_row(results, "sse", SMALL_PAD_BYTES)
    ndjson = framing_row(results, "ndjson", SMALL_PAD_BYTES)
    if sse is None or ndjson is None:
        return ""
    kib = [row["wire_bytes_per_message"] * ANSWER_TOKENS / 1024 for row in (sse, ndjson)]
    return f"; a {ANSWER_TOKENS}-token answer: {kib[0]:,.0f} KiB against {kib[1]:,.0f} KiB"


def idle_memory(results: Results) -> dict[str, float]:
    """KiB per held connection by mode: the idle_memory benchmark's lanes, else held_streams'
    largest level and its ``--against`` rows (streams flowing at a message a second)."""
    kib: dict[str, float] = {}
    for lane in results.get("idle_memory", {}).get("summary", {}).values():
        if lane.get("lane") in ("sse", "ws", "poll") and _known(lane.get("kib_per_connection")):
            kib[lane["lane"]] = float(lane["kib_per_connection"])
    summary = results.get("held_streams", {}).get("summary", {})
    held = [r for r in summary.values() if r.get("scenario", "held") == "held"]
    for mode, against in (("sse", "showcase"), ("ws", "ws"), ("poll", "poll")):
        rows = [
            r
            for r in held
            if r.get("against", "showcase") == against and _known(r.get("rss_per_stream_bytes"))
        ]
        if rows and mode not in kib:
            kib[mode] = max(rows, key=lambda r: r["streams"])["rss_per_stream_bytes"] / 1024
    return kib


def memory_phrase(results: Results) -> str:
    kib = idle_memory(results)
    return ", ".join(
        f"`{mode}` {fmt(kib[mode], 1)} KiB" if mode in kib else f"`{mode}` {NOT_MEASURED}"
        for mode in ("sse", "ws", "poll")
    )


def cpu_phrase(results: Results, modes: tuple[str, ...]) -> str:
    summary = results.get("throughput", {}).get("summary", {})
    parts = []
    for mode in modes:
        row = summary.get(f"{mode}/{SMALL_PAD_BYTES}/1")
        cost = row.get("server_cpu_us_per_message") if row else None
        parts.append(f"`{mode}` {fmt(cost, 1)} µs" if _known(cost) else f"`{mode}` {NOT_MEASURED}")
    return ", ".join(parts)


def proxy_phrase(results: Results) -> str:
    paths = results.get("deploy", {}).get("summary", {}).get("paths", {})
    stock, fixed = paths.get("stock · accel=omit"), paths.get("streaming · accel=send")
    if not stock or not fixed:
        return f"proxy buffering {NOT_MEASURED}"
    return (
        f"through stock nginx without `X-Accel-Buffering: no` the median message came "
        f"{fmt(stock['latency_p50_ms'], 0)} ms late ({fmt(stock['max_per_read'], 0)} in one "
        f"read), with it {fmt(fixed['latency_p50_ms'], 1)} ms"
    )


def resume_phrase(results: Results) -> str:
    run = results.get("restart", {}).get("summary", {}).get("with")
    if not run:
        return f"resume after a restart {NOT_MEASURED}"
    return (
        f"after a restart {run['clients_exact']:,} of {run['clients']:,} clients resumed with "
        f"every id exactly once ({run['lost']:,} lost, {run['repeated']:,} repeated)"
    )


def answer_resume_phrase(results: Results) -> str:
    """What the answers benchmark measured of resume and cancel, memory log and Redis."""
    lanes = results.get("answers", {}).get("summary", {}).get("lanes", {})
    parts = []
    for name, label in (("memory", "in the worker"), ("redis", "on Redis, on another server")):
        lane = lanes.get(name)
        if not lane or not _known(lane.get("resume_p99_ms")):
            continue
        parts.append(
            f"{label}, {lane['resumes']:,} answers cut at a random token lost "
            f"{lane['lost']:,} and repeated {lane['repeated']:,} "
            f"(first replayed token p99 {fmt(lane['resume_p99_ms'], 1)} ms, a cancel's last "
            f"chunk p99 {fmt(lane.get('cancel_p99_ms'), 1)} ms)"
        )
    return "; ".join(parts) if parts else f"resuming an answer {NOT_MEASURED}"


def chat_phrase(results: Results) -> str:
    chat = results.get("relay", {}).get("summary", {}).get("chat", {})
    parts = [
        f"{label} {fmt(chat[name]['ttft_p50_ms'], 1)} ms"
        for name, label in (("openai", "OpenAI SSE"), ("ndjson", "NDJSON"))
        if name in chat and _known(chat[name].get("ttft_p50_ms"))
    ]
    return "first token p50: " + ", ".join(parts) if parts else f"chat APIs {NOT_MEASURED}"


def poll_phrase(results: Results) -> str:
    row = latency_row(results, "poll")
    if not row or not _known(row.get("requests_per_message")):
        return f"polling's cost per message {NOT_MEASURED}"
    sse = latency_row(results, "sse")
    cpu = (
        f"; server CPU {fmt(row.get('cpu_us_per_message'), 1)} µs per message against "
        f"`sse` {fmt(sse.get('cpu_us_per_message'), 1)} µs"
        if sse and _known(row.get("cpu_us_per_message"))
        else ""
    )
    return (
        f"long polling at {row['clients']:,} clients × 50 ms made "
        f"{fmt(row['requests_per_message'], 2)} requests and "
        f"{fmt(row.get('header_bytes_per_message'), 0)} B of headers per message{cpu}"
    )


def hub_phrase(results: Results) -> str:
    configs = results.get("hub", {}).get("summary", {}).get("configs", {})
    rows = [r for r in configs.values() if r.get("workers") == 1]
    if not rows:
        return f"fan-out {NOT_MEASURED}"
    r = max(rows, key=lambda r: r["subscribers"])
    return (
        f"one message to {r['subscribers']:,} subscribers on one worker: "
        f"{fmt(r['server_cpu_us_per_delivery'], 1)} µs of CPU per delivery, p99 "
        f"{fmt(r['latency_p99_ms'], 0)} ms"
    )


def download_phrase(results: Results) -> str:
    row = results.get("download", {}).get("summary", {}).get("zero-copy")
    if not row:
        return f"downloads {NOT_MEASURED}"
    return (
        f"{fmt(row['mb_per_s'], 0)} MB/s zero-copy, {fmt(row.get('vs_nginx'), 2)}× nginx, "
        f"worker memory +{fmt(row['server_rss_growth'] / 1024, 0)} KiB over the file"
    )


def throughput_phrase(results: Results, mode: str) -> str:
    summary = results.get("throughput", {}).get("summary", {})
    rows = [r for k, r in summary.items() if k.startswith(f"{mode}/") and r.get("clients") == 1]
    if not rows:
        return f"`{mode}` throughput {NOT_MEASURED}"
    r = max(rows, key=lambda r: r["size"])
    return f"`{mode}` moved {fmt(r['wire_mb_per_s'], 0)} MB/s of {r['size']:,} B records"


def use_cases(results: Results) -> str:
    """The use-case part of the guide (Markdown, each case a heading of level 3)."""
    framing = see("Framing overhead")
    cases = [
        (
            "An LLM answer in a browser",
            "`sse` over `POST`, read with `fetch()`; ids on every event, Stop as a request "
            "(`POST /v1/chat/completions/<id>/cancel`), resume by id "
            "(`GET /v1/chat/completions/<id>/stream` with `Last-Event-ID`).",
            [
                "The prompt is a POST body: `EventSource` cannot send one, `fetch()` reads the "
                "same `text/event-stream` from a POST.",
                f"Resume is in the format (ids, `Last-Event-ID`), and the answer runs apart from "
                f"its request: {answer_resume_phrase(results)} "
                f"({see('Resume and cancel an answer')}).",
                f"Tokens are small, where SSE's framing weighs most, per 16 B message: "
                f"{framing_phrase(results, ('sse', 'ndjson'))} ({framing})"
                f"{answer_bytes(results)}. Speed, as measured: {chat_phrase(results)} "
                f"({see('LLM streaming and relays')}).",
            ],
        ),
        (
            "An LLM API for programs",
            "`sse` as OpenAI's API does (`data: {json}`, `data: [DONE]`), or `ndjson` as "
            "Ollama's does. Speak the shape your clients' libraries already parse.",
            [
                f"Measured on this server's two APIs, {chat_phrase(results)} "
                f"({see('LLM streaming and relays')}).",
                f"NDJSON is leaner on the wire per small message: "
                f"{framing_phrase(results, ('sse', 'ndjson'))} ({framing}); "
                f"server CPU per message {cpu_phrase(results, ('sse', 'ndjson'))} "
                f"({see('Throughput (interval 0)')}).",
                "SSE brings ids and resume; NDJSON needs its own (this project's "
                "`GET /api/chat/<id>?after=n`).",
            ],
        ),
        (
            "A notification feed or dashboard",
            "`sse` with `EventSource` (`GET /chat/events`): the browser reconnects and resumes "
            "by itself. Long polling (`poll`) only where a network cuts streams.",
            [
                f"An open connection costs memory, per held connection: {memory_phrase(results)} "
                f"({see(IDLE_MEMORY)}).",
                f"Polling pays per message what a stream pays once: {poll_phrase(results)} "
                f"({see('Latency and time to first byte')}).",
                f"Fan-out is the cost that grows: {hub_phrase(results)} "
                f"({see('Broadcast: one message to many')}).",
            ],
        ),
        (
            "A chat room (both directions)",
            "`ws` (`GET /ws/room`) when the page sends as often as it reads; else `sse` for "
            "reading plus `POST /chat/send` for sending, which keeps plain HTTP.",
            [
                "Direction: a WebSocket carries both ways on one connection; SSE reads, a POST "
                "sends, each an ordinary request that proxies, HTTP/2 and auth already handle.",
                f"Per connection held: {memory_phrase(results)} ({see(IDLE_MEMORY)}).",
                f"Proxies: {proxy_phrase(results)} ({see(DEPLOYING)}); a WebSocket needs the "
                "`Upgrade` headers passed.",
            ],
        ),
        (
            "Logs or job progress for humans",
            "`chunked` text (`curl -N` shows it as it comes); `sse` when a browser page shows "
            "it and should resume after a drop.",
            [
                "A person reads lines, not messages: plain text needs no framing, and has none "
                "(chunk boundaries are not message boundaries).",
                f"Bytes per 16 B message: {framing_phrase(results, ('chunked', 'sse'))} "
                f"({framing}).",
            ],
        ),
        (
            "A generated export",
            "`ndjson`: one record per line, written as it is produced, read by any HTTP "
            "client; no Content-Length, so no progress bar and no resume by `Range`.",
            [
                f"Large records: {throughput_phrase(results, 'ndjson')} on one worker "
                f"({see('Throughput (interval 0)')}).",
                "A record per line survives any re-chunking on the way; a crash mid-export "
                "leaves whole records only.",
            ],
        ),
        (
            "A file",
            "`download` with Content-Length, `Range` and ETag, sent by `sendfile`: progress "
            "and resume in every browser.",
            [f"{download_phrase(results)} ({see('Downloads')})."],
        ),
    ]
    blocks = []
    for title, answer, reasons in cases:
        lines = [f"### {title}", "", f"**→ {answer}**", ""]
        lines += [f"- {reason}" for reason in reasons]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def separates(results: Results) -> str:
    """What the measurements separate, and what they do not (a short list)."""
    return "\n".join(
        [
            f"- {latency_verdict(results)} {latency_spread(results)} "
            f"({see('Latency and time to first byte')}).",
            "- **Framing overhead at small messages does:** per 16 B message "
            f"{framing_phrase(results, ('sse', 'ndjson', 'chunked', 'ws', 'poll'))} "
            f"({see('Framing overhead')}).",
            f"- **Cost per idle connection:** {memory_phrase(results)} ({see(IDLE_MEMORY)}).",
            f"- **Proxies:** {proxy_phrase(results)} ({see(DEPLOYING)}).",
            "- **Browser connection limits:** over HTTP/1.1 a browser holds 6 connections per "
            "origin, so a seventh stream waits silently; HTTP/2 (nginx in front) lifts it.",
            f"- **Resume:** built into SSE; {resume_phrase(results)} ({see('Restarts')}).",
            "- **Direction:** only `ws` carries messages both ways on one connection; the rest "
            "answer one request.",
        ]
    )
