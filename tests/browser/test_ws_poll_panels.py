"""The WebSocket and polling panels in headless Chromium: every message in order after
"Start all", a real WebSocket (the server counts it), the budget of connections (a WebSocket
is not one of the six, a waiting poll is), short polling on the page's timer."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from browserkit import wait_for_streams
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ALL_SETTLED = "[...document.querySelectorAll('.panel')].every(p => p.dataset.state !== 'running')"
NEW_PANELS = ["ws", "poll"]


def set_controls(page: Page, *, count: int, interval: float) -> None:
    page.fill("#controls input[name=count]", str(count))
    page.fill("#controls input[name=interval]", str(interval))
    page.fill("#controls input[name=size]", "8")


def attr(page: Page, mode: str, name: str) -> str:
    value = page.get_attribute(f'.panel[data-mode="{mode}"]', f"data-{name}")
    assert value is not None, f"{mode} panel has no data-{name}"
    return value


def wait_attr_at_least(page: Page, mode: str, name: str, value: float) -> None:
    page.wait_for_function(
        "([mode, name, value]) => Number(document.querySelector(`.panel[data-mode='${mode}']`)"
        ".getAttribute(`data-${name}`) || 0) >= value",
        arg=[mode, name, value],
    )


def assert_every_message_in_order(page: Page, mode: str, count: int) -> None:
    assert attr(page, mode, "state") == "done", page.inner_text(f"#panel-{mode} .state")
    assert attr(page, mode, "messages") == str(count)
    assert attr(page, mode, "last-seq") == str(count - 1)
    assert attr(page, mode, "lost") == "0"
    assert attr(page, mode, "duplicates") == "0"
    p50, p95, peak = (float(attr(page, mode, f"{q}-ms")) for q in ("p50", "p95", "max"))
    assert float(attr(page, mode, "ttfb-ms")) > 0
    assert p50 <= p95 <= peak


def test_start_all_brings_ws_and_poll_to_done_in_order(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    set_controls(page, count=30, interval=40)
    page.select_option(".panel[data-mode=download] [data-role=file]", "1MiB.bin")
    page.select_option(".panel[data-mode=download] [data-role=generated-size]", "1048576")
    page.click("[data-action=start-all]")
    page.wait_for_function(ALL_SETTLED)
    for mode in NEW_PANELS:
        assert_every_message_in_order(page, mode, 30)
    assert attr(page, "ws", "frames") == "30"
    assert attr(page, "ws", "close-code") == "1000"
    assert int(attr(page, "poll", "polls")) >= 1
    assert page.get_attribute("#connections", "data-open") == "0"


def test_ws_panel_holds_a_real_websocket_on_the_server(
    open_page: Callable[..., Page], base_url: str
) -> None:
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=15)
    page = open_page(f"{base_url}/")
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    set_controls(page, count=100_000, interval=50)
    page.click("#panel-ws [data-action=start]")
    wait_attr_at_least(page, "ws", "frames", 3)
    # The server counts an open WebSocket in open_streams; the page holds none of the six.
    wait_for_streams(base_url, lambda n: n == 1, timeout_s=10)
    assert page.get_attribute("#connections", "data-open") == "0"
    assert "101 Switching Protocols" in page.inner_text("#panel-ws [data-role=feed]")
    page.click("#panel-ws [data-action=stop]")
    assert attr(page, "ws", "state") == "idle"
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=10)


def test_a_websocket_is_not_one_of_the_six(open_page: Callable[..., Page], base_url: str) -> None:
    """With six connections held, the WebSocket still opens and streams, while the poll waits
    for a free connection and starts once a stream stops."""
    page = open_page(f"{base_url}/")
    set_controls(page, count=100_000, interval=50)
    page.select_option(".panel[data-mode=download] [data-role=generated-size]", "268435456")
    page.select_option(".panel[data-mode=download] [data-role=rate]", "4")
    page.click("[data-action=start-all]")
    page.wait_for_function("document.getElementById('connections').dataset.open === '6'")
    wait_attr_at_least(page, "ws", "frames", 5)
    assert attr(page, "poll", "state") == "running"
    assert attr(page, "poll", "messages") == "0"
    assert "waiting for a free connection" in page.inner_text("#panel-poll .state")

    page.click("#panel-sse [data-action=stop]")
    wait_attr_at_least(page, "poll", "messages", 3)
    assert page.get_attribute("#connections", "data-open") == "6"  # the poll took the freed one
    page.click("[data-action=stop-all]")
    page.wait_for_function("document.getElementById('connections').dataset.open === '0'")
    assert attr(page, "ws", "state") == "idle"
    assert attr(page, "poll", "state") == "idle"
    wait_for_streams(base_url, lambda n: n == 0, timeout_s=15)


def test_short_polling_on_the_readers_timer(open_page: Callable[..., Page], base_url: str) -> None:
    page = open_page(f"{base_url}/")
    set_controls(page, count=8, interval=100)
    page.check("#panel-poll [data-role=short]")
    page.fill("#panel-poll [data-role=every-ms]", "30")
    page.click("#panel-poll [data-action=start]")
    page.wait_for_function("document.getElementById('panel-poll').dataset.state !== 'running'")
    assert_every_message_in_order(page, "poll", 8)
    # Polls every 30 ms for messages 100 ms apart: most answers are empty.
    polls, empty = int(attr(page, "poll", "polls")), int(attr(page, "poll", "empty-polls"))
    assert polls >= 8 + 5
    assert empty >= 5


def show_wire(page: Page, mode: str, count: int) -> None:
    page.select_option("#wire-controls select[name=mode]", mode)
    page.fill("#wire-controls input[name=count]", str(count))
    page.evaluate("document.getElementById('wire').dataset.state = 'idle'")
    page.click("#wire [data-action=wire]")
    page.wait_for_function(
        "!['idle', 'running'].includes(document.getElementById('wire').dataset.state)"
    )
    assert page.get_attribute("#wire", "data-state") == "done", page.inner_text(
        "#wire [data-role=status]"
    )


def test_wire_view_shows_the_upgrade_the_101_and_each_frame(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    show_wire(page, "ws", 3)
    sent = page.inner_text("#wire [data-role=request]")
    assert sent.startswith("GET /ws?count=3&")
    assert "Upgrade: websocket\\r\\n" in sent
    assert "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n" in sent
    response = "#wire [data-role=response]"
    assert page.inner_text(response).startswith("HTTP/1.1 101 Switching Protocols\\r\\n")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in page.inner_text(response)
    labels = page.locator(f"{response} .frame-label").all_inner_texts()
    # A payload's length moves with its ts (the float's digits): the shape is what is fixed.
    text_frame = re.compile(r"\[FIN=1 MASK=0 text \(opcode 1\) length (3[0-9]|4[0-9])\]")
    assert all(text_frame.fullmatch(label.strip()) for label in labels[:3]), labels
    assert [label.strip() for label in labels[3:]] == ["[FIN=1 MASK=0 close (opcode 8) length 2]"]
    assert page.locator(f"{response} .seg-frame").count() == 4
    data = page.locator(f"{response} .seg-data").all_inner_texts()
    assert [text.startswith(f'{{"seq":{n},') for n, text in enumerate(data[:3])] == [True] * 3
    assert page.get_attribute("#wire", "data-frames") == "4"


def test_wire_view_shows_polls_each_following_the_last(
    open_page: Callable[..., Page], base_url: str
) -> None:
    page = open_page(f"{base_url}/")
    show_wire(page, "poll", 3)
    sent = page.inner_text("#wire [data-role=request]")
    assert sent.count("GET /poll?") == 3
    assert "&after=-1&" in sent and "&after=0&start=" in sent and "&after=1&start=" in sent
    answers = page.inner_text("#wire [data-role=response]")
    assert answers.count("HTTP/1.1 200 OK") == 3
    assert [f'"seq":{n},' in answers for n in range(3)] == [True] * 3
    assert '"done":true' in answers
    assert page.locator("#wire [data-role=response] .exchange-label").count() == 3
