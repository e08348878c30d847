"""Browser fixtures: Debian's headless Chromium driven by Playwright, pages on the session's
real gunicorn + gevent server, and a proxy in front of it that a test can cut."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browserkit import CHROMIUM, CHROMIUM_ARGS, DESKTOP, SCREENSHOTS, WAIT_MS
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.wire import CutProxy


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium; "
            "run `make browser-deps` (never `playwright install`)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``open_page(url, viewport=DESKTOP)``: a fresh context; a script error fails the test."""
    contexts = []
    errors: list[str] = []

    def open_(url: str, viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(url)
        assert response is not None and response.status == 200, f"GET {url} failed"
        page.wait_for_function("window.showcase !== undefined")  # the module has booted
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def proxy(base_url: str) -> Iterator[CutProxy]:
    running = CutProxy(base_url)
    yield running
    running.close()
    running.thread.join(5)
