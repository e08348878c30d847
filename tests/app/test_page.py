"""The page through Flask's test client: it renders, every asset it names is served (so a test
cannot pass on a 404), every file under static/ is used, and the wire and guide routes answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from showcase.tools.wire import WireCapture, WireRead
from showcase.web import ROOT, page
from showcase.web.page import GUIDE_PATH, render_markdown

STATIC = ROOT / "static"
ASSET_URL = re.compile(r"""(?:src|href)="(/static/[^"]+)"|import[^"]*"(/static/[^"]+)\"""")
JS_IMPORT = re.compile(r"""^import .*? from "(\./[^"]+)";$""", re.MULTILINE)


def fetch_asset(client: FlaskClient, url: str) -> str:
    """The asset's text; it must be served (200). Closed at once: static files are open files."""
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.get_data(as_text=True)


def page_assets(client: FlaskClient) -> tuple[str, set[str]]:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    html = response.get_data(as_text=True)
    return html, {a or b for a, b in ASSET_URL.findall(html)}


def test_page_has_every_panel_and_start_all(client: FlaskClient) -> None:
    html, _ = page_assets(client)
    for mode in ("sse", "sse-fetch", "ndjson", "chunked", "download", "ws", "poll"):
        assert f'data-mode="{mode}" data-state="idle"' in html
    assert 'data-action="start-all"' in html
    assert "https://" not in re.sub(r'href="https://developer\.mozilla\.org[^"]*"', "", html), (
        "every asset comes from this app: the only external links are MDN references"
    )


def test_page_gives_the_ws_and_poll_panels_their_urls_and_budget(client: FlaskClient) -> None:
    html, _ = page_assets(client)
    # The URLs reach the script as JSON, paths on this origin (ws.js makes the ws:// one).
    assert '"ws": "/ws"' in html
    assert '"poll": "/poll"' in html
    ws_note = html.split('data-budget="ws">', 1)[1].split("</p>", 1)[0]
    poll_note = html.split('data-budget="poll">', 1)[1].split("</p>", 1)[0]
    assert "not one of the six" in ws_note and "handshake" in ws_note
    assert "holds one of the six" in poll_note
    assert "https://developer.mozilla.org/en-US/docs/Web/API/WebSocket" in html
    assert '<input type="checkbox" data-role="short">' in html  # short polling: wait=0
    assert 'data-role="every-ms"' in html


def test_page_says_what_latency_measures(client: FlaskClient) -> None:
    html, _ = page_assets(client)
    note = html.split('id="what-latency-measures"', 1)[1].split("</p>", 1)[0]
    assert "Web Worker" in note and "<code>ts</code>" in note
    assert "10,000" in note  # the percentiles' sample, as static/js/stats.js keeps it


def test_every_asset_is_served_and_every_static_file_is_used(client: FlaskClient) -> None:
    _, urls = page_assets(client)
    # Follow the ES module graph from the entry point: what the browser will fetch.
    pending = [url for url in urls if url.endswith(".js")]
    while pending:
        url = pending.pop()
        base = url.rsplit("/", 1)[0]
        for relative in JS_IMPORT.findall(fetch_asset(client, url)):
            target = f"{base}/{relative.removeprefix('./')}"
            if target not in urls:
                urls.add(target)
                pending.append(target)
    for url in urls:
        fetch_asset(client, url)
    on_disk = {
        f"/static/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*") if p.is_file()
    }
    assert on_disk - urls == set(), "files under static/ that the page never loads"
    assert urls - on_disk == set()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/wire/nope", "mode"),
        ("/wire/chunked?count=x", "count"),
        ("/wire/sse?limit=0", "limit"),
        ("/wire/ndjson?limit=70000", "limit"),
        ("/wire/sse?source=gopher", "source"),
        ("/wire/ws?count=x", "count"),
        ("/wire/poll?interval=-1", "interval"),
    ],
)
def test_wire_rejects_bad_parameters(client: FlaskClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_wire_needs_a_real_socket(client: FlaskClient) -> None:
    # The test client has no socket, and the Host header must never choose where to connect.
    response = client.get("/wire/chunked", headers={"Host": "127.0.0.1:22"})
    assert response.status_code == 503
    assert response.get_json()["field"] == "server"
    assert response.get_json()["error"] == "service unavailable"


def wire_request(client: FlaskClient, monkeypatch: pytest.MonkeyPatch, query: str) -> str:
    """The request line the wire view sends for ``/wire/ndjson?<query>``, over a fake socket."""
    sent: list[bytes] = []

    def fake_capture(host: str, port: int, request: bytes, **_: object) -> WireCapture:
        sent.append(request)
        return WireCapture(request, [WireRead(1.0, b"HTTP/1.1 204 No Content\r\n\r\n")], True)

    monkeypatch.setattr(page, "own_address", lambda: ("127.0.0.1", 9))
    monkeypatch.setattr(page, "capture", fake_capture)
    response = client.get(f"/wire/ndjson?{query}")
    assert response.status_code == 200
    assert response.get_json()["complete"] is True
    [request] = sent
    return request.decode("ascii").split("\r\n")[0]


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("", "/stream/ndjson?count=5&interval=20"),
        ("count=3&interval=0&flush=each", "/stream/ndjson?count=3&interval=0&flush=each"),
        ("flush=auto&heartbeat=0.5", "/stream/ndjson?count=5&interval=20&flush=auto&heartbeat=0.5"),
        (
            "interval=12345.678&size=7&source=text",
            "/stream/ndjson?count=5&interval=12345.678&size=7&source=text",
        ),
    ],
)
def test_wire_passes_the_stream_parameters_through(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, query: str, target: str
) -> None:
    assert wire_request(client, monkeypatch, query) == f"GET {target} HTTP/1.1"


@pytest.mark.parametrize(
    ("query", "field"), [("flush=never", "flush"), ("heartbeat=0", "heartbeat")]
)
def test_wire_refuses_what_the_stream_would(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, query: str, field: str
) -> None:
    monkeypatch.setattr(page, "own_address", lambda: ("127.0.0.1", 9))
    response = client.get(f"/wire/sse?{query}")
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_guide(client: FlaskClient) -> None:
    response = client.get("/guide/")
    if GUIDE_PATH.is_file():
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1 id=" in page and "<table>" in page
        images = re.findall(r'<img src="([^"]+)"', page)
        assert images, "the guide shows its plots"
        for src in images:
            image = client.get(f"/guide/{src}")
            assert image.status_code == 200, src
            assert image.content_type == "image/png"
            image.close()
    else:
        assert response.status_code == 404
        assert response.get_json()["field"] == "guide"
        assert response.get_json()["error"] == "not found"


GENERATED_NOTE = """# Title

<!-- Generated by `make guide` from benchmarks/report/guide_template.md
     and the JSON results. Edit the template, not this file. -->

Text.

```html
<!-- a comment shown as code stays -->
```
"""


def test_guide_hides_html_comments(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    guide = tmp_path / "choosing.md"
    guide.write_text(GENERATED_NOTE, encoding="utf-8")
    monkeypatch.setattr(page, "GUIDE_PATH", guide)
    response = client.get("/guide/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Generated by" not in html
    assert "Edit the template" not in html
    assert '<h1 id="title">Title</h1>' in html and "<p>Text.</p>" in html
    assert "&lt;!-- a comment shown as code stays --&gt;" in html


def test_the_real_guide_shows_no_comment(client: FlaskClient) -> None:
    # The guide is committed (make guide writes it from docs/results/): its absence is a failure.
    assert GUIDE_PATH.is_file(), "docs/choosing.md is missing: run `make guide`"
    response = client.get("/guide/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Generated by <code>make guide</code>" not in html  # the comment's first line
    assert "&lt;!--" not in html


def test_markdown_escapes_what_it_renders() -> None:
    html = render_markdown(
        "# A <b>title</b>\n\nText with `code` and [a link](javascript:alert(1)).\n\n"
        "- one\n- two\n\n```\n<script>x</script>\n```\n| a | b |\n|---|---|\n"
    )
    assert '<h1 id="a-btitleb">A &lt;b&gt;title&lt;/b&gt;</h1>' in html
    assert "<code>code</code>" in html
    assert 'href="javascript:' not in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "<th>a</th>" in html and "<th>b</th>" in html


def test_every_link_of_the_guide_to_a_file_beside_it_answers(client: FlaskClient) -> None:
    # The guide links its sources (results/*.json), chat.md, hub.md and nginx.conf beside it;
    # a wheel carries them too, so each must be served, not only the plots.
    assert GUIDE_PATH.is_file(), "docs/choosing.md is missing: run `make guide`"
    html = client.get("/guide/").get_data(as_text=True)
    links = {link for link in re.findall(r'<a href="([^"#:]+)"', html) if not link.startswith("/")}
    assert {"chat.md", "hub.md", "nginx.conf", "results/latency.json"} <= links
    for link in sorted(links):
        with client.get(f"/guide/{link}") as response:
            assert response.status_code == 200, link
            if link.endswith(".md"):
                assert response.content_type.startswith("text/html"), link
                assert "<h1 id=" in response.get_data(as_text=True), link
            elif link.endswith(".json"):
                assert response.content_type == "application/json", link
            else:
                assert response.content_type.startswith("text/plain"), link


def test_guide_documents_are_plain_names_only(client: FlaskClient) -> None:
    for url in ("/guide/..%2Fsetup.cfg", "/guide/results/..%2F..%2Fsetup.cfg", "/guide/nope.md"):
        with client.get(url) as response:
            assert response.status_code == 404, url


def test_guide_images_are_plain_names_only(client: FlaskClient) -> None:
    response = client.get("/guide/img/..%2F..%2Fsetup.cfg")
    assert response.status_code == 404


def test_static_dir_is_where_the_app_serves_from() -> None:
    assert (STATIC / "js" / "main.js").is_file()
    assert Path(ROOT / "templates" / "index.html").is_file()


class FakeSocket:
    """An accepted socket as the server sees it: only ``getsockname`` is read."""

    def __init__(self, address: object) -> None:
        self.address = address

    def getsockname(self) -> object:
        return self.address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (("127.0.0.1", 8000), ("127.0.0.1", 8000)),
        (("127.0.0.2", 8001), ("127.0.0.2", 8001)),  # another loopback address, as it is
        (("10.0.0.5", 8002), ("10.0.0.5", 8002)),  # --bind 10.0.0.5:8002 listens only there
        (("::1", 8003, 0, 0), ("::1", 8003)),
        ("/run/showcase.sock", None),  # a Unix socket: no TCP port to connect to
    ],
)
def test_own_address_is_the_accepted_sockets_own(
    app: Flask, address: object, expected: tuple[str, int] | None
) -> None:
    environ = {"gunicorn.socket": FakeSocket(address)}
    with app.test_request_context("/", environ_base=environ, headers={"Host": "evil:1"}):
        assert page.own_address() == expected


def test_own_address_without_a_socket_is_none(app: Flask) -> None:
    with app.test_request_context("/"):
        assert page.own_address() is None
