"""The deploy benchmark's tables and the guide's section on proxies and compression, from its
result. Pure: reads result dictionaries, writes text; no server, no sockets.
"""

from __future__ import annotations

from typing import Any

from benchmarks.report.provenance import plural
from benchmarks.report.tables import fmt, markdown_table

ACCEPT_ENCODING = "gzip, deflate"  # what a browser sends (br aside: nothing here speaks it)
PATH_HEADER: tuple[str, ...] = ("path", "Content-Encoding", "p50 ms", "p99 ms", "max ms")
PATH_HEADER += ("messages per read", "most in one read", "received")
BULK_HEADER: tuple[str, ...] = ("path", "Content-Encoding", "wire B/message", "÷ direct")
BULK_HEADER += ("app CPU µs/message", "nginx CPU µs/message", "messages per read", "received")


def path_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            r["path"],
            r["content_encoding"] or "–",
            fmt(r["latency_p50_ms"], 1),
            fmt(r["latency_p99_ms"], 1),
            fmt(r["latency_max_ms"], 1),
            fmt(r["messages_per_read"], 2),
            str(r["max_per_read"]),
            f"{r['received']}/{r['expected']}" + ("" if r["in_order"] else " (out of order)"),
        ]
        for r in summary["paths"].values()
    ]


def bulk_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            r["path"],
            r["content_encoding"] or "–",
            fmt(r["wire_bytes_per_message"], 1),
            fmt(r["wire_vs_none"], 2),
            fmt(r["cpu_us_per_message"], 2),
            fmt(r["nginx_cpu_us_per_message"], 2),
            fmt(r["messages_per_read"], 1),
            f"{r['received']:,}/{r['expected']:,}",
        ]
        for r in summary["compression"].values()
    ]


def nginx_name(version: str | None) -> str:
    """``nginx version: nginx/1.22.1`` (what ``nginx -v`` prints) as ``nginx/1.22.1``."""
    return (version or "nginx").removeprefix("nginx version: ")


def runs_text(runs: int) -> str:
    return "one run" if runs == 1 else f"medians of {plural(runs, 'run')}"


def deploy_markdown(doc: dict[str, Any]) -> str:
    """The guide's "deploying" section on proxies and compression, from a deploy result."""
    config = doc["config"]
    paced, bulk = config["paced"], config["bulk_count"]
    return "\n\n".join(
        [
            f"**Through nginx.** One SSE stream of {int(paced['count'])} messages every "
            f"{paced['interval']:g} ms per path, read by one client sending "
            f"`Accept-Encoding: {ACCEPT_ENCODING}` as a browser does; latency is receive − "
            "`ts`.",
            "*Messages per read* counts the messages each socket read completed, over "
            "the reads that completed any: 1 means each message arrived by itself, the "
            "stream's count that everything came at once at the end. `accel=omit` leaves out "
            "the app's `X-Accel-Buffering: no`; the locations are those of `showcase proxy` "
            f"({nginx_name(config.get('nginx_version'))}), {runs_text(config['runs'])}.",
            markdown_table(PATH_HEADER, path_rows(doc["summary"])),
            f"**What compression costs.** {bulk:,} messages at interval 0 (ticks, no padding) "
            "per setting, direct and via the gzip location: bytes received per message "
            "(chunk framing and the compressed body), and CPU per message of the app's "
            "worker and of nginx, read from /proc.",
            "*naive* compresses without flushing per "
            "message (what flask-compress does to a stream), *sync* flushes each write "
            "(Z_SYNC_FLUSH); at interval 0 the app coalesces ready messages into one write "
            "(`flush=auto`), so the `flush=each` rows show what one write per message costs, "
            "as on a paced stream.",
            "Via the gzip location with `compress=none` it is nginx "
            "that compresses. *÷ direct*: wire bytes against the uncompressed direct stream.",
            markdown_table(BULK_HEADER, bulk_rows(doc["summary"])),
        ]
    )
