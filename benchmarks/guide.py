"""Write docs/choosing.md: the template's prose, the measured tables filled from result JSON
files, each table naming (and linking) the file it came from, and the plots drawn from the
same files into docs/img/ (committed files, so the guide renders anywhere).

    python -m benchmarks.guide [--results docs/results] [--out docs/choosing.md]

The default results are docs/results/, which ``make bench`` publishes and git keeps: the
guide is written from committed files, so anyone can trace a number or write it again.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.report.capacity import capacity_markdown, is_reference, server_name
from benchmarks.report.decision import (
    NOT_MEASURED,
    STREAM_MODES,
    latency_row,
    separates,
    use_cases,
)
from benchmarks.report.deploy import deploy_markdown
from benchmarks.report.disconnect import disconnect_markdown
from benchmarks.report.hub import hub_markdown, hub_target_rows
from benchmarks.report.provenance import (
    changed_since,
    measured_paths,
    pinning_of,
    plural,
    publish_commit,
    runs_phrase,
    short_commit,
    stale_line,
)
from benchmarks.report.relay import relay_markdown, relay_target_rows
from benchmarks.report.restart import restart_markdown
from benchmarks.report.tables import fmt, machine_line
from benchmarks.report.tables import markdown_table as table

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("report") / "guide_template.md"
DEFAULT_OUT = ROOT / "docs" / "choosing.md"
DEFAULT_RESULTS = ROOT / "docs" / "results"
NAMES = (
    *("latency", "throughput", "framing", "held_streams", "download", "relay", "hub"),
    *("deploy", "disconnect", "restart"),
)
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
MISSING = "_No result for this benchmark yet: run `make bench`._"


def load_results(results: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        path = results / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


def extra_results(results: Path) -> dict[str, dict[str, Any]]:
    """Files the decision part reads when a publish has them (no table of their own):
    ws_rss.json, the output of ``python -m benchmarks.ws_rss``."""
    path = results / "ws_rss.json"
    return {"ws_rss": json.loads(path.read_text())} if path.is_file() else {}


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


def framing_table(doc: dict[str, Any]) -> str:
    summary = doc["summary"]
    ordered = sorted((r for r in summary.values() if r["flush"] == "auto"), key=lambda r: r["size"])
    rows = []
    for r in ordered:
        each = summary.get(f"{r['mode']}/{r['size']}/each", {})
        rows.append(
            [
                f"{r['size']:,}",
                f"`{r['mode']}`",
                fmt(r["payload_bytes_per_message"], 1),
                fmt(r["wire_bytes_per_message"], 1),
                pct(r["overhead"]),
                pct(each.get("overhead")),
                fmt(r["parse_us_per_message"], 2),
            ]
        )
    return table(
        ["pad B", "mode", "payload B/msg", "wire B/msg", "overhead", "flush=each", "parse µs/msg"],
        rows,
    )


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


def check(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**not met**")


def paced_target_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The paced-stream targets: the cost of a paced message, and large payloads against the
    tutorial."""
    rows: list[list[str]] = []
    paced = results.get("latency", {}).get("summary", {}).get("1000x50ms/sse")
    if paced and paced.get("cpu_vs_baseline") is not None:
        ratio = paced["cpu_vs_baseline"]
        rows.append(
            [
                "server CPU per paced message, `sse` 1,000 clients × 50 ms: ≤ 0.7× the tutorial "
                "generator's, same run",
                f"{fmt(paced['cpu_us_per_message'], 1)} µs, {fmt(ratio, 2)}× the tutorial",
                check(ratio == ratio and ratio <= 0.7),
            ]
        )
    tp = results.get("throughput", {}).get("summary", {})
    ratios = {
        (r["label"], r["size"]): r["vs_baseline"]
        for r in tp.values()
        if r["label"] in ("sse", "ndjson") and r["clients"] == 1 and r["vs_baseline"] is not None
    }
    if ratios:
        worst = min(ratios, key=lambda key: ratios[key])
        rows.append(
            [
                "`sse` and `ndjson` messages/s ≥ 1.0× the tutorial at every payload size",
                f"lowest {fmt(ratios[worst], 2)}× (`{worst[0]}`, {worst[1]:,} B)",
                check(ratios[worst] >= 1.0),
            ]
        )
    return rows


def held_target_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The held-stream targets: memory and CPU of held streams, the connect storm, capacity."""
    rows: list[list[str]] = []
    held = summary.get("10000")
    if held:
        per = held["rss_per_stream_bytes"]
        cpu = held.get("server_cpu_share_held")
        rows.append(
            [
                "10,000 held SSE streams on one worker at 1 message/s, all receiving: "
                "≤ 16 KiB each, < 20 % of a core",
                f"{held['kept_receiving_min']:,} kept receiving; "
                f"{fmt(per / 1024 if per else None, 1)} KiB/stream; {pct(cpu, 0)} of a core"
                + (
                    f" (the kernel alone, a bare send loop with no server: "
                    f"{pct(held['floor_cpu_share'], 0)})"
                    if held.get("floor_cpu_share")
                    else ""
                )
                + (
                    f"; a bare WSGI app, no Flask, on the same gunicorn + gevent worker: "
                    f"{pct(summary['10000-bare'].get('server_cpu_share_held'), 0)}"
                    if "10000-bare" in summary
                    else ""
                ),
                check(
                    per is not None
                    and per <= 16 * 1024
                    and held["kept_receiving_min"] == 10000
                    and cpu is not None
                    and cpu < 0.2
                ),
            ]
        )
    storm = summary.get("storm-10000")
    if storm:
        last = storm.get("last_first_message_s")
        got = storm["got_first_message_min"]
        bare = summary.get("storm-10000-bare")
        floor = (
            f" (gunicorn + gevent with a bare WSGI app, no Flask: "
            f"{fmt(bare.get('last_first_message_s'), 2)} s)"
            if bare
            else ""
        )
        rows.append(
            [
                "connect storm: 10,000 clients, 200 connecting at a time, all have their first "
                "message within 2 s of the first connect",
                f"{got:,} got it; the last after {fmt(last, 2)} s{floor}",
                check(got == 10000 and last is not None and last <= 2.0),
            ]
        )
    for key, streams in (("capacity-19000x1", 19000), ("capacity-75000x4", 75000)):
        run = summary.get(key)
        if run:
            late = run.get("latency_p99_ms")
            rows.append(
                [
                    f"{streams:,} streams on {plural(run['workers'], 'worker')}, every one "
                    "receiving",
                    f"{run['kept_receiving_min']:,} kept receiving; messages at p99 "
                    f"{fmt(late, 0)} ms, server CPU {pct(run.get('server_cpu_share_held'), 0)}",
                    check(run["kept_receiving_min"] >= streams),
                ]
            )
    return rows


def targets_table(results: dict[str, dict[str, Any]]) -> str:
    rows: list[list[str]] = []
    tp = results.get("throughput", {}).get("summary", {})
    sse = tp.get("sse/16/1")
    if sse:
        each = tp.get("sse-each/16/1", {})
        rows.append(
            [
                "SSE throughput, interval 0, 16 B, 1 client: ≥ 1.7× the tutorial generator",
                f"flush=auto {fmt(sse['vs_baseline'], 2)}× (flush=each "
                f"{fmt(each.get('vs_baseline'), 2)}×)",
                check(sse["vs_baseline"] >= 1.7 if sse["vs_baseline"] is not None else None),
            ]
        )
    lat = results.get("latency", {}).get("summary", {})
    for row in lat.values():
        if row["clients"] == 1000 and row["interval_ms"] == 50:
            p99, ttfb = row["latency_p99_ms"], row["ttfb_max_ms"]
            rows.append(
                [
                    f"`{row['mode']}` 1,000 clients × 50 ms: p99 ≤ 2 ms, every TTFB ≤ 200 ms",
                    f"p99 {fmt(p99, 2)} ms (steady {fmt(row.get('steady_p99_ms'), 2)} ms), "
                    f"TTFB max {fmt(ttfb, 1)} ms",
                    check(
                        p99 is not None
                        and p99 <= 2.0
                        and ttfb is not None
                        and ttfb <= 200
                        and row["clients_without_first_byte"] == 0
                    ),
                ]
            )
    rows += paced_target_rows(results)
    rows += held_target_rows(results.get("held_streams", {}).get("summary", {}))
    dl = results.get("download", {}).get("summary", {}).get("zero-copy")
    if dl:
        growth = dl["server_rss_growth"]
        rows.append(
            [
                "zero-copy download ≥ 0.9× nginx MB/s, RSS growth < 1 MiB over 1 GiB",
                f"{fmt(dl['vs_nginx'], 2)}× nginx, RSS +{fmt(growth / 1024, 0)} KiB",
                check(dl["vs_nginx"] is not None and dl["vs_nginx"] >= 0.9 and growth < 2**20),
            ]
        )
    if "relay" in results:
        rows += relay_target_rows(results["relay"])
    if "hub" in results:
        rows += hub_target_rows(results["hub"])
    return table(["target", "measured", ""], rows) if rows else MISSING


def source_of(function: Callable[..., Any]) -> str:
    return textwrap.dedent(inspect.getsource(function)).rstrip()


def sources() -> dict[str, str]:
    """Views quoted from this project's code, so the guide's examples cannot drift from it."""
    try:
        from showcase.web import baseline, downloads, streams
    except ImportError as error:  # the guide still renders without Flask installed
        return {k: f"# unavailable: {error}" for k in ("stream", "download", "baseline")}
    return {
        "stream": source_of(streams.stream),
        "download": source_of(downloads.download),
        "baseline": source_of(baseline.sse),
    }


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
        cells[f"cost_{mode}"] = f"{fmt(cost, 1)} µs" if cost is not None else NOT_MEASURED
        clients = max(clients, row["clients"] if row else 0)
    cells["cost_label"] = (
        f"server CPU per message at {clients:,} clients × 50 ms (a file: MB/s)"
        if clients
        else "server CPU per message (a file: MB/s)"
    )
    dl = results.get("download", {}).get("summary", {}).get("zero-copy")
    cells["cost_download"] = f"{fmt(dl['mb_per_s'], 0)} MB/s" if dl else NOT_MEASURED
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
    """Every result file: when it ran, at which commit, its runs and the CPU pinning."""
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
                f"`{commit}`" + (" with local changes" if dirty else ""),
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
    code = sources()
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
        "use_cases": use_cases({**found, **extra_results(results)}),
        "separates": separates({**found, **extra_results(results)}),
        "sources_table": sources_table(found, results, out_dir),
        **cost_cells(found),
        "ramp_note": (
            f"{latency['config']['ramp_clients_per_s']:,.0f} new clients/s" if latency else "–"
        ),
        "latency_table": measured("latency", latency_table),
        "throughput_table": measured("throughput", throughput_table),
        "framing_table": measured("framing", framing_table),
        "held_table": measured("held_streams", held_table),
        "download_table": measured("download", download_table),
        "download_statement": download_statement(found["download"]) if "download" in found else "",
        "relay_section": measured("relay", relay_markdown),
        "hub_section": measured("hub", hub_markdown),
        "deploy_section": measured("deploy", deploy_markdown),
        "disconnect_section": measured("disconnect", disconnect_markdown),
        "restart_section": measured("restart", restart_markdown),
        "nginx_streaming": nginx_streaming_location(),
        "capacity_section": (
            capacity_markdown(found["held_streams"]) if "held_streams" in found else MISSING
        ),
        "targets_table": targets_table(found),
        "source_stream": code["stream"],
        "source_download": code["download"],
        "source_baseline": code["baseline"],
    }
    text = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), TEMPLATE.read_text())
    return text


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
