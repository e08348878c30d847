"""Download views through the test client: names that escape, ranges, the generated route."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from showcase.runtime.files import iter_sample_bytes


def fetch(
    client: FlaskClient, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, with the response closed (it may hold a file open)."""
    with client.get(url, headers=headers or {}) as response:
        return response.status_code, dict(response.headers), response.get_data()


def sample_digest(size: int) -> str:
    digest = hashlib.sha256()
    for piece in iter_sample_bytes(size):
        digest.update(piece)
    return digest.hexdigest()


def test_list_shows_the_samples(client: FlaskClient) -> None:
    response = client.get("/download")
    assert response.status_code == 200
    names = {entry["name"]: entry for entry in response.get_json()["files"]}
    assert names["1MiB.bin"]["size"] == 1 << 20
    assert names["64MiB.bin"]["size"] == 1 << 26
    assert names["1GiB.bin"]["size"] == 1 << 30


def test_sample_is_made_on_first_use_and_checksums(client: FlaskClient, app: Flask) -> None:
    status, headers, data = fetch(client, "/download/1MiB.bin")
    assert status == 200
    assert headers["Content-Length"] == str(1 << 20)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"] and headers["Last-Modified"]
    assert hashlib.sha256(data).hexdigest() == sample_digest(1 << 20)
    assert (Path(app.config["SHOWCASE_DATA_DIR"]) / "1MiB.bin").stat().st_size == 1 << 20


def test_range_if_range_and_416(client: FlaskClient) -> None:
    _, headers, full = fetch(client, "/download/1MiB.bin")
    etag = headers["ETag"]
    status, headers, part = fetch(client, "/download/1MiB.bin", {"Range": "bytes=1000-"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-{(1 << 20) - 1}/{1 << 20}"
    assert part == full[1000:]
    status, _, same = fetch(
        client, "/download/1MiB.bin", {"Range": "bytes=10-19", "If-Range": etag}
    )
    assert status == 206 and same == full[10:20]
    status, _, stale = fetch(
        client, "/download/1MiB.bin", {"Range": "bytes=10-19", "If-Range": '"old"'}
    )
    assert status == 200 and stale == full
    status, headers, _ = fetch(client, "/download/1MiB.bin", {"Range": f"bytes={1 << 21}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{1 << 20}"


@pytest.mark.parametrize(
    "name",
    [
        "../setup.cfg",
        "..%2Fsetup.cfg",
        "%2e%2e/setup.cfg",
        "..",
        ".hidden",
        "a/b",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%5Csetup.cfg",
        "1MiB.bin%00.txt",
    ],
)
def test_names_that_leave_the_directory_are_refused(client: FlaskClient, name: str) -> None:
    status, _, data = fetch(client, f"/download/{name}")
    assert status in (400, 404)
    assert json.loads(data)["field"] in ("name", None)


def test_symlink_pointing_out_is_refused(client: FlaskClient, app: Flask, tmp_path: Path) -> None:
    data = Path(app.config["SHOWCASE_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    os.symlink(secret, data / "link.txt")
    status, _, data = fetch(client, "/download/link.txt")
    assert status == 404
    assert b"do not serve" not in data
    listed = [entry["name"] for entry in client.get("/download").get_json()["files"]]
    assert "link.txt" not in listed


def test_generated_is_chunked_with_no_length(client: FlaskClient) -> None:
    response = client.get("/download/generated?size=300000")
    assert response.status_code == 200
    assert "Content-Length" not in response.headers
    assert len(response.get_data()) == 300000
    bad = client.get("/download/generated?size=-1")
    assert bad.status_code == 400 and bad.get_json()["field"] == "size"


@pytest.mark.parametrize("prefix", ["", "/baseline"])
@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("nothing-here.bin", 404, "not found"),
        (".hidden", 400, "invalid name"),
        ("1MiB.bin%00.txt", 400, "invalid name"),
    ],
)
def test_each_error_names_what_happened(
    client: FlaskClient, prefix: str, name: str, status: int, error: str
) -> None:
    got_status, headers, data = fetch(client, f"{prefix}/download/{name}")
    assert got_status == status
    assert headers["Content-Type"] == "application/json"
    body = json.loads(data)
    assert body["error"] == error
    assert body["field"] == "name"
    assert body["detail"]


def test_a_bad_size_is_an_invalid_parameter(client: FlaskClient) -> None:
    status, _, data = fetch(client, "/download/generated?size=1_000")
    assert status == 400
    assert json.loads(data) == {
        "error": "invalid parameter",
        "field": "size",
        "detail": "expected an integer from 0 to 17179869184, got '1_000'",
    }
