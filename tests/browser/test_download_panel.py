"""The download panel: progress to 100 %, cancel and resume with Range + If-Range, and a
SHA-256 computed in the page that matches the file on the server's disk."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_download_cancel_resume_and_checksum(
    open_page: Callable[..., Page], base_url: str, data_dir: Path, screenshots: Path
) -> None:
    page = open_page(f"{base_url}/")
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if "/download/64MiB.bin" in r.url else None)
    panel = "#panel-download"
    page.select_option(f"{panel} [data-role=file]", "64MiB.bin")
    page.select_option(f"{panel} [data-role=generated-size]", "1048576")
    page.select_option(f"{panel} [data-role=rate]", "16")  # slow enough to cancel in time
    page.click(f"{panel} [data-action=start]")
    page.wait_for_function(
        "Number(document.getElementById('panel-download').dataset.percent) >= 5", timeout=60_000
    )
    page.screenshot(path=str(screenshots / "download-1280x800.png"))
    page.click(f"{panel} [data-action=cancel]")
    # Paused: the generated download (1 MiB) is done, the file is not.
    page.wait_for_function("document.getElementById('panel-download').dataset.state === 'idle'")
    assert page.get_attribute(f"{panel} [data-download=file]", "data-state") == "idle"
    paused_at = int(page.get_attribute(panel, "data-bytes") or 0)
    assert 0 < paused_at < 1 << 26
    assert page.is_enabled(f"{panel} [data-action=resume]")

    page.click(f"{panel} [data-action=resume]")
    page.wait_for_function(
        "document.getElementById('panel-download').dataset.sha256 !== ''", timeout=60_000
    )
    assert page.get_attribute(panel, "data-state") == "done"
    assert page.get_attribute(panel, "data-percent") == "100"
    assert page.get_attribute(panel, "data-resumes") == "1"
    assert page.get_attribute(panel, "data-bytes") == str(1 << 26)
    assert page.get_attribute(f"{panel} [data-download=generated]", "data-state") == "done"
    assert page.get_attribute(panel, "data-generated-bytes") == str(1 << 20)

    expected = hashlib.sha256((data_dir / "64MiB.bin").read_bytes()).hexdigest()
    assert page.get_attribute(panel, "data-sha256") == expected
    # The resume was a range request tied to the ETag, answered with 206.
    ranged = [r for r in requests if "range" in r.headers]
    assert len(ranged) == 1
    assert ranged[0].headers["range"] == f"bytes={paused_at}-"
    assert ranged[0].headers["if-range"].startswith('"')
    response = ranged[0].response()
    assert response is not None and response.status == 206
