"""Downloads from the real server: traversal refused, Range/If-Range/416, zero-copy proved
from the worker's /proc/<pid>/io, a flat 1 GiB."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
import requests

from benchmarks.infra.procfs import io_counters, rss_bytes
from showcase.tools.launcher import RunningServer
from tests.integration.wire import fetch_raw

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
MIB = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(MIB):
            digest.update(piece)
    return digest.hexdigest()


@pytest.mark.parametrize(
    "target",
    [
        "/download/../setup.cfg",
        "/download/..%2Fsetup.cfg",
        "/download/%2e%2e%2fsetup.cfg",
        "/download/%2e%2e/%2e%2e/etc/passwd",
        "/download/..%5c..%5csetup.cfg",
        "/download/%2Fetc%2Fpasswd",
        "/download/1MiB.bin%00",
        "/download/.hidden",
    ],
)
def test_names_that_leave_the_data_dir_are_refused(base_url: str, target: str) -> None:
    status, _, body = fetch_raw(base_url, target)
    assert status in (400, 404)
    assert b"[metadata]" not in body and b"root:" not in body


def test_symlink_out_of_the_data_dir_is_refused(base_url: str, data_dir: Path) -> None:
    (data_dir / "escape.txt").symlink_to("/etc/hostname")
    status, _, body = fetch_raw(base_url, "/download/escape.txt")
    assert status == 404
    assert json.loads(body)["detail"] == "no such file"
    assert Path("/etc/hostname").read_bytes().strip() not in body


def test_interrupted_download_resumes_byte_identical(base_url: str, data_dir: Path) -> None:
    url = f"{base_url}/download/64MiB.bin"
    first = requests.get(url, stream=True, timeout=30)
    assert first.status_code == 200
    assert first.headers["Content-Length"] == str(64 * MIB)
    etag = first.headers["ETag"]
    got = bytearray()
    for piece in first.iter_content(256 * 1024):
        got += piece
        if len(got) >= 5 * MIB + 123:
            break  # the connection drops mid-file
    first.close()
    rest = requests.get(url, headers={"Range": f"bytes={len(got)}-", "If-Range": etag}, timeout=30)
    assert rest.status_code == 206
    assert rest.headers["Content-Range"] == f"bytes {len(got)}-{64 * MIB - 1}/{64 * MIB}"
    whole = bytes(got) + rest.content
    assert hashlib.sha256(whole).hexdigest() == sha256_file(data_dir / "64MiB.bin")


def test_if_range_with_a_stale_etag_sends_the_whole_file(base_url: str) -> None:
    url = f"{base_url}/download/1MiB.bin"
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200
    stale = requests.get(url, headers={"Range": "bytes=100-", "If-Range": '"stale"'}, timeout=10)
    assert stale.status_code == 200
    assert stale.content == whole.content
    middle = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert middle.status_code == 206 and middle.content == whole.content[100:200]


def test_unsatisfiable_range_is_416(base_url: str) -> None:
    response = requests.get(
        f"{base_url}/download/1MiB.bin", headers={"Range": f"bytes={2 * MIB}-"}, timeout=10
    )
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{MIB}"


def test_generated_download_is_chunked_without_length(base_url: str) -> None:
    status, headers, body = fetch_raw(base_url, "/download/generated?size=5000000")
    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers and "accept-ranges" not in headers
    assert len(body) == 5_000_000


def worker_io_growth(server: RunningServer, path: str, size: int) -> dict[str, int]:
    """How the worker's /proc/<pid>/io counters grew over one whole GET of ``path``."""
    worker = server.worker_pids[0]
    before = io_counters(worker)
    received = 0
    with requests.get(f"{server.url}{path}", stream=True, timeout=60) as response:
        assert response.status_code == 200
        for piece in response.iter_content(MIB):
            received += len(piece)
    after = io_counters(worker)
    assert received == size
    return {name: after[name] - before[name] for name in after}


def went_through_sendfile(growth: dict[str, int], size: int) -> bool:
    """The kernel counts a ``sendfile`` call as one read and one write of the file's bytes
    (``syscr``, ``syscw``, ``wchar``; fs/read_write.c) and a socket ``send()`` as no write at
    all. So: the file's bytes were written, and read and written in few calls, at least
    64 KiB each on average. gevent's own ``sendfile`` (an 8 KiB read and ``send()`` loop)
    makes 8,193 reads and writes nothing for 64 MiB; measured with the patch left out."""
    most_calls = size // (64 * 1024)
    return (
        growth["wchar"] >= size and growth["syscw"] <= most_calls and growth["syscr"] <= most_calls
    )


def test_downloads_go_through_sendfile_and_the_check_sees_a_copy(server: RunningServer) -> None:
    size = 64 * MIB
    requests.head(f"{server.url}/download/64MiB.bin", timeout=60)  # make the sample first
    zero_copy = worker_io_growth(server, "/download/64MiB.bin", size)
    copied = worker_io_growth(server, "/baseline/download/64MiB.bin", size)
    assert went_through_sendfile(zero_copy, size), zero_copy
    # The same check on the Python generator route: the file is read into the worker and
    # sent with send(), so it must fail there, or it proves nothing.
    assert not went_through_sendfile(copied, size), copied
    assert copied["wchar"] < MIB and copied["syscr"] >= 64  # read in pieces, never sendfile


@pytest.mark.slow
def test_1gib_download_keeps_server_memory_flat(server: RunningServer, data_dir: Path) -> None:
    url = f"{server.url}/download/1GiB.bin"
    requests.head(url, timeout=60)  # make the sample before measuring
    worker = server.worker_pids[0]
    samples: list[int] = []
    done = threading.Event()

    def sample_rss() -> None:
        while not done.is_set():
            samples.append(rss_bytes(worker))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample_rss)
    baseline = rss_bytes(worker)
    sampler.start()
    digest = hashlib.sha256()
    received = 0
    try:
        with requests.get(url, stream=True, timeout=60) as response:
            assert response.status_code == 200
            for piece in response.iter_content(MIB):
                digest.update(piece)
                received += len(piece)
    finally:
        done.set()
        sampler.join()
    assert received == 1 << 30
    assert digest.hexdigest() == sha256_file(data_dir / "1GiB.bin")
    growth = max(samples) - baseline
    assert len(samples) > 3
    # Flat: the file never passes through the worker's memory (sendfile); allow noise.
    assert growth < 4 * MIB, f"worker RSS grew {growth // 1024} KiB serving 1 GiB"
