"""EventSource through a proxy that the test cuts mid-stream: the browser reconnects with
Last-Event-ID and the server resumes, with no message lost or repeated."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browserkit import CuttableProxy
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

COUNT = 40


def test_eventsource_resumes_after_a_dropped_connection(
    open_page: Callable[..., Page], proxy: CuttableProxy
) -> None:
    page = open_page(f"{proxy.url}/")  # every request of the page goes through the proxy
    page.fill("#controls input[name=count]", str(COUNT))
    page.fill("#controls input[name=interval]", "50")
    page.click("#panel-sse [data-action=start]")
    page.wait_for_function("Number(document.getElementById('panel-sse').dataset.messages) >= 10")
    proxy.cut()  # a real network failure: both TCP connections are torn down

    page.wait_for_function(
        "document.getElementById('panel-sse').dataset.state !== 'running'", timeout=30_000
    )
    panel = page.locator("#panel-sse")
    assert panel.get_attribute("data-state") == "done", page.inner_text("#panel-sse .state")
    assert int(panel.get_attribute("data-reconnects") or 0) >= 1
    assert panel.get_attribute("data-messages") == str(COUNT)
    assert panel.get_attribute("data-last-seq") == str(COUNT - 1)
    assert panel.get_attribute("data-lost") == "0"
    assert panel.get_attribute("data-duplicates") == "0"
    assert "connection lost" in page.inner_text("#panel-sse [data-role=feed]")
    # The browser, not the page, sent the resume point.
    resumed = [r for r in proxy.requests if b"GET /stream/sse?" in r and b"Last-Event-ID" in r]
    assert resumed, "no request carried a Last-Event-ID header"
