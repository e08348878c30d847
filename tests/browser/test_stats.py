"""static/js/stats.js in Chromium: a million latencies keep bounded memory (a reservoir of
10,000 for the percentiles, at most 4,000 plot points) while count, min, max and mean stay
exact and the percentiles stay close to the true ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

N = 1_000_000

# Latencies 0 … N-1 ms, each exactly once, in a scrambled order (7919 is prime to 10^6),
# fed as messages that all arrived at one instant T, so latency = T - ts exactly.
MILLION = """
async (n) => {
  const stats_js = await import("/static/js/stats.js");
  let seed = 42;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const stats = new stats_js.RunStats({ random });
  const arrival = Math.round(stats_js.nowEpochMs());
  stats.arrivedAt?.(arrival);
  for (let seq = 0; seq < n; seq++) stats.message(seq, arrival - ((seq * 7919) % n));
  stats.arrivedAt?.(null);
  const p = stats.percentiles(true);
  const plotted = (stats.plotPoints?.() ?? stats.points).map(([, y]) => y);
  return {
    kept: stats.latencies.length,
    points: plotted.length,
    plottedMax: plotted.reduce((a, b) => Math.max(a, b), -Infinity),
    messages: stats.messages,
    lost: stats.lost,
    duplicates: stats.duplicates,
    ...p,
  };
}
"""


def test_a_million_latencies_keep_bounded_memory(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    result: dict[str, Any] = page.evaluate(MILLION, N)
    assert result["kept"] == 10_000
    assert result["points"] <= 4_000
    assert result["plottedMax"] == N - 1, "merged plot points keep the slowest"
    assert (result["messages"], result["lost"], result["duplicates"]) == (N, 0, 0)
    assert (result["count"], result["min"], result["max"]) == (N, 0, N - 1)
    assert result["mean"] == (N - 1) / 2
    assert result["sampled"] is True
    # A uniform sample of 10,000: the quantile's standard error is about 0.5 % of the range.
    assert abs(result["p50"] - 0.50 * N) < 0.02 * N
    assert abs(result["p95"] - 0.95 * N) < 0.02 * N


SMALL = """
async () => {
  const { RunStats } = await import("/static/js/stats.js");
  const stats = new RunStats();
  stats.arrivedAt(1000);
  for (const [seq, ts] of [[0, 990], [2, 995], [1, 999], [3, 900]]) stats.message(seq, ts);
  return { ...stats.percentiles(true), lost: stats.lost, duplicates: stats.duplicates };
}
"""


def test_few_latencies_are_exact(open_page: Callable[..., Page], base_url: str) -> None:
    page = open_page(f"{base_url}/")
    result = page.evaluate(SMALL)
    # Sorted latencies 1, 5, 10, 100: p50 is the third, p95 the fourth; nothing sampled.
    assert (result["p50"], result["p95"], result["max"], result["min"]) == (10, 100, 100, 1)
    assert result["mean"] == 29
    assert result["sampled"] is False
    assert (result["lost"], result["duplicates"]) == (1, 1)
