"""The guide's "capacity" section from a ``held_streams`` result: streams per worker, memory
and CPU per stream, the connect storm, the limits and what bigger machines would hold; and
the names of the reference servers held_streams measures against (``--against``).
Pure: reads result dictionaries, writes text; no server, no sockets, no /proc.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.report.provenance import plural

FD_RESERVE = 64  # a worker's own descriptors: listener, logs, pipes, the hub's
MEMORY_SHARE = 0.8  # of a machine's memory given to streams; the rest for the OS and buffers
LATE_P99_MS = 100.0  # a held stream's p99 past this is late, not "nothing"
CHECK_RATES_PER_S = (1.0, 0.1)  # message rates the projection is computed at
BIGGER_MACHINES = (  # (memory GiB, cores) of the machines the guide projects onto
    (64, 16),
    (256, 64),
)


# held_streams' servers (--against), as the guide names them.
SERVER_NAMES = {
    "showcase": "this project",
    "tutorial": "the tutorial Flask generator (`/baseline/sse`)",
    "bare": "a bare WSGI app, no Flask (`benchmarks/reference/bare_wsgi.py`)",
    "ws": "this project over a WebSocket (`/ws`)",
    "poll": "this project's long polling (`/poll`, wait 25 s)",
}


def server_name(row: dict[str, Any]) -> str:
    against = str(row.get("against", "showcase"))
    return SERVER_NAMES.get(against, against)


def is_reference(row: dict[str, Any]) -> bool:
    """A held_streams row measured against a reference server (``--against``), not the
    showcase: shown next to the showcase's figures, never used as one of them."""
    return bool(row.get("against", "showcase") != "showcase")


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def memory_per_stream(summary: dict[str, Any]) -> float | None:
    """The figure the projection uses: the one-worker run that held the most streams."""
    rows = [
        r
        for r in summary.values()
        if r.get("scenario") != "storm"
        and not is_reference(r)
        and r.get("workers", 1) == 1
        and r.get("rss_per_stream_bytes") is not None
        and math.isfinite(r["rss_per_stream_bytes"])
    ]
    if not rows:
        return None
    return float(max(rows, key=lambda r: r["streams"])["rss_per_stream_bytes"])


def cpu_per_message_s(summary: dict[str, Any]) -> float | None:
    """Server CPU seconds per paced message: at each interval, the one-worker run that held
    the most streams (a worker's fixed costs weigh on few streams), and of those the dearest
    (sparse messages on many streams cost more each: every wake-up touches a cold stack).
    As measured per message where it was, else the run's CPU share over its message rate."""
    largest: dict[float, dict[str, Any]] = {}
    for r in summary.values():
        if r.get("scenario") == "storm" or is_reference(r) or r.get("workers", 1) != 1:
            continue
        interval = r.get("interval_ms", 1000.0)
        if interval not in largest or r["streams"] > largest[interval]["streams"]:
            largest[interval] = r
    costs = []
    for interval, r in largest.items():
        per_message = r.get("server_cpu_us_per_message")
        share = r.get("server_cpu_share_held")
        if per_message is not None and math.isfinite(per_message):
            costs.append(per_message / 1e6)
        elif share is not None and math.isfinite(share) and share > 0:
            costs.append(share / (r["streams"] * 1000.0 / interval))
    return max(costs, default=None)


def project(
    per_stream: float, cpu_per_msg: float | None, memory: float, cores: int, nofile: int
) -> dict[str, Any]:
    """Streams one machine holds: memory allows MEMORY_SHARE of it at ``per_stream`` bytes,
    CPU allows ``cores`` at each rate of CHECK_RATES_PER_S, the fd limit sets the workers."""
    by_memory = int(memory * MEMORY_SHARE / per_stream)
    per_worker = max(1, nofile - FD_RESERVE)
    by_cpu = {
        rate: round(cores / (cpu_per_msg * rate)) if cpu_per_msg else None
        for rate in CHECK_RATES_PER_S
    }
    return {
        "by_memory": by_memory,
        "per_worker": per_worker,
        "workers_needed": math.ceil(by_memory / per_worker),
        "by_cpu": by_cpu,
    }


def limits_table(limits: dict[str, Any], per_stream: float | None, cpu_msg: float | None) -> str:
    nofile = limits.get("nofile_hard") or limits.get("nofile_soft")
    low, high = limits.get("ephemeral_ports") or [None, None]
    per_kib = per_stream / 1024 if per_stream else None
    rows = [
        [
            "open files (RLIMIT_NOFILE)",
            f"hard limit {_num(nofile)}",
            f"one descriptor per stream: about {_num((nofile or 0) - FD_RESERVE)} streams per "
            "worker, and as many connections per client process",
            "`ulimit -n` / `LimitNOFILE=` (systemd) / `nofile` in limits.conf, up to "
            f"fs.nr_open ({_num(limits.get('nr_open'))}); the worker lifts its soft limit to "
            "worker_connections + 1,024 up to the hard limit",
        ],
        [
            "worker_connections",
            f"{_num(limits.get('worker_connections_default'))} per worker",
            "gevent's pool: a connection past it waits unanswered in the listen queue, silently",
            "`showcase serve --worker-connections N`",
        ],
        [
            "listen backlog and somaxconn",
            f"backlog {_num(limits.get('gunicorn_backlog'))}, net.core.somaxconn "
            f"{_num(limits.get('somaxconn'))}: queue {_num(limits.get('listen_queue'))}; "
            f"SYN queue {_num(limits.get('tcp_max_syn_backlog'))}",
            "connections not yet accepted; past the queue SYNs are dropped and retried after "
            "1 s, 3 s…: a connect storm's tail",
            "gunicorn `backlog`; `sysctl net.core.somaxconn` and `net.ipv4.tcp_max_syn_backlog`",
        ],
        [
            "ephemeral ports",
            f"{_num(low)}–{_num(high)}: {_num(limits.get('ephemeral_ports_count'))} per source "
            "address and destination",
            "connections from one client address to one server address and port (load "
            "generators, a proxy in front), not the server's own",
            "`sysctl net.ipv4.ip_local_port_range`; more source addresses (the benchmark binds "
            "127.0.0.2, 127.0.0.3, …) or more server addresses",
        ],
        [
            "memory per stream (greenlet, socket, generator)",
            f"{_num(per_kib, 1)} KiB measured",
            "memory ÷ memory per stream",
            "more memory; a shallower stack at the pause (each greenlet keeps its C stack)",
        ],
        [
            "CPU per paced message",
            f"{_num(cpu_msg * 1e6 if cpu_msg else None, 1)} µs measured "
            "(the dearest of the largest runs)",
            "streams × messages per second per core",
            "one worker per core (`--workers`), fewer or coalesced messages",
        ],
    ]
    return _table(["limit", "here", "what it caps", "what lifts it"], rows)


def stopped_by(row: dict[str, Any]) -> str:
    """What kept a run from holding every stream, read from its counts and errors; a run
    that held every stream but delivered late says so (late is not 'nothing')."""
    streams = row["streams"]
    if row["got_first_message_min"] >= streams and row["kept_receiving_min"] >= streams:
        p99 = row.get("latency_p99_ms")
        if p99 is None or not math.isfinite(p99):
            return "nothing: every stream received"
        if p99 > LATE_P99_MS:
            return f"every stream received, but messages late: p99 {_num(p99)} ms"
        return f"nothing: every stream received, p99 {_num(p99)} ms"
    errors = row.get("errors") or {}
    if errors:
        kind, count = max(errors.items(), key=lambda item: item[1])
        return f"{_num(count)} × {kind}"
    connected = row.get("connected")
    if connected is not None and connected < streams:
        return (
            f"{_num(streams - connected)} never connected in time: the listen queue was full "
            "(the worker accepted too slowly; dropped SYNs are retried 1 s, 3 s, 7 s … later)"
        )
    if row["got_first_message_min"] < streams:
        return "connected, not answered in time: the worker's CPU"
    return "messages late: the worker's CPU"


def scenario_table(summary: dict[str, Any]) -> str:
    rows = []
    for r in sorted(summary.values(), key=lambda r: (r.get("workers", 1), r["streams"])):
        if r.get("scenario") == "storm" or is_reference(r):
            continue
        workers = r.get("workers") or 1
        per = r.get("rss_per_stream_bytes")
        share = r.get("server_cpu_share_held")
        rows.append(
            [
                _num(r["streams"]),
                str(workers),
                _num(r["streams"] / workers),
                f"{_num(r.get('interval_ms', 1000.0) / 1000.0, 0)} s",
                _num(r["got_first_message_min"]),
                _num(r["kept_receiving_min"]),
                _num(per / 1024 if per is not None else None, 1),
                _num(share * 100 if share is not None else None, 0) + " %",
                " / ".join(_num(r.get(f"first_message_{q}_ms")) for q in ("p50", "p95", "max")),
                stopped_by(r),
            ]
        )
    return _table(
        [
            "streams",
            "workers",
            "per worker",
            "interval",
            "got first message",
            "kept receiving",
            "KiB per stream",
            "server CPU",
            "first message p50 / p95 / max ms",
            "outcome",
        ],
        rows,
    )


def storm_paragraph(summary: dict[str, Any]) -> str:
    storms = [r for r in summary.values() if r.get("scenario") == "storm"]
    if not storms:
        return ""
    s = next((r for r in storms if not is_reference(r)), storms[0])
    paragraph = (
        f"**Connect storm.** {_num(s['streams'])} clients connecting "
        f"{_num(s.get('max_connecting'))} at a time while {_num(s.get('flowing'))} streams flow "
        f"at one message a second: {_num(s['got_first_message_min'])} got their first message, "
        f"the last {_num(s.get('storm_s'), 2)} s after the first connect (target: 2 s); "
        f"connecting took {_num(s.get('connect_s'), 2)} s. Per stream, connect to first "
        f"message: p50 {_num(s.get('first_message_p50_ms'))} ms, p95 "
        f"{_num(s.get('first_message_p95_ms'))} ms, max {_num(s.get('first_message_max_ms'))} ms; "
        f"each new stream cost the worker {_num(s.get('server_cpu_ms_per_new_stream'), 2)} ms "
        f"of CPU; the flowing streams' p99 latency meanwhile "
        f"{_num(s.get('flowing_latency_p99_ms'), 1)} ms."
    )
    if len(storms) == 1:
        return paragraph
    rows = [
        [
            server_name(r),
            _num(r["got_first_message_min"]),
            f"{_num(r.get('storm_s'), 2)} s",
            f"{_num(r.get('server_cpu_ms_per_new_stream'), 3)} ms",
            f"{_num(r.get('first_message_p50_ms'))} / {_num(r.get('first_message_p95_ms'))} ms",
        ]
        for r in storms
    ]
    table = _table(
        [
            "the same storm against",
            "got first message",
            "last first message",
            "CPU per new stream",
            "connect → first message p50 / p95",
        ],
        rows,
    )
    return (
        f"{paragraph}\n\nThe same storm against references, one gevent worker each with the "
        "same gunicorn settings and worker class: what a new stream costs without this "
        "project's code, and without Flask at all. Whatever the bare app takes is gunicorn's, "
        "gevent's and the kernel's: no Flask app can go below it on this server.\n\n" + table
    )


def projection_table(
    limits: dict[str, Any], env: dict[str, Any], per_stream: float, cpu_msg: float | None
) -> str:
    memory = env.get("memory_bytes") or limits.get("memory_bytes") or 0
    cores = env.get("cpu_count") or limits.get("cpu_count") or 1
    nofile = limits.get("nofile_hard") or limits.get("nofile_soft") or 1024
    machines = [
        ("this machine", memory, cores, nofile),
        ("this machine, fd limit 1,048,576", memory, cores, 1 << 20),
        *(
            (f"{gib} GiB, {c} cores, fd limit 1,048,576", gib * 2**30, c, 1 << 20)
            for gib, c in BIGGER_MACHINES
        ),
    ]
    rows = []
    for name, mem, ncores, fds in machines:
        p = project(per_stream, cpu_msg, mem, ncores, fds)
        workers = p["workers_needed"]
        by_cpu = [p["by_cpu"][rate] for rate in CHECK_RATES_PER_S]
        holds = min(p["by_memory"], by_cpu[-1]) if by_cpu[-1] is not None else p["by_memory"]
        rows.append(
            [
                name,
                _num(p["by_memory"]),
                f"{_num(p['per_worker'])}: {workers} worker{'s' if workers != 1 else ''}",
                *(_num(n) for n in by_cpu),
                f"**{_num(holds)}**",
            ]
        )
    return _table(
        [
            "machine",
            f"streams memory allows ({MEMORY_SHARE:.0%} of it)",
            "streams per worker (fd limit): workers for them",
            *(f"streams CPU allows at {rate:g} msg/s" for rate in CHECK_RATES_PER_S),
            f"holds at {CHECK_RATES_PER_S[-1]:g} msg/s",
        ],
        rows,
    )


def assumptions(summary: dict[str, Any]) -> str:
    """What the projection takes for granted, and the latency it cannot promise."""
    runs = [r for r in summary.values() if r.get("scenario") != "storm" and not is_reference(r)]
    largest = max(runs, key=lambda r: r["streams"], default=None)
    late = ""
    if largest and largest.get("latency_p99_ms") is not None:
        late = (
            f" The largest run measured ({_num(largest['streams'])} streams on "
            f"{plural(largest.get('workers') or 1, 'worker')}) delivered at p99 "
            f"{_num(largest['latency_p99_ms'])} ms: a machine filled to these figures holds its "
            "streams, not their latency."
        )
    return (
        "The projection assumes memory and CPU per stream stay as measured, messages spread "
        "evenly over time, one worker per core and nothing else on the machine; it is "
        "arithmetic, not a measurement." + late
    )


def capacity_markdown(result: dict[str, Any], source: str | None = None) -> str:
    """The guide's "capacity" section (markdown, no heading) from a ``held_streams`` result
    document: measured streams per worker and memory per stream, the connect storm, every
    limit with the setting that lifts it, and what bigger machines would hold, computed
    from the measured memory (and CPU) per stream. ``source`` names the result file."""
    summary: dict[str, Any] = result.get("summary", {})
    # Results read alone: the limits are the run's (in its config), never this machine's.
    limits: dict[str, Any] = result.get("config", {}).get("limits") or {}
    env: dict[str, Any] = result.get("environment", {})
    per_stream = memory_per_stream(summary)
    cpu_msg = cpu_per_message_s(summary)
    parts = [
        "How many streams this machine holds and what stops it, from `showcase bench "
        "held_streams`" + (f" (`{source}`)" if source else "") + ": SSE streams held open; "
        "the capacity runs send a message every 10 s, so that CPU is not what limits.",
        scenario_table(summary),
    ]
    storm = storm_paragraph(summary)
    if storm:
        parts.append(storm)
    parts += ["What caps a worker and a machine, and the setting that lifts each:"]
    parts.append(limits_table(limits, per_stream, cpu_msg))
    if per_stream:
        parts.append(
            f"With {per_stream / 1024:,.1f} KiB per stream measured here, a machine holds "
            "what its memory allows once the fd limit is lifted; CPU allows as many streams "
            f"as its cores pay for at {cpu_msg * 1e6 if cpu_msg else math.nan:,.1f} µs per "
            "message; the fd limit is per process, so it sets how many workers that takes. "
            "A machine holds the smaller of memory's and CPU's figures:"
        )
        parts.append(projection_table(limits, env, per_stream, cpu_msg))
        parts.append(assumptions(summary))
    return "\n\n".join(parts) + "\n"
