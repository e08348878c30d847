"""A stream at interval 0 through the reader worker: the page acknowledges reads as it handles
them and the worker never runs more than a window ahead, so the stream arrives whole, in
order, and the request ends on the server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browserkit import wait_for_streams
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

COUNT = 100_000


@pytest.mark.parametrize("mode", ["ndjson", "chunked"])
def test_a_fast_stream_arrives_whole(
    open_page: Callable[..., Page], base_url: str, mode: str
) -> None:
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=15)  # an earlier test's may linger
    page = open_page(f"{base_url}/")
    page.fill("#controls input[name=count]", str(COUNT))
    page.fill("#controls input[name=interval]", "0")
    page.fill("#controls input[name=size]", "64")
    page.click(f"#panel-{mode} [data-action=start]")
    page.wait_for_function(
        "(mode) => document.getElementById(`panel-${mode}`).dataset.state !== 'running'",
        arg=mode,
        timeout=90_000,
    )
    panel = f"#panel-{mode}"
    assert page.get_attribute(panel, "data-state") == "done", page.inner_text(f"{panel} .state")
    assert page.get_attribute(panel, "data-messages") == str(COUNT)
    assert page.get_attribute(panel, "data-last-seq") == str(COUNT - 1)
    assert page.get_attribute(panel, "data-lost") == "0"
    assert int(page.get_attribute(panel, "data-reads") or 0) > 8  # the window was used
    assert page.get_attribute(panel, "data-sampled") == "true"
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=10)
