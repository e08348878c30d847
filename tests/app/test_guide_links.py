"""Every link of the rendered guide works: starting at ``/guide/``, each link to this server
(relative or absolute, in the guide and in the documents it links) answers 200, and each
``#anchor`` names an element of the page it points into."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from flask.testing import FlaskClient

from showcase.tools.bench import NAMES as BENCHMARK_NAMES
from showcase.web import page

LINK = re.compile(r'<(?:a|img|link)\b[^>]*?\b(?:href|src)="([^"]*)"')
PAGES_MAX = 50  # the crawl is bounded: a loop of links cannot run for ever


def links_of(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in LINK.findall(html)]


def test_every_link_reachable_from_the_guide_answers_and_every_anchor_exists(
    client: FlaskClient,
) -> None:
    assert page.GUIDE_PATH.is_file(), "docs/choosing.md is missing: run `make guide`"
    pages: dict[str, str] = {}
    queue = ["/guide/"]
    anchors: list[tuple[str, str, str]] = []  # (from, page, fragment)
    checked: set[str] = set()
    while queue and len(pages) < PAGES_MAX:
        url = queue.pop(0)
        with client.get(url) as response:
            assert response.status_code == 200, url
            pages[url] = response.get_data(as_text=True)
        for link in links_of(pages[url]):
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue  # another site: not this server's to answer
            target = urljoin(url, parts.path) if parts.path else url
            if parts.fragment:
                anchors.append((url, target, parts.fragment))
            if target in checked or target in pages:
                continue
            checked.add(target)
            if target.startswith("/guide/") and target.endswith((".md", "/")):
                queue.append(target)  # a document: its links count too
                continue
            with client.get(target) as response:
                assert response.status_code == 200, f"{target} (linked from {url})"
    assert {"/guide/chat.md", "/guide/hub.md", "/guide/contract.md"} <= set(pages)
    assert anchors, "the documents link some of their sections"
    for source, target, fragment in anchors:
        html = pages.get(target) or client.get(target).get_data(as_text=True)
        assert f'id="{fragment}"' in html, f"#{fragment} of {target} (linked from {source})"


def test_the_allow_lists_name_every_plot_result_and_linked_document() -> None:
    docs = page.GUIDE_PATH.parent
    # Every benchmark the suite publishes, whether or not this checkout has its file yet.
    assert set(page.GUIDE_BENCHMARKS) == set(BENCHMARK_NAMES) - {"suite"}
    assert {p.stem for p in (docs / "results").glob("*.json")} <= set(page.GUIDE_BENCHMARKS)
    assert {p.stem for p in (docs / "img").glob("*.png")} <= set(page.GUIDE_BENCHMARKS)
    assert sorted(page.GUIDE_DOCUMENTS) == sorted(
        [p.name for p in docs.glob("*.md")] + ["nginx.conf"]
    )


def test_a_file_in_docs_off_the_allow_list_is_not_served(client: FlaskClient) -> None:
    for url in ("/guide/results/README.md", "/guide/img/README.md", "/guide/results"):
        with client.get(url) as response:
            assert response.status_code == 404, url
    assert (page.GUIDE_PATH.parent / "results" / "README.md").is_file()  # it exists, unserved


def test_headings_get_github_anchors_and_repeats_are_numbered(client: FlaskClient) -> None:
    html = page.render_markdown("# `GET /ws/chat` and `GET /ws/room?room=R`\n\n## A\n\n## A\n")
    assert '<h1 id="get-wschat-and-get-wsroomroomr">' in html
    assert '<h2 id="a">' in html and '<h2 id="a-1">' in html
