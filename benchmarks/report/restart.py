"""The restart benchmark's table and the guide's section on restarts, from its result.
Pure: reads result dictionaries, writes text; no server, no sockets.
"""

from __future__ import annotations

from typing import Any

from benchmarks.report.provenance import plural
from benchmarks.report.tables import fmt
from showcase.pure.modes import RETRY_MS

BROWSER_RETRY_MS = 3000  # Chromium's EventSource default before a retry: field arrives
HEADER: tuple[str, ...] = ("restart", "clients", "reconnected", "first s", "p50 s", "p95 s")
HEADER += ("last s", "peak / 100 ms", "resumed p50 s", "resumed last s", "bounced")
HEADER += ("exact ids", "lost", "repeated", "notices")


def rows(summary: dict[str, Any], labels: dict[str, str]) -> list[list[str]]:
    return [
        [
            labels.get(r["variant"], r["variant"]),
            str(r["clients"]),
            str(r["reconnected"]),
            fmt(r["reconnect_min_s"], 2),
            fmt(r["reconnect_p50_s"], 2),
            fmt(r["reconnect_p95_s"], 2),
            fmt(r["reconnect_max_s"], 2),
            str(r["peak_per_100ms"]),
            fmt(r["resumed_p50_s"], 2),
            fmt(r["resumed_max_s"], 2),
            str(r["bounced"]),
            f"{r['clients_exact']}/{r['clients']}",
            str(r["lost"]),
            str(r["repeated"]),
            str(r["restart_notices"]),
        ]
        for r in summary.values()
    ]


def restart_markdown(doc: dict[str, Any]) -> str:
    """The guide's "deploying" section on restarts, from a restart result."""
    config = doc["config"]
    labels = {k: v["label"] for k, v in config["variants"].items()}
    table = "| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER) + "\n"
    table += "\n".join("| " + " | ".join(row) + " |" for row in rows(doc["summary"], labels))
    return "\n\n".join(
        [
            f"**Restarts.** {config['clients']} EventSource-like clients a run "
            f"({config['processes']} processes, asyncio) on "
            f"`/stream/sse?count={config['count']}&interval="
            f"{config['interval_ms']:g}`, one gevent worker; {config['hold_s']:g} s after every "
            "stream is open, `kill -HUP` of the arbiter: gunicorn starts a new worker and sends "
            "the old one SIGTERM, whose streams end with `: server restarting` (and a `retry:` "
            "when configured).",
            "Each client waits the last `retry:` it received and reconnects "
            "with `Last-Event-ID`; times are from the SIGHUP to the client's new TCP "
            f"connection, over {plural(config['runs'], 'run')}. *exact ids*: clients whose "
            "ids were "
            f"exactly 0 … {config['count'] - 1}, in order, none lost, none repeated.",
            table,
            "Without a retry on restart every client waits the same retry the stream opened "
            f"with ({RETRY_MS} ms; a browser would wait its own default, "
            f"{BROWSER_RETRY_MS} ms in Chromium, had the server sent none): they come back "
            "together, the peak column. With the jitter they come back spread over the "
            "jitter window, and the new worker takes them a few at a time.",
            "*bounced*: "
            "clients whose first reconnection reached the old worker, which keeps accepting "
            "until its next once-a-second check of gunicorn's `alive` flag after SIGTERM, and "
            "whose new stream ended at once with a second notice (no events): they came back "
            "after a second retry (*resumed*: the connection that brought events). "
            "Last-Event-ID makes the resume exact either way.",
        ]
    )
