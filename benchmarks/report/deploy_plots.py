"""PNG plots of the deployment benchmarks (disconnect, restart, deploy), next to each JSON;
the drawing conventions (Agg backend, DPI, ``save``) are ``benchmarks.report.figure``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from benchmarks.report.figure import load, save  # its import selects the Agg backend

CASE_COLORS = {"closed": "#1f77b4", "vanished": "#d62728", "vanished-data": "#ff7f0e"}
WITH_COLORS = {"with": "#2ca02c", "without": "#7f7f7f"}


def plot_disconnect(path: Path, out: Path | None = None) -> Path:
    """Seconds to cleanup of every client against the heartbeat period, one dot each, with
    the lines one and two periods (where a closed client is expected)."""
    data = load(path)
    records = [r for run in data["runs"] for r in run["clients"]]
    periods = sorted({r["heartbeat_s"] for r in records if r["case"] != "vanished-data"})
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    offsets = {"closed": -0.12, "vanished": 0.12, "vanished-data": 0.0}
    for case, colour in CASE_COLORS.items():
        mine = [r for r in records if r["case"] == case and r["cleanup_s"] is not None]
        if not mine:
            continue
        xs = [
            (periods.index(r["heartbeat_s"]) if case != "vanished-data" else len(periods))
            + offsets[case]
            for r in mine
        ]
        ax.scatter(xs, [r["cleanup_s"] for r in mine], color=colour, label=case, s=18, alpha=0.8)
    for i, period in enumerate(periods):
        ax.hlines(period, i - 0.3, i + 0.3, colors="#999999", linestyles="--")
        ax.hlines(2 * period, i - 0.3, i + 0.3, colors="#999999", linestyles=":")
    labels = [f"{p:g} s" for p in periods] + ["data stream"]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("heartbeat period (dashes: 1 and 2 periods)")
    ax.set_ylabel("s from leaving to cleanup")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    retries2 = data["config"].get("tcp_retries2")
    ax.set_title(f"Disconnect detection (namespace tcp_retries2 = {retries2})", fontsize=11)
    return save(fig, path, out)


def plot_restart(path: Path, out: Path | None = None) -> Path:
    """Histograms of reconnect times after the restart, with and without a server-sent
    retry with jitter, on one time axis."""
    data = load(path)
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 5.2), sharex=True, squeeze=False)
    points: list[dict[str, Any]] = [p for run in data["runs"] for p in run["points"]]
    every = [t for p in points for t in p["reconnect_s"]]
    top = max(every, default=1.0)
    bins = [i * top / 40 for i in range(41)]
    for ax, variant in zip(axes.flat, ("with", "without"), strict=True):
        mine = [t for p in points if p["variant"] == variant for t in p["reconnect_s"]]
        ax.hist(mine, bins=bins, color=WITH_COLORS[variant])
        label = data["config"]["variants"][variant]["label"]
        ax.set_title(f"{label}: {len(mine)} reconnects", fontsize=10)
        ax.set_ylabel("clients")
        ax.grid(True, alpha=0.3)
    axes[-1][0].set_xlabel("s after SIGHUP")
    fig.suptitle("Reconnections after a rolling restart (SIGHUP)", fontsize=11)
    return save(fig, path, out)


def plot_deploy(path: Path, out: Path | None = None) -> Path:
    """Top: per path, latency p50/p99 and messages per read. Bottom: per compression
    setting at interval 0, wire bytes and server CPU (app + nginx) per message."""
    summary = load(path)["summary"]
    paths, cost = summary["paths"], summary["compression"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), squeeze=False)
    names = list(paths)
    ax = axes[0][0]
    ax.barh(names, [paths[n]["latency_p99_ms"] or 0 for n in names], color="#ff7f0e", label="p99")
    ax.barh(names, [paths[n]["latency_p50_ms"] or 0 for n in names], color="#1f77b4", label="p50")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("latency ms, receive − ts (symlog)")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.barh(names, [paths[n]["messages_per_read"] or 0 for n in names], color="#9467bd")
    ax.set_xlabel("messages per read (1 = streamed; the count = all at the end)")
    ax.set_yticklabels([])
    labels = list(cost)
    ax = axes[1][0]
    ax.barh(labels, [cost[c]["wire_bytes_per_message"] or 0 for c in labels], color="#2ca02c")
    ax.set_xlabel("wire bytes per message, interval 0")
    ax = axes[1][1]
    app = [cost[c]["cpu_us_per_message"] or 0 for c in labels]
    proxy = [cost[c]["nginx_cpu_us_per_message"] or 0 for c in labels]
    ax.barh(labels, app, color="#d62728", label="app worker")
    ax.barh(labels, proxy, left=app, color="#8c564b", label="nginx")
    ax.set_xlabel("server CPU µs per message, interval 0")
    ax.set_yticklabels([])
    ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Deployment paths: nginx locations and compression", fontsize=11)
    return save(fig, path, out)
