"""A panel whose read callback throws (a line that is not JSON) stops its request for real:
the reader is cancelled and the fetch aborted, so the server sees the stream end, the
connection budget is right, and the panel says "error"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browserkit import wait_for_streams
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

# The third message's JSON.parse throws, as a malformed line would. Only the panels' own
# parsing is touched: the text of a message always holds "seq".
BREAK_JSON = """
() => {
  const parse = JSON.parse;
  let seen = 0;
  JSON.parse = function (text, ...rest) {
    if (typeof text === "string" && text.includes('"seq"') && ++seen === 3) {
      throw new SyntaxError("Unexpected token (a broken line, for the test)");
    }
    return parse.call(this, text, ...rest);
  };
}
"""


@pytest.mark.parametrize("mode", ["sse", "sse-fetch", "ndjson"])
def test_a_throwing_read_callback_ends_the_request(
    open_page: Callable[..., Page], base_url: str, mode: str
) -> None:
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=15)
    page = open_page(f"{base_url}/")
    page.fill("#controls input[name=count]", "100000")
    page.fill("#controls input[name=interval]", "50")
    page.evaluate(BREAK_JSON)
    page.click(f"#panel-{mode} [data-action=start]")
    page.wait_for_function(
        "(mode) => document.getElementById(`panel-${mode}`).dataset.state === 'error'", arg=mode
    )
    assert "broken line" in page.inner_text(f"#panel-{mode} .state")
    assert page.get_attribute(f"#panel-{mode}", "data-messages") == "2"
    assert page.get_attribute("#connections", "data-open") == "0"
    # The stream would run for 5,000 s: it ends only because the page closed the connection
    # (the server notices at its next write, 50 ms later).
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=10)


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("sse", "EventSource gave up"),
        ("sse-fetch", "HTTP 400 count: must be from 1 to 1000000, got 0"),
        ("ndjson", "HTTP 400 count: must be from 1 to 1000000, got 0"),
        ("chunked", "HTTP 400 count: must be from 1 to 1000000, got 0"),
    ],
)
def test_an_http_error_is_reported(
    open_page: Callable[..., Page], base_url: str, mode: str, text: str
) -> None:
    page = open_page(f"{base_url}/")
    # The form refuses a count of 0 itself; the panel is asked directly, as a script could.
    page.evaluate(
        "(mode) => window.showcase.panels.find((p) => p.mode === mode)"
        ".start({ count: 0, interval: 100, size: 0, source: 'ticks' })",
        mode,
    )
    page.wait_for_function(
        "(mode) => document.getElementById(`panel-${mode}`).dataset.state === 'error'", arg=mode
    )
    assert text in page.inner_text(f"#panel-{mode} .state")
    assert page.get_attribute("#connections", "data-open") == "0"
