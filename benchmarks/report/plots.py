"""PNG plots of the result files (matplotlib, Agg backend): next to each JSON, or where asked
(the guide draws its plots from the JSON it quotes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

from benchmarks.report import answers, deploy_plots, hub_plots
from benchmarks.report.capacity import is_reference
from benchmarks.report.figure import load, save

MODE_COLORS = {
    "sse": "#1f77b4",
    "ndjson": "#2ca02c",
    "chunked": "#ff7f0e",
    "baseline": "#7f7f7f",
    "ws": "#d62728",
    "poll": "#8c564b",
    "flask": "#e377c2",
}


def color(label: str) -> str:
    return MODE_COLORS.get(label.split("-")[0], "#9467bd")


def plot_latency(path: Path, out: Path | None = None) -> Path:
    """One panel per scenario: the latency distribution (CDF, log x) of each mode, all runs,
    with each mode's p99 marked."""
    data = load(path)
    scenarios: dict[str, dict[str, list[float]]] = {}
    for run in data["runs"]:
        for p in run["points"]:
            key = f"{p['clients']:,} client(s), {p['interval_ms']:g} ms interval"
            scenarios.setdefault(key, {}).setdefault(p["mode"], []).extend(p["raw_latency_ms"])
    columns = 2 if len(scenarios) > 1 else 1
    rows = max(1, -(-len(scenarios) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.6 * rows), squeeze=False)
    every = [max(v, 1e-3) for modes in scenarios.values() for vs in modes.values() for v in vs]
    low, high = (min(every) / 1.5, max(every) * 1.5) if every else (1e-3, 1.0)
    for ax, (title, modes) in zip(axes.flat, scenarios.items(), strict=False):
        for mode, values in modes.items():
            ordered = sorted(max(v, 1e-3) for v in values)
            if not ordered:
                continue
            ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
            ax.plot(ordered, ys, label=mode, color=color(mode))
            p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
            ax.plot([p99], [0.99], "o", color=color(mode), markersize=5)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("latency, receive − ts (ms, log scale)")
        ax.set_ylabel("fraction of messages")
        ax.axhline(0.99, color="#bbbbbb", linewidth=0.8, linestyle="--")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    for ax in list(axes.flat)[len(scenarios) :]:
        ax.set_visible(False)
    fig.suptitle("Latency distribution per mode (CDF; dots: p99)", fontsize=11)
    return save(fig, path, out)


def plot_throughput(path: Path, out: Path | None = None) -> Path:
    """Grouped bars: messages/s per route at each payload size, one panel per client count."""
    summary = load(path)["summary"]
    clients = sorted({row["clients"] for row in summary.values()})
    sizes = sorted({row["size"] for row in summary.values()})
    labels = list(dict.fromkeys(row["label"] for row in summary.values()))
    fig, axes = plt.subplots(1, len(clients), figsize=(6.5 * len(clients), 4.2), squeeze=False)
    width = 0.8 / max(1, len(labels))
    rates = [row["messages_per_s"] for row in summary.values() if row["messages_per_s"]]
    for ax, count in zip(axes[0], clients, strict=True):
        if rates:  # bars on a log axis need a floor well below the smallest one
            ax.set_ylim(min(rates) / 3, max(rates) * 2)
        for i, label in enumerate(labels):
            values = [
                (summary.get(f"{label}/{size}/{count}") or {}).get("messages_per_s") or 0
                for size in sizes
            ]
            xs = [j + (i - (len(labels) - 1) / 2) * width for j in range(len(sizes))]
            hatch = "//" if label.endswith("-each") else None
            ax.bar(
                xs, values, width, label=label, color=color(label), hatch=hatch, edgecolor="white"
            )
        ax.set_xticks(range(len(sizes)), [f"pad {s:,} B" for s in sizes])
        ax.set_yscale("log")
        ax.set_ylabel("messages/s (log)")
        ax.set_title(f"{count} client(s), interval 0", fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8, ncol=2)
    fig.suptitle("Throughput per mode and payload size (hatched: flush=each)", fontsize=11)
    return save(fig, path, out)


def plot_framing(path: Path, out: Path | None = None) -> Path:
    """Framing overhead (wire ÷ payload − 1) per payload size, per mode and flush policy."""
    summary = load(path)["summary"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for flush, style in (("each", "--"), ("auto", "-")):
        for mode in ("sse", "ndjson", "chunked", "ws", "poll"):
            rows = sorted(
                (r for r in summary.values() if r["mode"] == mode and r["flush"] == flush),
                key=lambda r: r["size"],
            )
            if rows:
                ax.plot(
                    [r["payload_bytes_per_message"] for r in rows],
                    [(r["overhead"] or 0) * 100 for r in rows],
                    style,
                    marker="o",
                    color=color(mode),
                    label=f"{mode} flush={flush}",
                )
    ax.set_xscale("log")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("JSON payload bytes per message (log)")
    ax.set_ylabel("framing overhead, wire ÷ payload − 1 (%)")
    ax.set_title(
        "Framing overhead per payload size (chunked text drops the JSON keys: < 0)", fontsize=10
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path, out)


def plot_held_streams(path: Path, out: Path | None = None) -> Path:
    """Server RSS per held stream and worker RSS against the number of open streams."""
    summary = load(path)["summary"]
    # The held levels only: the storm and capacity rows are the capacity section's.
    held = [
        r for r in summary.values() if r.get("scenario", "held") == "held" and not is_reference(r)
    ]
    rows = sorted(held, key=lambda r: r["streams"])
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [r["streams"] for r in rows]
    per = [(r["rss_per_stream_bytes"] or 0) / 1024 for r in rows]
    ax.bar([str(x) for x in xs], per, color=MODE_COLORS["sse"])
    for i, value in enumerate(per):
        worker = (rows[i]["server_rss_held"] or 0) / 2**20
        ax.text(
            i,
            value / 2,
            f"{value:.1f} KiB\nper stream\n\nworker\n{worker:,.0f} MiB",
            ha="center",
            va="center",
            fontsize=9,
            color="white",
        )
    ax.set_ylim(0, max([25.0, *per]) * 1.1)
    ax.axhline(16, color="#d62728", linestyle="--", linewidth=1, label="target: 16 KiB")
    ax.set_xlabel("concurrent SSE streams on one worker (1 message/s each)")
    ax.set_ylabel("server RSS growth per stream (KiB)")
    ax.set_title("Memory per held stream", fontsize=11)
    ax.legend()
    return save(fig, path, out)


def plot_download(path: Path, out: Path | None = None) -> Path:
    """MB/s per download route, with nginx as the reference."""
    summary = load(path)["summary"]
    rows = list(summary.values())
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [r["label"] for r in rows]
    values = [r["mb_per_s"] or 0 for r in rows]
    colors = ["#7f7f7f" if label == "nginx" else MODE_COLORS["sse"] for label in labels]
    ax.bar(labels, values, color=colors)
    for i, row in enumerate(rows):
        growth = (row["server_rss_growth"] or 0) / 1024
        ax.text(
            i,
            values[i],
            f"{values[i]:,.0f} MB/s\nCPU {row['server_cpu_s'] or 0:.3f} s\nRSS +{growth:,.0f} KiB",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("MB/s")
    ax.set_ylim(0, max(values + [1]) * 1.25)
    config = load(path)["config"]
    title = f"Download of {config['bytes'] / 2**20:,.0f} MiB per route (one worker)"
    nginx = config.get("nginx")
    if isinstance(nginx, dict) and "skipped" in nginx:
        title += f"\nnginx not measured: {nginx['skipped'][:60]}"
    ax.set_title(title, fontsize=11)
    return save(fig, path, out)


def plot_relay(path: Path, out: Path | None = None) -> Path:
    """Added latency (p50, p99) per number of relay hops against the 1 ms-per-hop target,
    and the chain's server CPU per event; the bare WSGI relay's hop, if measured, as a point."""
    summary = load(path)["summary"]
    every = summary["hops"].values()
    rows = sorted((r for r in every if r.get("relay", "showcase") == "showcase"), key=hop_count)
    bare = [r for r in every if r.get("relay") == "bare"]
    hops = [r["hops"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key, style, label in (("added_p50_ms", "o-", "p50"), ("added_p99_ms", "s-", "p99")):
        left.plot(hops, [r[key] for r in rows], style, color=color("sse"), label=label)
    left.plot(
        hops,
        [r.get("added_steady_p99_ms") for r in rows],
        "^--",
        color="#7f7f7f",
        label="p99, all streams open",
    )
    for r in bare:
        left.plot(
            [r["hops"]],
            [r["added_p99_ms"]],
            "D",
            mfc="none",
            color="#2ca02c",
            label="p99, a bare WSGI relay (no app code)",
        )
    left.plot(hops, hops, ":", color="#d62728", label="target: +1 ms per hop at p99")
    left.set_yscale("symlog", linthresh=1.0)
    left.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    left.set_xticks(hops)
    left.set_xlabel("chained /relay/stream/sse hops")
    left.set_ylabel("added latency vs 0 hops, ms (symlog)")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    measured = [r["cpu_us_per_event"] for r in [*rows, *bare]]  # None: no steady window
    cpu = [value or 0.0 for value in measured]
    labels = [str(h) for h in hops] + [f"{r['hops']} bare" for r in bare]
    colors = [color("sse")] * len(rows) + ["#2ca02c"] * len(bare)
    right.bar(labels, cpu, color=colors)
    for i, value in enumerate(measured):
        shown = "–" if value is None else f"{value:,.0f} µs"
        right.text(i, cpu[i], shown, ha="center", va="bottom", fontsize=9)
    right.set_xlabel("chained hops")
    right.set_ylabel("server CPU µs per event, all hops")
    right.set_ylim(0, max([1.0, *cpu]) * 1.2)
    scenario = load(path)["config"]["scenario"]
    fig.suptitle(
        f"What a relay hop costs: {scenario[0]} clients × {scenario[1]:g} ms, latency = "
        "receive − origin ts",
        fontsize=11,
    )
    return save(fig, path, out)


def hop_count(row: dict[str, Any]) -> int:
    return int(row["hops"])


PLOTTERS = {
    "latency": plot_latency,
    "throughput": plot_throughput,
    "framing": plot_framing,
    "held_streams": plot_held_streams,
    "download": plot_download,
    "relay": plot_relay,
}


def plotter(name: str) -> Any:
    """The plot function of a benchmark; those of the hub and deployment benchmarks live in
    their own modules (hub_plots, deploy_plots)."""
    if name in PLOTTERS:
        return PLOTTERS[name]
    return {
        "answers": answers.plot_answers,
        "hub": hub_plots.plot_hub,
        "deploy": deploy_plots.plot_deploy,
        "disconnect": deploy_plots.plot_disconnect,
        "restart": deploy_plots.plot_restart,
    }[name]


def plot_result(path: Path, out: Path | None = None) -> Path:
    """The plot for any result file, chosen by its ``benchmark`` field."""
    made: Path = plotter(load(path)["benchmark"])(path, out)
    return made


def plot_idle_memory(path: Path, out: Path | None = None) -> Path:
    """Worker RSS per held, quiet connection, one bar a transport."""
    rows = list(load(path)["summary"].values())
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar(
        [r["lane"] for r in rows],
        [r["kib_per_connection"] for r in rows],
        color=[color(r["lane"]) for r in rows],
    )
    ax.set_ylabel("worker RSS per connection (KiB)")
    connections = rows[0]["connections"] if rows else 0
    ax.set_title(f"Memory per idle connection, {connections:,} held on one gevent worker")
    ax.grid(True, axis="y", alpha=0.3)
    return save(fig, path, out)


PLOTTERS["idle_memory"] = plot_idle_memory
