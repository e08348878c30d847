"""The guide's JavaScript clients (docs/examples/*_client.js), each run as written in headless
Chromium on a page of the examples' real gunicorn + gevent server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browserkit import WAIT_MS
from playwright.sync_api import Browser, Page

from benchmarks.report.examples import EXAMPLES
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.wire import CutProxy

EXAMPLES_APP = "tests.integration.examples_app:app"
DOWNLOAD_BYTES = 3 * 1024 * 1024 + 5


@pytest.fixture(scope="module")
def download_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("downloads")
    (folder / "sample.bin").write_bytes(b"x" * DOWNLOAD_BYTES)
    return folder


@pytest.fixture(scope="module")
def examples_server(
    tmp_path_factory: pytest.TempPathFactory, download_folder: Path
) -> Iterator[RunningServer]:
    log_path = tmp_path_factory.mktemp("examples") / "gunicorn.log"
    running = start_server(
        log_path, app=EXAMPLES_APP, env={"DOWNLOAD_FOLDER": str(download_folder)}
    )
    yield running
    running.stop()


@pytest.fixture
def run_example(browser: Browser) -> Iterator[Callable[[str, str], tuple[Page, list[str]]]]:
    """``run_example(origin, "sse_client.js")``: the empty page of ``origin`` with the file run
    on it as a classic script; returns the page and the list its console.log lines go to
    (errors, such as the favicon.ico 404, are not logs)."""
    contexts = []

    def run(origin: str, name: str) -> tuple[Page, list[str]]:
        context = browser.new_context(accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        lines: list[str] = []
        page.on("console", lambda message: message.type == "log" and lines.append(message.text))
        response = page.goto(f"{origin}/")
        assert response is not None and response.status == 200
        page.add_script_tag(content=(EXAMPLES / name).read_text(encoding="utf-8"))
        return page, lines

    yield run
    for context in contexts:
        context.close()


def wait_lines(page: Page, lines: list[str], count: int) -> list[str]:
    """Wait (bounded by WAIT_MS) until ``count`` console lines have arrived."""
    for _ in range(WAIT_MS // 100):
        if len(lines) >= count:
            return lines
        page.wait_for_timeout(100)
    raise AssertionError(f"{count} console lines expected, got {lines}")


def test_sse_js_client_gets_every_message_once_across_a_cut_and_stops_at_204(
    examples_server: RunningServer, run_example: Callable[[str, str], tuple[Page, list[str]]]
) -> None:
    proxy = CutProxy(examples_server.url)
    try:
        page, lines = run_example(proxy.url, "sse_client.js")
        wait_lines(page, lines, 2)
        proxy.cut()
        wait_lines(page, lines, 6)
        assert lines == [f"{n} message {n}" for n in range(5)] + ["closed"]
        heads = [head.decode("latin-1").lower() for head in proxy.requests]
        sse = [head for head in heads if head.startswith("get /sse ")]
        assert "last-event-id" not in sse[0]
        assert "last-event-id: 4\r\n" in sse[-1]
        assert len(sse) == 3  # the first, the one after the cut, the one the 204 ended
    finally:
        proxy.close()


def test_ndjson_js_client_parses_every_line(
    examples_server: RunningServer, run_example: Callable[[str, str], tuple[Page, list[str]]]
) -> None:
    page, lines = run_example(examples_server.url, "ndjson_client.js")
    assert wait_lines(page, lines, 5) == [f"{n} message {n}" for n in range(5)]


def test_chunked_js_client_gets_all_the_text(
    examples_server: RunningServer, run_example: Callable[[str, str], tuple[Page, list[str]]]
) -> None:
    page, lines = run_example(examples_server.url, "chunked_client.js")
    expected = "".join(f"message {n}\n" for n in range(5))
    for _ in range(WAIT_MS // 100):
        if "".join(lines) == expected:
            break
        page.wait_for_timeout(100)
    assert "".join(lines) == expected
    assert len(lines) >= 2  # pieces arrived as they were sent, not all at the end


def test_ws_js_client_gets_its_echoes(
    examples_server: RunningServer, run_example: Callable[[str, str], tuple[Page, list[str]]]
) -> None:
    page, lines = run_example(examples_server.url, "ws_client.js")
    assert wait_lines(page, lines, 3) == [f"echo: hello {n}" for n in range(3)]


def test_poll_js_client_follows_the_messages(
    examples_server: RunningServer, run_example: Callable[[str, str], tuple[Page, list[str]]]
) -> None:
    page, lines = run_example(examples_server.url, "poll_client.js")
    ids = [int(line.split()[0]) for line in wait_lines(page, lines, 4)]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_download_js_link_downloads_the_whole_file(
    examples_server: RunningServer,
    run_example: Callable[[str, str], tuple[Page, list[str]]],
    tmp_path: Path,
) -> None:
    page, _ = run_example(examples_server.url, "download_client.js")
    with page.expect_download() as info:
        page.click("text=Download sample.bin")
    saved = tmp_path / "sample.bin"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "sample.bin"
    assert saved.stat().st_size == DOWNLOAD_BYTES
