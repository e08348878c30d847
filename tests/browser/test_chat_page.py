"""The page's chat box in Debian's headless Chromium against the real server: each API's
answer arrives token by token as text (never HTML), and Stop ends the server-side stream
(the open-stream count on the page drops): an OpenAI answer is cancelled on the server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from showcase.chat.answer import CANNED
from showcase.pure.sources import passage_tokens
from showcase.tools.launcher import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
WAIT_MS = 20_000
DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """One page for the module, in the session's Chromium (one Playwright per process)."""
    errors: list[str] = []
    context = browser.new_context()
    try:
        opened = context.new_page()
        opened.set_default_timeout(WAIT_MS)
        opened.on("pageerror", lambda error: errors.append(str(error)))
        response = opened.goto(f"{base_url}/")
        assert response is not None and response.status == 200
        opened.wait_for_function("window.showcaseChat !== undefined")
        yield opened
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def ask(page: Page, question: str, api: str, speed: float) -> None:
    page.fill("#chat-form input[name=question]", question)
    page.select_option("#chat-form select[name=api]", api)
    page.fill("#chat-form input[name=speed]", str(speed))
    page.click('#chat [data-action="ask"]')


def chat_attr(page: Page, name: str) -> str:
    value = page.get_attribute("#chat", f"data-{name}")
    assert value is not None
    return value


@pytest.mark.parametrize("api", ["openai", "ndjson", "coze"])
def test_each_api_streams_the_answer_as_text(page: Page, api: str) -> None:
    asked = time.monotonic()
    ask(page, "Tell me about streaming", api, 100)
    page.wait_for_function("document.querySelector('#chat').dataset.state === 'done'")
    wall_ms = (time.monotonic() - asked) * 1000
    assert chat_attr(page, "api") == api
    assert page.text_content('#chat [data-role="answer"]') == "".join(passage_tokens())
    tokens = int(chat_attr(page, "tokens"))
    # OpenAI and NDJSON send a token per word; the Coze relay retypes character by character.
    expected = len("".join(passage_tokens())) if api == "coze" else len(passage_tokens())
    assert tokens == expected
    # The first token came after the ask, and early enough that the rest, at the rate
    # shown (first to last token), fits in what the whole ask took here.
    ttft_ms = float(chat_attr(page, "ttft-ms"))
    rest_ms = (tokens - 1) / float(chat_attr(page, "rate")) * 1000
    assert ttft_ms > 0
    assert ttft_ms + rest_ms <= wall_ms + 1  # ttft and rate are shown rounded


def test_answer_markup_is_shown_as_text(page: Page) -> None:
    ask(page, "show me html", "openai", 100)
    page.wait_for_function("document.querySelector('#chat').dataset.state === 'done'")
    answer = page.locator('#chat [data-role="answer"]')
    assert answer.text_content() == CANNED["html"]
    assert answer.locator("b, img").count() == 0


def test_stop_ends_the_server_side_stream(page: Page, server: RunningServer) -> None:
    assert server.wait_open_streams(0, DEADLINE_S) == 0
    ask(page, "Tell me about streaming", "openai", 0.2)  # 200 ms a token
    page.wait_for_function("Number(document.querySelector('#chat').dataset.tokens) >= 2")
    page.wait_for_function("document.querySelector('#chat').dataset.openStreams === '1'")
    page.click('#chat [data-action="chat-stop"]')
    page.wait_for_function("document.querySelector('#chat').dataset.state === 'done'")
    assert page.text_content('#chat [data-role="status"]') == "cancelled"
    # The page's own poll of /healthz sees the server end the stream.
    page.wait_for_function("document.querySelector('#chat').dataset.openStreams === '0'")
    assert server.wait_open_streams(0, DEADLINE_S) == 0
    assert int(chat_attr(page, "tokens")) < len(passage_tokens())
