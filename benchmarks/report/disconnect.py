"""The disconnect benchmark's table and the guide's section on disconnects, from its result; and
TCP's give-up time for a ``tcp_retries2`` (the kernel's rule, which the benchmark also waits by).
Pure: reads result dictionaries, writes text; no server, no sockets.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.report.tables import fmt, markdown_table

LINUX_TCP_RETRIES2 = 15
TCP_RTO_MIN_S = 0.2
TCP_RTO_MAX_S = 120.0


def retransmission_timeout_s(retries2: int) -> float:
    """How long TCP retransmits unacknowledged data before giving up (ETIMEDOUT): the
    kernel's ``tcp_model_timeout`` for ``tcp_retries2`` from a 200 ms RTO doubling up to
    120 s (net/ipv4/tcp_timer.c). 15 (Linux's default) gives 924.6 s."""
    threshold = int(math.log2(TCP_RTO_MAX_S / TCP_RTO_MIN_S))
    if retries2 <= threshold:
        return ((2 << retries2) - 1) * TCP_RTO_MIN_S
    return ((2 << threshold) - 1) * TCP_RTO_MIN_S + (retries2 - threshold) * TCP_RTO_MAX_S


HEADER: tuple[str, ...] = (
    "case",
    "heartbeat s",
    "clients",
    "cleaned up",
    "median s",
    "min s",
    "max s",
)
HEADER += ("median ÷ period", "median − TCP's give-up s", "cut by")


def rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            p["case"],
            "–" if p["case"] == "vanished-data" else f"{p['heartbeat_s']:g}",
            str(p["clients"]),
            str(p["cleaned_up"]),
            fmt(p["median_s"], 2),
            fmt(p["min_s"], 2),
            fmt(p["max_s"], 2),
            "–" if p["case"] == "vanished-data" else fmt(p["median_periods"], 2),
            fmt(p.get("beyond_tcp_s"), 2),
            ", ".join(f"{why} ×{n}" for why, n in p["cut_by"].items()),
        ]
        for p in summary["points"].values()
    ]


def disconnect_markdown(doc: dict[str, Any]) -> str:
    """The guide's "deploying" section on disconnects, from a disconnect result."""
    summary, config = doc["summary"], doc["config"]
    retries2 = config["tcp_retries2"]
    default_s = retransmission_timeout_s(LINUX_TCP_RETRIES2)
    table = markdown_table(HEADER, rows(summary))
    return "\n\n".join(
        [
            "**Disconnect detection.** How long after a client leaves does the server clean its "
            "stream up (the generator's `finally`, `open_streams` − 1)? Idle SSE streams that "
            "send only heartbeats, "
            f"{config['reps']} per point, opened at random moments so that the client leaves "
            "at every phase of the heartbeat; timed by the server's descriptor for the "
            "connection closing (read from /proc, ±5 ms), which follows the cleanup in the "
            "same greenlet.",
            "*closed*: the client closes its socket and its FIN arrives. *vanished*: server "
            "and clients run in a network namespace of the benchmark's own, whose loopback "
            "becomes a black hole before the client closes (a traffic-control rate limit of "
            "8 bits a second holds every packet for longer than any point here), so neither "
            "its FIN nor anything else arrives, and the server's kernel sees its packets sent but "
            "never acknowledged, as on a wire whose far end has gone. *vanished-data*: the "
            "same, on a stream sending 256 KiB every 50 ms, read as fast as it comes until "
            "the client leaves.",
            table,
            "A closed client is noticed at the second write after it left: the first write "
            "after the FIN succeeds and draws an RST, the second fails (EPIPE), so cleanup "
            "comes one to two heartbeat periods after the close. A vanished client is not "
            "noticed by heartbeats alone: they are a few bytes, never fill the send buffer, "
            "and every write succeeds while TCP retransmits them unacknowledged. What ends "
            "the stream is TCP giving up on unacknowledged data, noticed at the next "
            "heartbeat write.",
            "By Linux's rule alone (`tcp_retries2 = "
            f"{LINUX_TCP_RETRIES2}`) that takes about {default_s:g} s, "
            f"{default_s / 60:.0f} minutes, whatever the heartbeat; the server sets "
            "`TCP_USER_TIMEOUT` on every client socket to its "
            f"send deadline (`--send-timeout`, {config['send_timeout_s']:g} s here, 30 s by "
            f"default), and the namespace kept `tcp_retries2 = {retries2}`, so TCP gave up "
            f"after {config['give_up_s']:g} s.",
            "*median − TCP's give-up*: how far beyond that "
            "the cleanup came, within two periods (the first unacknowledged heartbeat leaves "
            "up to a period after the client, the error is noticed at the first heartbeat "
            "after TCP gives up). A stream that carries data fills the send buffer and is cut "
            "by the send deadline itself.",
        ]
    )
