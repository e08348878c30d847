"""The chat box's resumable answers in Debian's headless Chromium against the real server: a
reload mid-answer reattaches with Last-Event-ID and shows every token exactly once, a second
tab joins the answer in flight, and Stop cancels the answer on the server. With the answer log
off, the chat box is the plain one of before: nothing to resume, Stop aborts the fetch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from showcase.chat.answer import CANNED, tokenize
from showcase.tools.launcher import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
WAIT_MS = 20_000
QUESTION = "what is sse"  # the canned "sse" answer
FULL_ANSWER = CANNED["sse"]
SLOW_SPEED = 0.15  # 267 ms a token (about 9 s in all): a reload or a second tab lands mid-answer
ANSWER = '#chat [data-role="answer"]'
AFTER_STOP_S = 1.0  # several token intervals: a token still coming would have come


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with SHOWCASE_ANSWER_LOG=off: answers as before, no ids, no log."""
    log_path = tmp_path_factory.mktemp("plain") / "gunicorn.log"
    running = start_server(log_path, env={"SHOWCASE_ANSWER_LOG": "off"})
    yield running
    running.stop()


@pytest.fixture
def tabs(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """``tabs(url=base_url)``: one more tab on the page, all in one context (they share
    localStorage); a script error in any fails the test."""
    errors: list[str] = []
    context: BrowserContext = browser.new_context()

    def open_tab(url: str = base_url) -> Page:
        tab = context.new_page()
        tab.set_default_timeout(WAIT_MS)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        response = tab.goto(f"{url}/")
        assert response is not None and response.status == 200
        tab.wait_for_function("window.showcaseChat !== undefined")
        return tab

    yield open_tab
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def ask(page: Page, question: str, speed: float, api: str = "openai") -> None:
    page.fill("#chat-form input[name=question]", question)
    page.select_option("#chat-form select[name=api]", api)
    page.fill("#chat-form input[name=speed]", str(speed))
    page.click('#chat [data-action="ask"]')


def chat_attr(page: Page, name: str) -> str:
    value = page.get_attribute("#chat", f"data-{name}")
    assert value is not None
    return value


def wait_tokens(page: Page, count: int) -> None:
    page.wait_for_function(f"Number(document.querySelector('#chat').dataset.tokens) >= {count}")


def wait_over(page: Page) -> None:
    page.wait_for_function("document.querySelector('#chat').dataset.state === 'done'")


# How each API's reattach says where to resume: SSE's header, NDJSON's query.
RESUME_BY = {"openai": "Last-Event-ID: {after}", "ndjson": "?after={after} "}


@pytest.mark.parametrize("api", ["openai", "ndjson"])
def test_reload_mid_answer_shows_each_token_exactly_once(
    tabs: Callable[..., Page], api: str
) -> None:
    page = tabs()
    ask(page, QUESTION, SLOW_SPEED, api)
    wait_tokens(page, 3)
    page.reload()
    page.wait_for_function("window.showcaseChat !== undefined")
    wait_over(page)
    assert chat_attr(page, "finish") == "done"
    assert page.text_content(ANSWER) == FULL_ANSWER
    assert int(chat_attr(page, "tokens")) == len(tokenize(FULL_ANSWER))
    assert page.input_value("#chat-form input[name=question]") == QUESTION
    assert chat_attr(page, "api") == api
    # The wire view shows the reconnect: where it resumes, then every id after it, in order
    # (the tokens' 0…n-1, then n for the end).
    after = int(page.get_attribute("#wire", "data-after") or "-1")
    ids = [int(one) for one in (page.get_attribute("#wire", "data-ids") or "").split()]
    assert 2 <= after < len(tokenize(FULL_ANSWER)) - 1
    assert ids == list(range(after + 1, len(tokenize(FULL_ANSWER)) + 1))
    request_text = page.text_content('#wire [data-role="request"]') or ""
    assert RESUME_BY[api].format(after=after) in request_text


def test_second_tab_joins_the_answer_in_flight(tabs: Callable[..., Page]) -> None:
    first, second = tabs(), tabs()
    join = second.locator('#chat [data-action="chat-join"]')
    assert not join.is_visible()
    ask(first, QUESTION, SLOW_SPEED)
    wait_tokens(first, 3)
    join.wait_for(state="visible")  # announced through localStorage's storage event
    assert second.text_content('#chat [data-role="join-question"]') == QUESTION
    late = tabs()  # a tab opened mid-answer finds the announcement in localStorage
    assert late.locator('#chat [data-action="chat-join"]').is_visible()
    join.click()
    wait_over(second)
    wait_over(first)
    assert chat_attr(second, "answer-id") == chat_attr(first, "answer-id")
    assert second.text_content(ANSWER) == FULL_ANSWER
    assert int(chat_attr(second, "tokens")) == len(tokenize(FULL_ANSWER))
    assert first.text_content(ANSWER) == FULL_ANSWER
    # The join replayed from the start (no Last-Event-ID): every id, in order, once.
    assert second.get_attribute("#wire", "data-after") == ""
    ids = (second.get_attribute("#wire", "data-ids") or "").split()
    assert ids == [str(seq) for seq in range(len(tokenize(FULL_ANSWER)) + 1)]
    # The answer is over: no tab offers to join it any more.
    second.wait_for_function("document.querySelector('#chat [data-role=join]').hidden")


def test_stop_cancels_the_answer_on_the_server(tabs: Callable[..., Page], base_url: str) -> None:
    page = tabs()
    ask(page, QUESTION, SLOW_SPEED)
    wait_tokens(page, 2)
    page.click('#chat [data-action="chat-stop"]')
    wait_over(page)
    # The page's stream ended with the server's cancelled chunk, not with an abort.
    assert chat_attr(page, "finish") == "cancelled"
    assert page.text_content('#chat [data-role="status"]') == "cancelled"
    shown = page.text_content(ANSWER) or ""
    tokens = int(chat_attr(page, "tokens"))
    assert 2 <= tokens < len(tokenize(FULL_ANSWER))
    time.sleep(AFTER_STOP_S)
    assert page.text_content(ANSWER) == shown
    assert int(chat_attr(page, "tokens")) == tokens
    # The server's log says the same: the answer is over, nothing follows the last id shown,
    # and a replay from the start holds exactly what the page showed, then the cancelled end.
    answer_id, last_id = chat_attr(page, "answer-id"), chat_attr(page, "last-id")
    stream_url = f"{base_url}/v1/chat/completions/{answer_id}/stream"
    after = requests.get(stream_url, params={"after": last_id}, timeout=10)
    assert after.status_code == 204
    replay = requests.get(stream_url, timeout=10)
    assert replay.status_code == 200
    data = [line[len("data: ") :] for line in replay.text.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(one) for one in data[:-1]]
    assert chunks[-1].get("cancelled") is True
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert text == shown


def test_without_the_answer_log_stop_aborts_and_a_reload_starts_afresh(
    tabs: Callable[..., Page], plain_server: RunningServer
) -> None:
    page = tabs(plain_server.url)
    ask(page, QUESTION, SLOW_SPEED)
    wait_tokens(page, 2)
    assert chat_attr(page, "answer-id") == ""  # no X-Answer-Id: nothing to resume or cancel
    page.click('#chat [data-action="chat-stop"]')
    wait_over(page)
    assert page.text_content('#chat [data-role="status"]') == "stopped"
    page.reload()
    page.wait_for_function("window.showcaseChat !== undefined")
    assert chat_attr(page, "state") == "idle"
    assert page.text_content(ANSWER) == ""
    assert page.locator('#chat [data-action="chat-join"]').is_hidden()


def test_an_answer_the_server_no_longer_has_is_said_gone_and_not_offered(
    tabs: Callable[..., Page],
) -> None:
    gone = "chatcmpl-" + "0" * 24
    page = tabs()
    # Another tab announced it, then the server lost it (expired, or another server's memory).
    live = {"id": gone, "api": "openai", "question": QUESTION, "started": time.time() * 1000}
    page.evaluate("live => localStorage.setItem('showcase.chat.live', JSON.stringify(live))", live)
    page.reload()
    page.wait_for_function("window.showcaseChat !== undefined")
    page.click('#chat [data-action="chat-join"]')
    page.wait_for_function("document.querySelector('#chat').dataset.state === 'error'")
    status = page.text_content('#chat [data-role="status"]') or ""
    assert status.startswith("error: 404")
    assert page.get_attribute("#wire", "data-state") == "error"
    assert page.evaluate("localStorage.getItem('showcase.chat.live')") is None
    assert page.locator('#chat [data-action="chat-join"]').is_hidden()
    # A reload shows it as it ended rather than asking again.
    page.reload()
    page.wait_for_function("window.showcaseChat !== undefined")
    assert chat_attr(page, "state") == "error"
    assert chat_attr(page, "finish").startswith("error: 404")
