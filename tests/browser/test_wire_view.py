"""The wire view in the page: chunk-size lines for the chunked mode, SSE field names and
line ends made visible, read from a real socket by the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


def show_wire(
    page: Page, mode: str, count: int, *, interval: str = "20", flush: str = "auto"
) -> None:
    page.select_option("#wire-controls select[name=mode]", mode)
    page.fill("#wire-controls input[name=count]", str(count))
    page.select_option("#wire-controls select[name=interval]", interval)
    page.select_option("#wire-controls select[name=flush]", flush)
    page.evaluate("document.getElementById('wire').dataset.state = 'idle'")
    page.click("#wire [data-action=wire]")
    page.wait_for_function("document.getElementById('wire').dataset.state !== 'running'")
    page.wait_for_function("document.getElementById('wire').dataset.state !== 'idle'")
    assert page.get_attribute("#wire", "data-state") == "done", page.inner_text(
        "#wire [data-role=status]"
    )


def test_wire_view_shows_chunk_size_lines(
    open_page: Callable[..., Page], base_url: str, screenshots: Path
) -> None:
    page = open_page(f"{base_url}/")
    show_wire(page, "chunked", 3)
    response = "#wire [data-role=response]"
    sizes = page.locator(f"{response} .seg-size").all_inner_texts()
    assert len(sizes) == 3
    assert all(re.fullmatch(r"[0-9A-F]+\\r\\n\n?", text) for text in sizes), sizes
    assert page.locator(f"{response} .seg-end").count() == 1
    text = page.inner_text(response)
    assert text.startswith("HTTP/1.1 200 OK\\r\\n")
    assert "Transfer-Encoding: chunked\\r\\n" in text
    assert "tick 0 " in text
    page.locator("#wire").screenshot(path=str(screenshots / "wire-chunked.png"))

    show_wire(page, "sse", 2)
    fields = page.locator(f"{response} .seg-field").all_inner_texts()
    assert {"retry:", "event:", "id:", "data:"} <= set(fields)
    assert "\\n\n\\n" in page.inner_text(response)  # the blank line that ends an event


def test_wire_view_shows_coalescing(open_page: Callable[..., Page], base_url: str) -> None:
    """Messages ready together share one write with flush=auto and get one each with
    flush=each: the wire view passes flush on, so the chunk-size lines show it."""
    page = open_page(f"{base_url}/")
    response = "#wire [data-role=response]"
    show_wire(page, "chunked", 4, interval="0", flush="each")
    assert "&flush=each" in page.inner_text("#wire [data-role=request]")
    assert page.locator(f"{response} .seg-size").count() == 4
    data = page.locator(f"{response} .seg-data").all_inner_texts()
    assert [text.count("tick ") for text in data] == [1, 1, 1, 1]

    show_wire(page, "chunked", 4, interval="0", flush="auto")
    assert "&flush=auto" in page.inner_text("#wire [data-role=request]")
    assert page.locator(f"{response} .seg-size").count() == 1
    [together] = page.locator(f"{response} .seg-data").all_inner_texts()
    ticks = re.findall(r"tick (\d+) ", together)
    assert ticks == ["0", "1", "2", "3"]
