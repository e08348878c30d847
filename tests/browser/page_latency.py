"""Measure what the page's latency numbers measure: the stream panels alone, then beside the
download panel, in Debian's headless Chromium against a real gunicorn + gevent server.

Not a test (no wall-clock assertions belong in tests): a measurement that prints a table.
For every run it also records the page's long tasks (main-thread work over 50 ms, from
PerformanceObserver) and each message's latency, so a slow message can be matched to the
main-thread work that delayed it.

    .venv/bin/python tests/browser/page_latency.py [--runs 3] [--count 50] [--interval 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from browserkit import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from playwright.sync_api import Page, sync_playwright

from showcase.tools.client import iter_ndjson, latency_ms
from showcase.tools.launcher import start_server, wait_for_open_streams

STREAM_MODES = ("sse", "sse-fetch", "ndjson", "chunked")
# (label, panels started, download file, read rate MB/s: "0" is as fast as possible)
SCENARIOS = (
    ("streams alone", STREAM_MODES, None, None),
    ("with download, 16 MB/s", (*STREAM_MODES, "download"), "64MiB.bin", "16"),
    ("with download, unlimited", (*STREAM_MODES, "download"), "64MiB.bin", "0"),
)

# Long tasks (over 50 ms, from PerformanceObserver) and a lag probe: a 10 ms timer that
# records how late it fires, which shows main-thread work too short to be a long task.
OBSERVE = """
() => {
  window.__long = [];
  window.__lag = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: false });
  let due = performance.now() + 10;
  clearInterval(window.__probe);
  window.__probe = setInterval(() => {
    const now = performance.now();
    window.__lag.push(now - due);
    due = now + 10;
  }, 10);
}
"""

# Starts the chosen panels in one task, like Start all does for every panel.
START = """
([modes, params]) => {
  window.__t0 = performance.now();
  for (const panel of window.showcase.panels) {
    if (modes.includes(panel.mode)) panel.start(params);
  }
}
"""

MAKE_SAMPLE = "() => fetch('/download/64MiB.bin').then((r) => r.arrayBuffer()).then(() => 0)"

COLLECT = """
(modes) => {
  clearInterval(window.__probe);
  const out = { long: window.__long, lag: window.__lag, t0: window.__t0, panels: {} };
  for (const panel of window.showcase.panels) {
    if (!modes.includes(panel.mode) || panel.mode === "download") continue;
    const s = panel.stats;
    out.panels[panel.mode] = {
      state: panel.element.dataset.state,
      messages: s.messages,
      p50: Number(panel.element.dataset.p50Ms),
      p95: Number(panel.element.dataset.p95Ms),
      max: Number(panel.element.dataset.maxMs),
      points: s.points.map(([x, y]) => [x, y]),
    };
  }
  return out;
}
"""


def run_scenario(
    page: Page, url: str, scenario: tuple[Any, ...], count: int, interval: float
) -> dict[str, Any]:
    label, modes, file_name, rate = scenario
    page.reload()
    page.wait_for_function("window.showcase !== undefined")
    if file_name:
        page.select_option(".panel[data-mode=download] [data-role=file]", file_name)
        page.select_option(".panel[data-mode=download] [data-role=rate]", rate)
    page.evaluate(OBSERVE)
    params = {"source": "ticks", "count": count, "interval": interval, "size": 0}
    # The same stream read by a Python client meanwhile: what the server and the kernel
    # add, with no browser in the way.
    reference: list[float] = []
    thread = threading.Thread(target=read_reference, args=(url, params, reference))
    page.evaluate(START, [list(modes), params])
    thread.start()
    settled = (
        "(modes) => window.showcase.panels.filter((p) => modes.includes(p.mode))"
        ".every((p) => p.element.dataset.state !== 'running')"
    )
    page.wait_for_function(settled, arg=list(modes), timeout=count * interval + 60_000)
    thread.join(30)
    return {"label": label, "reference": reference, **page.evaluate(COLLECT, list(modes))}


def read_reference(url: str, params: dict[str, Any], latencies: list[float]) -> None:
    for message in iter_ndjson(url, params):
        latencies.append(latency_ms(message["ts"]))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(result: dict[str, Any]) -> dict[str, float]:
    latencies = [y for panel in result["panels"].values() for _, y in panel["points"]]
    reference = result["reference"] or [float("nan")]
    return {
        "p50": quantile(latencies, 0.5),
        "p95": quantile(latencies, 0.95),
        "max": max(latencies),
        "ref_p95": quantile(reference, 0.95),
        "ref_max": max(reference),
        "lag_p95": quantile(result["lag"], 0.95),
        "lag_max": max(result["lag"]),
        "long_ms": sum(duration for _, duration in result["long"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--interval", type=float, default=100.0)
    parser.add_argument("--url", help="measure a running server instead of starting one")
    parser.add_argument("--json", type=Path, help="write every run's raw numbers here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        server = None
        url = args.url
        if url is None:
            env = {"SHOWCASE_DATA_DIR": str(Path(tmp) / "data")}
            server = start_server(Path(tmp) / "gunicorn.log", env=env)
            url = server.url
        try:
            results = measure(url, args.runs, args.count, args.interval)
        finally:
            if server is not None:
                server.stop()
    if args.json:
        args.json.write_text(json.dumps(results))
    print(f"{args.count} messages at {args.interval:g} ms; medians of {args.runs} runs; ms")
    print("page: the 4 stream panels' latencies; python: one NDJSON client beside the page;")
    print("lag: how late a 10 ms timer fired on the page; long: sum of long tasks")
    print(f"{'scenario':<25}" + "".join(f"{key:>9}" for key in HEADINGS))
    for label, *_ in SCENARIOS:
        rows = [summarize(r) for r in results if r["label"] == label]
        medians = [statistics.median(row[key] for row in rows) for key in HEADINGS.values()]
        print(f"{label:<25}" + "".join(f"{value:9.2f}" for value in medians))
    return 0


HEADINGS = {
    "page p50": "p50",
    "page p95": "p95",
    "page max": "max",
    "py p95": "ref_p95",
    "py max": "ref_max",
    "lag p95": "lag_p95",
    "lag max": "lag_max",
    "long": "long_ms",
}


def measure(url: str, runs: int, count: int, interval: float) -> list[dict[str, Any]]:
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()  # type: ignore[arg-type]
            page.goto(f"{url}/")
            page.wait_for_function("window.showcase !== undefined")
            # A first download makes 64MiB.bin, so no run measures making the sample.
            page.evaluate(MAKE_SAMPLE)
            for _ in range(runs):
                for scenario in SCENARIOS:
                    wait_for_open_streams(url, lambda n: n == 0, 15)
                    results.append(run_scenario(page, url, scenario, count, interval))
                    print(f"  {scenario[0]}: {summarize(results[-1])}", file=sys.stderr)
        finally:
            browser.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
