"""The page writes numbers the way the contract reads them: String(1e-7) is "1e-7", which the
server refuses (no exponents), so streamUrl() writes plain decimals; the server accepts each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

URLS = """
async () => {
  const { streamUrl } = await import("/static/js/fetchbody.js");
  const out = [];
  for (const interval of [0, 100, 0.5, 1e-7, 12345.678, 0.1 + 0.2]) {
    const url = streamUrl("/stream/ndjson", { count: 1, interval, size: 0, source: "ticks" });
    const response = await fetch(url);
    await response.text();
    out.push([new URL(url, location.href).searchParams.get("interval"), response.status]);
  }
  return out;
}
"""


def test_intervals_are_written_as_plain_decimals(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    assert page.evaluate(URLS) == [
        ["0", 200],
        ["100", 200],
        ["0.5", 200],
        ["0.0000001", 200],
        ["12345.678", 200],
        ["0.30000000000000004", 200],
    ]
