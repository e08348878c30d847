"""Write docs/choosing.md: the template's prose, the measured tables filled from result JSON
files, each table naming (and linking) the file it came from, and the plots drawn from the
same files into docs/img/ (committed files, so the guide renders anywhere).

    python -m benchmarks.guide [--results docs/results] [--out docs/choosing.md]

The default results are docs/results/, which ``make bench`` publishes and git keeps: the
guide is written from committed files, so anyone can trace a number or write it again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.report.answers import answers_section
from benchmarks.report.capacity import capacity_markdown
from benchmarks.report.decision import (
    NOT_MEASURED,
    SMALL_PAD_BYTES,
    STREAM_MODES,
    framing_row,
    idle_memory,
    latency_row,
    separates,
    use_cases,
)
from benchmarks.report.deploy import deploy_markdown
from benchmarks.report.disconnect import disconnect_markdown
from benchmarks.report.examples import examples_section
from benchmarks.report.hub import hub_markdown
from benchmarks.report.modes import (
    download_statement,
    download_table,
    framing_table,
    held_table,
    idle_memory_table,
    latency_table,
    throughput_table,
)
from benchmarks.report.provenance import (
    changed_since,
    measured_paths,
    pinning_of,
    plural,
    publish_commit,
    runs_phrase,
    settings_line,
    short_commit,
    stale_line,
)
from benchmarks.report.relay import relay_markdown
from benchmarks.report.restart import restart_markdown
from benchmarks.report.tables import MISSING, fmt, machine_line
from benchmarks.report.tables import markdown_table as table
from benchmarks.report.targets import targets_table

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("report") / "guide_template.md"
DEFAULT_OUT = ROOT / "docs" / "choosing.md"
DEFAULT_RESULTS = ROOT / "docs" / "results"
NAMES = (
    *("latency", "throughput", "framing", "held_streams", "idle_memory", "download", "relay"),
    *("answers", "hub"),
    *("deploy", "disconnect", "restart"),
)
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def load_results(results: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        path = results / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


def nginx_streaming_location() -> str:
    """The streaming ``location /`` block of the config ``showcase proxy`` generates, quoted
    from docs/nginx.conf's generator so the guide cannot drift from it."""
    from showcase.tools.proxy.config import render_config

    config = render_config("127.0.0.1:8000", 8080, 8443, Path("/tmp/showcase-proxy"))
    start = config.index("        location / {")
    end = config.index("        }\n", start) + len("        }")
    return textwrap.dedent(config[start:end])


def cost_cells(results: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The decision table's cost row: server CPU per paced message at the latency
    benchmark's heaviest paced load (every stream mode measured alike), MB/s for a file."""
    cells: dict[str, str] = {}
    clients = 0
    for mode in STREAM_MODES:
        row = latency_row(results, mode)
        cost = row.get("cpu_us_per_message") if row else None
        batch = row.get("batch_cpu_us_per_message") if row else None
        if cost is not None:
            cells[f"cost_{mode}"] = f"{fmt(cost, 1)} µs"
        elif batch is not None:  # polling that saturated the worker: no steady window to read
            cells[f"cost_{mode}"] = f"{fmt(batch, 1)} µs (whole run: the worker saturated)"
        else:
            cells[f"cost_{mode}"] = NOT_MEASURED
        clients = max(clients, row["clients"] if row else 0)
    cells["cost_label"] = (
        f"server CPU per message at {clients:,} clients × 50 ms (a file: MB/s)"
        if clients
        else "server CPU per message (a file: MB/s)"
    )
    dl = results.get("download", {}).get("summary", {}).get("zero-copy")
    cells["cost_download"] = f"{fmt(dl['mb_per_s'], 0)} MB/s" if dl else NOT_MEASURED
    cells["bytes_label"] = f"wire bytes per {SMALL_PAD_BYTES} B message (its JSON, then framing)"
    for mode in STREAM_MODES:
        row = framing_row(results, mode, SMALL_PAD_BYTES)
        cells[f"bytes_{mode}"] = (
            f"{fmt(row['wire_bytes_per_message'], 0)} B" if row is not None else NOT_MEASURED
        )
    kib = idle_memory(results)
    for mode in ("sse", "ws", "poll"):
        cells[f"idle_{mode}"] = f"{fmt(kib[mode], 1)} KiB" if mode in kib else NOT_MEASURED
    return cells


def draw_plots(results: Path, img_dir: Path) -> None:
    """docs/img/<name>.png for each result: copied when the results folder has the PNG, else
    drawn from the JSON itself (matplotlib), so the plots show the files the tables quote."""
    img_dir.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        png, data = results / f"{name}.png", results / f"{name}.json"
        if png.is_file():
            shutil.copyfile(png, img_dir / f"{name}.png")
        elif data.is_file():
            try:
                from benchmarks.report import plots  # matplotlib only when a plot is drawn
            except ImportError as error:
                print(f"no plot for {name}: {error}", file=sys.stderr)
                continue
            plots.plot_result(data, img_dir / f"{name}.png")


def shown_path(path: Path) -> str:
    """``path`` relative to the checkout when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def source_line(
    name: str, doc: dict[str, Any], results: Path, out_dir: Path, publish: tuple[str, bool]
) -> str:
    """The line under a table: the file it came from (a relative link), when it ran, how many
    runs its figures are medians of, the CPU pinning; its commit only where it differs from
    the publish's; then a stale line when the code it measures changed since."""
    path = results / f"{name}.json"
    link = os.path.relpath(path.resolve(), out_dir.resolve())
    commit = short_commit(doc)
    other = (
        f"; at commit `{commit[0]}`" + (" with local changes" if commit[1] else "")
        if commit != publish
        else ""
    )
    line = (
        f"_Source: [`{shown_path(path)}`]({link}), run {doc.get('created', '–')}; "
        f"{runs_phrase(doc)}; {pinning_of(doc)}{other}._"
    )
    stale = stale_line(name, doc, changed_here)
    return line + ("\n\n" + stale if stale else "")


def changed_here(commit: str, paths: Sequence[str]) -> list[str] | None:
    """Measured files changed between ``commit`` and this checkout's HEAD."""
    return changed_since(commit, paths, ROOT)


def sources_table(found: dict[str, dict[str, Any]], results: Path, out_dir: Path) -> str:
    """Every result file: when it ran, its commit where it is not the publish's (stated once,
    at the top), its runs, the CPU pinning and how much of its measured code changed since."""
    publish = publish_of(found)
    rows = []
    for name, doc in found.items():
        link = os.path.relpath((results / f"{name}.json").resolve(), out_dir.resolve())
        commit, dirty = short_commit(doc)
        full = (doc.get("environment", {}).get("git") or {}).get("commit")
        changed = changed_here(str(full), measured_paths(name)) if full else None
        rows.append(
            [
                f"[`{name}.json`]({link})",
                str(doc.get("created", "–")),
                "the publish's"
                if (commit, dirty) == publish
                else f"`{commit}`" + (" with local changes" if dirty else ""),
                runs_phrase(doc),
                pinning_of(doc),
                "–" if changed is None else (plural(len(changed), "file") if changed else "none"),
            ]
        )
    header = ["file", "run", "commit", "runs", "CPU pinning", "measured code changed since"]
    return table(header, rows) if rows else MISSING


def publish_of(found: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """The commit most files were measured at (the one the guide states once)."""
    commits = [short_commit(doc) for doc in found.values()]
    return max(commits, key=commits.count) if commits else ("–", False)


def answers_markdown(doc: dict[str, Any]) -> str:
    """The section's text, and its plot (drawn from the same file, so it exists with it)."""
    plot = (
        "![Time from a reconnect to its first replayed token, and from a cancel to the "
        "cancelled chunk](img/answers.png)"
    )
    return "\n".join(answers_section(doc)) + "\n\n" + plot


def render(results: Path, img_dir: Path | None = None, out_dir: Path | None = None) -> str:
    """The guide's Markdown from the result files in ``results``; links are relative to
    ``out_dir`` (the guide's folder, default docs/)."""
    found = load_results(results)
    if img_dir is not None:
        draw_plots(results, img_dir)
    out_dir = out_dir or DEFAULT_OUT.parent
    any_doc = next(iter(found.values()), {})
    env = any_doc.get("environment", {})
    latency = found.get("latency")
    publish = publish_of(found)

    def measured(name: str, make_table: Callable[[dict[str, Any]], str]) -> str:
        doc = found.get(name)
        if doc is None:
            return MISSING
        return make_table(doc) + "\n\n" + source_line(name, doc, results, out_dir, publish)

    values: dict[str, str] = {
        "results_dir": shown_path(results),
        "machine": machine_line(env) if env else "no results yet",
        "publish_commit": publish_commit(found),
        "settings_line": settings_line(found),
        "use_cases": use_cases(found),
        "separates": separates(found),
        "sources_table": sources_table(found, results, out_dir),
        **cost_cells(found),
        "ramp_note": (
            f"{latency['config']['ramp_clients_per_s']:,.0f} new clients/s" if latency else "–"
        ),
        "latency_table": measured("latency", latency_table),
        "throughput_table": measured("throughput", throughput_table),
        "framing_table": measured("framing", framing_table),
        "held_table": measured("held_streams", held_table),
        "idle_memory_table": measured("idle_memory", idle_memory_table),
        "download_table": measured("download", download_table),
        "download_statement": download_statement(found["download"]) if "download" in found else "",
        "relay_section": measured("relay", relay_markdown),
        "answers_section": measured("answers", answers_markdown),
        "hub_section": measured("hub", hub_markdown),
        "deploy_section": measured("deploy", deploy_markdown),
        "disconnect_section": measured("disconnect", disconnect_markdown),
        "restart_section": measured("restart", restart_markdown),
        "nginx_streaming": nginx_streaming_location(),
        "capacity_section": (
            capacity_markdown(found["held_streams"]) if "held_streams" in found else MISSING
        ),
        "targets_table": targets_table(found),
    }
    text = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), TEMPLATE.read_text())
    return text.rstrip("\n") + "\n\n" + "\n".join(examples_section()).rstrip("\n") + "\n"


def write_guide(results: Path | None = None, out: Path | None = None) -> Path:
    """Render the guide from ``results`` (default docs/results) into ``out`` (docs/)."""
    results = results or DEFAULT_RESULTS
    out = out or DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, out.parent / "img", out.parent))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="showcase bench --guide", description=__doc__)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not any((args.results / f"{name}.json").is_file() for name in NAMES):
        print(
            f"no results in {args.results}: run `make bench` (it publishes results/latest/ "
            "there), or `python -m benchmarks.suite --publish-only` after single benchmarks "
            "written to results/latest/",
            file=sys.stderr,
        )
        return 1
    print(f"guide: {write_guide(args.results, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
