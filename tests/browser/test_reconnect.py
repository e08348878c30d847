"""Both SSE panels through a proxy that the test cuts mid-stream: EventSource reconnects by
itself, the fetch() panel the same way by hand (retry, Last-Event-ID, stop on 204, bounded
attempts); the server resumes, with no message lost or repeated."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.integration.wire import CutProxy

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

COUNT = 40


def test_eventsource_resumes_after_a_dropped_connection(
    open_page: Callable[..., Page], proxy: CutProxy
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


# --- the fetch() panel resumes the way EventSource does ---------------------------------

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


def resumes(head: bytes) -> bool:
    return head.startswith(b"GET /stream/sse?") and b"last-event-id:" in head.lower()


@pytest.fixture
def cut_proxy(base_url: str) -> Iterator[Callable[..., CutProxy]]:
    """``cut_proxy(answer=None)``: a CutProxy in front of the server, closed after the test."""
    running: list[CutProxy] = []

    def start(answer: Callable[[bytes], bytes | None] | None = None) -> CutProxy:
        running.append(CutProxy(base_url, answer))
        return running[-1]

    yield start
    for proxy in running:
        proxy.close()


def start_fetch_panel(page: Page, count: int) -> None:
    page.fill("#controls input[name=count]", str(count))
    page.fill("#controls input[name=interval]", "50")
    page.click("#panel-sse-fetch [data-action=start]")
    page.wait_for_function(
        "Number(document.getElementById('panel-sse-fetch').dataset.messages) >= 10"
    )


def wait_until_settled(page: Page) -> None:
    page.wait_for_function(
        "document.getElementById('panel-sse-fetch').dataset.state !== 'running'",
        timeout=60_000,
    )


def test_fetch_panel_resumes_after_a_dropped_connection(
    open_page: Callable[..., Page], cut_proxy: Callable[..., CutProxy]
) -> None:
    proxy = cut_proxy()
    page = open_page(f"{proxy.url}/")
    start_fetch_panel(page, COUNT)
    proxy.cut()  # both TCP connections torn down under the reader
    wait_until_settled(page)
    panel = page.locator("#panel-sse-fetch")
    assert panel.get_attribute("data-state") == "done", page.inner_text("#panel-sse-fetch .state")
    assert int(panel.get_attribute("data-reconnects") or 0) >= 1
    assert panel.get_attribute("data-messages") == str(COUNT)
    assert panel.get_attribute("data-last-seq") == str(COUNT - 1)
    assert panel.get_attribute("data-lost") == "0"
    assert panel.get_attribute("data-duplicates") == "0"
    assert "Last-Event-ID" in page.inner_text("#panel-sse-fetch [data-role=feed]")
    sent = proxy.last_event_ids()
    assert sent[0] is None
    assert len(sent) >= 2 and all(value is not None and value.isdigit() for value in sent[1:])


def test_fetch_panel_stops_on_204(
    open_page: Callable[..., Page], cut_proxy: Callable[..., CutProxy]
) -> None:
    proxy = cut_proxy(lambda head: NO_CONTENT if resumes(head) else None)
    page = open_page(f"{proxy.url}/")
    start_fetch_panel(page, COUNT)
    proxy.cut()
    wait_until_settled(page)
    panel = page.locator("#panel-sse-fetch")
    status = page.inner_text("#panel-sse-fetch .state")
    assert panel.get_attribute("data-state") == "done", status
    assert "(204)" in status
    received = int(panel.get_attribute("data-messages") or 0)
    assert 10 <= received < COUNT  # the 204 ended it, not the last message
    sent = proxy.last_event_ids()
    assert len(sent) == 2 and sent[1] == str(received - 1)  # resumed right after the last


def test_fetch_panel_gives_up_after_bounded_attempts(
    open_page: Callable[..., Page], cut_proxy: Callable[..., CutProxy]
) -> None:
    # Every resume gets a closed connection and no answer: a network error each time.
    proxy = cut_proxy(lambda head: b"" if resumes(head) else None)
    page = open_page(f"{proxy.url}/")
    start_fetch_panel(page, COUNT)
    proxy.cut()
    wait_until_settled(page)  # five waits of the server's 2 s retry
    panel = page.locator("#panel-sse-fetch")
    status = page.inner_text("#panel-sse-fetch .state")
    assert panel.get_attribute("data-state") == "error", status
    assert "gave up after 5 attempts" in status
    sent = proxy.last_event_ids()
    assert len(sent) == 1 + 5 and len(set(sent[1:])) == 1  # same resume point every time


PARSER_ACROSS_CONNECTIONS = """
async () => {
  const { SSEParser } = await import("/static/js/sseparser.js");
  const enc = new TextEncoder();
  const parser = new SSEParser();
  const first = parser.feed(enc.encode("retry: 40\\nid: 1\\ndata: a\\n\\nid: 2\\ndata: cut\\n"));
  parser.close(); // the connection broke in the middle of event 2
  const resumeAfter = parser.lastId;
  const second = parser.feed(enc.encode("data: b\\n\\n"));
  return { first, resumeAfter, second, retry: parser.retry };
}
"""


def test_js_parser_resumes_after_the_last_dispatched_event(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    result = page.evaluate(PARSER_ACROSS_CONNECTIONS)
    assert result["first"] == [{"type": "message", "data": "a", "id": "1"}]
    # Event 2 never arrived whole: resuming after it would lose it, and its data must not
    # leak into the next connection's first event.
    assert result["resumeAfter"] == "1"
    assert result["second"] == [{"type": "message", "data": "b", "id": "1"}]
    assert result["retry"] == 40
