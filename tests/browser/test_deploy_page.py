"""The page's deployment view and connections demo in Debian's headless Chromium, against a real
gunicorn app with nginx in front (``showcase proxy``'s setup: SHOWCASE_DEPLOY names the app, nginx
and nginx's TLS port): the stock location batches a stream the streaming one delivers per
message, the app's compress=sync lane gets every message, Chromium holds the 7th EventSource
over HTTP/1.1 and not over HTTP/2 through nginx, and what the page shows stays text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browserkit import DESKTOP, WAIT_MS
from playwright.sync_api import Browser, Page

from showcase.tools.launcher import RunningServer, start_server
from showcase.tools.proxy import LOCATIONS, Proxy, start_proxy
from showcase.tools.proxy.command import deployment
from showcase.tools.proxy.nginx import free_port
from showcase.web.page import read_deploy

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
RUN_MS = 40_000  # every lane of one run: 10 messages 200 ms apart, batched six at a time


@dataclass
class Deployed:
    app: RunningServer
    proxy: Proxy


def deploy_env(direct: str, port: int, tls_port: int) -> dict[str, str]:
    """SHOWCASE_DEPLOY exactly as ``showcase proxy`` sets it for the app it starts."""
    return {"SHOWCASE_DEPLOY": json.dumps(deployment(direct, port, tls_port))}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The app on a port chosen first (SHOWCASE_DEPLOY must name it before it starts), nginx
    in front of it on two more, once for the module."""
    run_dir = tmp_path_factory.mktemp("deploy")
    app_port, port, tls_port = free_port(), free_port(), free_port()
    direct = f"http://127.0.0.1:{app_port}"
    env = deploy_env(direct, port, tls_port)
    # The later --bind wins over start_server's 127.0.0.1:0 (argparse keeps the last).
    app = start_server(run_dir / "gunicorn.log", env=env, extra=["--bind", f"127.0.0.1:{app_port}"])
    try:
        assert app.url == direct
        with start_proxy(app.url, run_dir / "nginx", port, tls_port) as proxy:
            yield Deployed(app, proxy)
    finally:
        app.stop()


@pytest.fixture
def open_tls_page(browser: Browser) -> Iterator[Callable[[str], Page]]:
    """Like conftest's open_page, in a context that accepts nginx's self-signed certificate
    (Playwright's ignore_https_errors: --ignore-certificate-errors for this context alone)."""
    contexts = []
    errors: list[str] = []

    def open_(url: str) -> Page:
        context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(url)
        assert response is not None and response.status == 200, f"GET {url} failed"
        page.wait_for_function("window.showcaseDeploy !== undefined")
        page.wait_for_function("window.showcaseConnections !== undefined")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def lane(page: Page, name: str) -> dict[str, str]:
    """What the page reports for one lane: its data-* attributes and its one line."""
    found: dict[str, str] = page.evaluate(
        """(name) => {
            const lanes = [...document.querySelectorAll("#deploy .lane")];
            const lane = lanes.find((element) => element.dataset.lane === name);
            if (!lane) return null;
            return { ...lane.dataset, line: lane.querySelector('[data-role="line"]').textContent };
        }""",
        name,
    )
    assert found is not None, f"no lane {name!r} on the page"
    return found


def run_lanes(page: Page, mode: str = "sse") -> list[str]:
    """Run every lane on 10 messages 200 ms apart; the lines of the lanes that were queued
    right after the click (waiting for a connection), as the page showed them."""
    page.select_option("#deploy-controls select[name=mode]", mode)
    page.fill("#deploy-controls input[name=count]", "10")
    page.fill("#deploy-controls input[name=interval]", "200")
    page.click('#deploy [data-action="start"]')
    queued: list[str] = page.eval_on_selector_all(
        '#deploy .lane[data-state="queued"] [data-role="line"]',
        "lines => lines.map((line) => line.textContent)",
    )
    page.wait_for_function(
        "document.querySelector('#deploy').dataset.state === 'done'", timeout=RUN_MS
    )
    return queued


@pytest.mark.parametrize("mode", ["sse", "ndjson"])
def test_stock_nginx_batches_what_the_streaming_location_delivers_per_message(
    open_tls_page: Callable[[str], Page], deployed: Deployed, mode: str, screenshots: Path
) -> None:
    page = open_tls_page(f"{deployed.proxy.url}/")  # as `make run-proxy` tells the reader
    expected = {"direct", "compress-naive", "compress-sync"}
    expected |= {f"{loc.name}-{accel}" for loc in LOCATIONS for accel in ("send", "omit")}
    shown = set(page.eval_on_selector_all("#deploy .lane", "ls => ls.map(l => l.dataset.lane)"))
    assert shown == expected
    assert page.locator('#deploy [data-role="no-proxy"]').count() == 0
    queued = run_lanes(page, mode)
    # Ten nginx lanes on the page's own origin, six connections: at least four wait (more if
    # another panel holds one at that moment, a chat health poll say), and say so.
    host = deployed.proxy.url.removeprefix("http://")
    waiting = f"of the 6 connections the browser opens to {host} over HTTP/1.1 are in use"
    assert len(queued) >= 4 and all(waiting in line for line in queued), queued

    page.locator("#deploy").screenshot(path=str(screenshots / f"deploy-{mode}-1280.png"))
    stock = lane(page, "stock-omit")
    assert stock["messages"] == "10"
    assert stock["verdict"] == "batched", stock["line"]
    assert int(stock["reads"]) <= 2
    assert stock["line"].startswith("all 10 messages arrived together")
    assert "nginx buffered the response" in stock["line"]
    assert "Fix: X-Accel-Buffering: no from the app, or proxy_buffering off" in stock["line"]

    for name in ("streaming-send", "streaming-omit", "stock-send", "gzip-omit"):
        streaming = lane(page, name)
        assert streaming["messages"] == "10", (name, streaming["line"])
        assert streaming["verdict"] == "per-message", (name, streaming["line"])
        assert streaming["reads"] == "10"
        assert streaming["line"].startswith("each of the 10 messages arrived on its own")

    ignored = lane(page, "ignore-accel-send")  # the header sent, and ignored
    assert ignored["verdict"] == "batched", ignored["line"]

    sync = lane(page, "compress-sync")  # every message, each decoded on its own
    assert sync["messages"] == "10"
    assert sync["verdict"] == "per-message", sync["line"]
    naive = lane(page, "compress-naive")
    assert naive["messages"] == "10"
    assert naive["verdict"] == "batched", naive["line"]
    assert "Fix: flush the compressor after every message" in naive["line"]


def test_without_nginx_the_view_has_the_direct_lanes_and_says_how_to_add_nginx(
    open_tls_page: Callable[[str], Page], base_url: str
) -> None:
    page = open_tls_page(f"{base_url}/")  # the session's server: no SHOWCASE_DEPLOY
    shown = page.eval_on_selector_all("#deploy .lane", "ls => ls.map(l => l.dataset.lane)")
    assert shown == ["direct", "compress-naive", "compress-sync"]
    assert "make run-proxy" in page.text_content('#deploy [data-role="no-proxy"]')
    assert "make run-proxy" in page.text_content('#connections-demo [data-role="no-proxy"]')
    assert page.locator('#connections-demo .conn-row[data-row="h2"]').count() == 0
    run_lanes(page)
    assert lane(page, "direct")["verdict"] == "per-message"
    assert lane(page, "compress-sync")["messages"] == "10"
    assert lane(page, "compress-naive")["verdict"] == "batched"  # no nginx needed to show it


def test_chromium_holds_the_seventh_eventsource_over_http1_not_over_http2(
    open_tls_page: Callable[[str], Page], deployed: Deployed, screenshots: Path
) -> None:
    page = open_tls_page(f"{deployed.proxy.url}/")
    h1 = "#connections-demo .conn-row[data-row='h1']"
    h2 = "#connections-demo .conn-row[data-row='h2']"
    page.click('#connections-demo [data-action="start"]')
    # Six receive straight to the app; the other four wait in Chromium's queue, with no error.
    page.wait_for_function(f"document.querySelector(\"{h1}\").dataset.receiving === '6'")
    assert page.get_attribute(h1, "data-pending") == "4"
    assert page.get_attribute(h1, "data-errors") == "0"
    page.locator("#connections-demo").screenshot(path=str(screenshots / "connections-1280.png"))
    page.wait_for_function(
        "document.querySelector('#connections-demo').dataset.state === 'done'", timeout=RUN_MS
    )
    assert page.get_attribute(h1, "data-peak") == "6"
    assert page.get_attribute(h1, "data-done") == "10"
    assert page.get_attribute(h2, "data-peak") == "10"  # HTTP/2: all ten at once
    assert page.get_attribute(h2, "data-done") == "10"
    assert page.get_attribute(h2, "data-errors") == "0"
    assert "the other 4 waited" in (page.text_content(f"{h1} [data-role=line]") or "")
    assert "all 10 received at once" in (page.text_content(f"{h2} [data-role=line]") or "")


def test_the_http1_row_on_the_pages_own_origin_holds_the_pages_connections(
    open_tls_page: Callable[[str], Page], base_url: str
) -> None:
    """Opened straight from the app, the HTTP/1.1 row overfills the page's origin on purpose:
    meanwhile a panel's Start is refused with a reason, not left waiting in Chromium's queue."""
    page = open_tls_page(f"{base_url}/")
    assert page.is_visible('#connections-demo [data-role="shared"]')
    h1 = "#connections-demo .conn-row[data-row='h1']"
    page.click('#connections-demo [data-action="start"]')
    page.wait_for_function(f"document.querySelector(\"{h1}\").dataset.receiving === '6'")
    assert page.get_attribute("#connections", "data-open") == "6"  # the page's meter
    page.click('#panel-sse [data-action="start"]')
    assert page.get_attribute("#panel-sse", "data-state") == "error"
    assert (page.text_content('#panel-sse [data-role="status"]') or "").startswith("refused")
    page.wait_for_function(
        "document.querySelector('#connections-demo').dataset.state === 'done'", timeout=RUN_MS
    )
    assert page.get_attribute(h1, "data-peak") == "6"
    assert page.get_attribute("#connections", "data-open") == "0"  # all given back


def test_deploy_settings_show_as_text_never_markup(
    open_tls_page: Callable[[str], Page], tmp_path: Path
) -> None:
    """A location name with markup (SHOWCASE_DEPLOY is the operator's text) is shown as text, and
    a lane's failure (nothing listens where it points) is reported as text too."""
    markup = '<img src=x onerror="window.deployInjected=1"><b>bold</b>'
    env = deploy_env("http://127.0.0.1:1", 1, 1)  # nothing listens there: every lane fails
    deploy = json.loads(env["SHOWCASE_DEPLOY"])
    deploy["locations"] = {markup: "/x/"}
    app = start_server(tmp_path / "gunicorn.log", env={"SHOWCASE_DEPLOY": json.dumps(deploy)})
    try:
        page = open_tls_page(f"{app.url}/")
        names = page.locator("#deploy .lane .lane-name")
        assert names.nth(3).text_content() == f"nginx {markup} /x/ · header sent"
        assert page.get_attribute('#deploy .lane[data-lane$="-send"]', "data-kind") == markup
        run_lanes(page)
        failed = lane(page, f"{markup}-send")
        assert failed["verdict"] == "error"
        assert failed["line"].startswith("failed: ")
        assert page.locator("#deploy img, #deploy b, #connections-demo img").count() == 0
        assert page.evaluate("window.deployInjected === undefined")
    finally:
        app.stop()


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[]",
        '{"direct": "http://127.0.0.1:1", "proxy": "http://127.0.0.1:2", "locations": {}}',
        '{"direct": "ftp://a", "proxy": "http://b", "tls": "https://c", "locations": {}}',
        '{"direct": "http://a", "proxy": "http://b", "tls": "https://c", "locations": []}',
        '{"direct": "http://a", "proxy": "http://b", "tls": "https://c", "locations": {"x": "x"}}',
    ],
)
def test_a_missing_or_malformed_deploy_setting_leaves_the_direct_lanes_only(
    text: str | None,
) -> None:
    assert read_deploy(text) is None


def test_the_deploy_setting_carries_each_known_location_summary_and_fix() -> None:
    deploy = read_deploy(json.dumps(deployment("http://127.0.0.1:8000/", 8080, 8443)))
    assert deploy is not None
    assert deploy["direct"] == "http://127.0.0.1:8000"  # no trailing slash: paths follow
    assert [loc["name"] for loc in deploy["locations"]] == [loc.name for loc in LOCATIONS]
    stock = next(loc for loc in deploy["locations"] if loc["name"] == "stock")
    assert stock["prefix"] == "/stock/" and "X-Accel-Buffering" in stock["fix"]
