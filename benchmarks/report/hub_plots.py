"""The hub benchmark's plot (PNG, matplotlib Agg, like ``benchmarks.report.plots``): the latency
distribution of each configuration, publish → receive, as a CDF with its p99 marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

from benchmarks.report.figure import load, save  # its import selects the Agg backend

COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b")
TARGET_LINES_MS = {"memory-10000x1": 100.0, "redis-20000x4": 200.0}


def plot_hub(path: Path, out: Path | None = None) -> Path:
    """One CDF per configuration over every run's latency order statistics (log x), each
    p99 a dot, and the targets' bounds as dashed lines in the configuration's color."""
    data = load(path)
    configs: dict[str, list[float]] = {}
    for run in data["runs"]:
        for point in run["points"]:
            configs.setdefault(point["config"], []).extend(point["raw_latency_ms"])
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    every = [max(v, 1e-2) for values in configs.values() for v in values]
    for index, (label, values) in enumerate(configs.items()):
        ordered = sorted(max(v, 1e-2) for v in values)
        if not ordered:
            continue
        color = COLORS[index % len(COLORS)]
        ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.plot(ordered, ys, label=label, color=color)
        p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
        ax.plot([p99], [0.99], "o", color=color, markersize=5)
        if label in TARGET_LINES_MS:
            ax.axvline(TARGET_LINES_MS[label], color=color, linewidth=0.9, linestyle=":")
    ax.set_xscale("log")
    if every:
        ax.set_xlim(min(every) / 1.5, max(max(every), *TARGET_LINES_MS.values()) * 1.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency, receive − publish ts (ms, log scale)")
    ax.set_ylabel("fraction of deliveries")
    ax.axhline(0.99, color="#bbbbbb", linewidth=0.8, linestyle="--")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    rate = data.get("config", {}).get("rate_per_s")
    ax.set_title(
        f"Broadcast hub: publish → receive per configuration ({rate:g} msg/s; dots: p99, "
        "dotted: target)",
        fontsize=10,
    )
    return save(fig, path, out)
