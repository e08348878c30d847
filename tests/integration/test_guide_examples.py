"""The guide's copyable examples: each code block of the GENERATED guide is its file in
docs/examples/, every server example runs under real gunicorn + gevent, and every Python client
gets its messages from it (the SSE one resuming after a cut connection)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks import guide
from benchmarks.report.examples import EXAMPLES, example_files
from showcase.tools.launcher import RunningServer, start_server
from tests.integration.wire import CutProxy

MARKER = re.compile(r"^<!-- example: (docs/examples/[\w.]+) -->$")
EXAMPLES_APP = "tests.integration.examples_app:app"
CLIENT_TIMEOUT_S = 30.0
DOWNLOAD_BYTES = 5 * 1024 * 1024 + 7  # several reads, and not a round number
MESSAGES = [f"message {n}" for n in range(5)]
POLL_WAIT_S = 20.0  # WAIT_S of docs/examples/poll_server.py


def extract_examples(text: str) -> dict[str, str]:
    """Each marker's file name and the code block right below it, as the file would read."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = MARKER.match(line)
        if match is None:
            continue
        assert lines[number + 1].startswith("```"), f"no code block after {line}"
        end = lines.index("```", number + 2)
        found[match.group(1)] = "\n".join(lines[number + 2 : end]) + "\n"
    return found


@pytest.fixture(scope="module")
def download_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("downloads")
    (folder / "sample.bin").write_bytes(bytes(range(256)) * (DOWNLOAD_BYTES // 256) + b"tail!!!")
    return folder


@pytest.fixture(scope="module")
def examples_server(
    tmp_path_factory: pytest.TempPathFactory, download_folder: Path
) -> Iterator[RunningServer]:
    log_path = tmp_path_factory.mktemp("examples") / "gunicorn.log"
    env = {"DOWNLOAD_FOLDER": str(download_folder)}
    running = start_server(log_path, app=EXAMPLES_APP, env=env)
    yield running
    running.stop()


def run_client(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(EXAMPLES / name), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)


def test_every_example_in_the_generated_guide_equals_its_file(tmp_path: Path) -> None:
    out = tmp_path / "choosing.md"
    assert guide.main(["--out", str(out)]) == 0
    found = extract_examples(out.read_text(encoding="utf-8"))
    files = {f"docs/examples/{path.name}": path for path in example_files()}
    assert sorted(found) == sorted(files)
    assert sorted(files) == sorted(f"docs/examples/{p.name}" for p in EXAMPLES.iterdir())
    for name, path in files.items():
        assert found[name] == path.read_text(encoding="utf-8"), name


def test_the_committed_guide_shows_the_examples_as_they_are() -> None:
    found = extract_examples(Path("docs/choosing.md").read_text(encoding="utf-8"))
    for path in example_files():
        assert found[f"docs/examples/{path.name}"] == path.read_text(encoding="utf-8"), path


def test_every_server_example_is_under_20_lines() -> None:
    for path in EXAMPLES.glob("*_server.py"):
        code = [line for line in path.read_text().split("\n") if line.strip()]
        assert len(code) <= 20, f"{path.name}: {len(code)} lines"


def test_sse_server_sends_its_headers_ids_and_resumes_after_last_event_id(
    examples_server: RunningServer,
) -> None:
    url = f"{examples_server.url}/sse"
    response = requests.get(url, headers={"Last-Event-ID": "2"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.text == "id: 3\ndata: message 3\n\nid: 4\ndata: message 4\n\n"
    assert requests.get(url, headers={"Last-Event-ID": "4"}, timeout=10).status_code == 204
    # Not an ASCII digit; more digits than int() takes from a string (a 500 if it tried).
    for hostile in ("²", "9" * 5000):
        bad = requests.get(url, headers={"Last-Event-ID": hostile}, timeout=10)
        assert bad.status_code == 200
        assert bad.text.startswith("id: 0\n")


def test_sse_python_client_gets_every_message_once_across_a_cut_connection(
    examples_server: RunningServer,
) -> None:
    proxy = CutProxy(examples_server.url)
    try:
        argv = [sys.executable, str(EXAMPLES / "sse_client.py"), f"{proxy.url}/sse"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as client:
            assert client.stdout is not None
            first = [client.stdout.readline().rstrip("\n") for _ in range(2)]
            proxy.cut()
            rest, _ = client.communicate(timeout=CLIENT_TIMEOUT_S)
        assert client.returncode == 0
        assert first + rest.splitlines() == MESSAGES
        heads = [head.decode("latin-1").lower() for head in proxy.requests]
        assert any("last-event-id: 1\r\n" in head for head in heads), heads
        assert "last-event-id: 4\r\n" in heads[-1]  # the end: the server's 204 stops it
    finally:
        proxy.close()


def test_ndjson_server_and_python_client(examples_server: RunningServer) -> None:
    url = f"{examples_server.url}/ndjson"
    head = requests.get(url, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Type"] == "application/x-ndjson"
    result = run_client("ndjson_client.py", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{n} message {n}" for n in range(5)]


def test_chunked_server_and_python_client(examples_server: RunningServer) -> None:
    url = f"{examples_server.url}/chunked"
    head = requests.get(url, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Type"].startswith("text/plain")
    assert head.headers["Transfer-Encoding"] == "chunked"
    assert head.headers["X-Content-Type-Options"] == "nosniff"
    result = run_client("chunked_client.py", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == MESSAGES


def test_download_server_and_python_client(
    examples_server: RunningServer, download_folder: Path, tmp_path: Path
) -> None:
    url = f"{examples_server.url}/download/sample.bin"
    sample = (download_folder / "sample.bin").read_bytes()
    head = requests.head(url, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(sample))
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206
    assert part.content == sample[10:20]
    outside = requests.get(f"{examples_server.url}/download/..%2Fetc%2Fpasswd", timeout=10)
    assert outside.status_code == 404
    result = run_client("download_client.py", url, str(tmp_path / "copy.bin"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "copy.bin").read_bytes() == sample


def test_ws_server_and_python_client(examples_server: RunningServer) -> None:
    url = examples_server.url.replace("http://", "ws://") + "/ws"
    result = run_client("ws_client.py", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"echo: hello {n}" for n in range(3)]


def test_poll_server_waits_then_answers_and_python_client_follows(
    examples_server: RunningServer,
) -> None:
    url = f"{examples_server.url}/poll"
    first = requests.get(url, params={"after": "junk"}, timeout=30)  # junk: from the start
    assert first.status_code == 200
    latest = first.json()[-1]["id"]
    assert [m["id"] for m in first.json()] == list(range(max(0, latest - 99), latest + 1))
    following = requests.get(url, params={"after": latest}, timeout=30)  # waits for the next
    assert following.status_code == 200
    assert following.json()[0] == {"id": latest + 1, "data": f"message {latest + 1}"}
    argv = [sys.executable, str(EXAMPLES / "poll_client.py"), url]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as client:
        assert client.stdout is not None
        ids = [int(client.stdout.readline().split()[0]) for _ in range(3)]
        client.terminate()
    assert ids == list(range(ids[0], ids[0] + 3))


def test_poll_server_answers_an_empty_list_after_its_wait_bound_even_for_a_huge_after(
    examples_server: RunningServer,
) -> None:
    started = time.monotonic()
    response = requests.get(f"{examples_server.url}/poll", params={"after": 10**30}, timeout=40)
    elapsed_s = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == []
    assert POLL_WAIT_S - 1 < elapsed_s < POLL_WAIT_S + 5
