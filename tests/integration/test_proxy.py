"""Real nginx in front of the app (``showcase.tools.proxy``): what each location does to a stream,
asserted on batching (messages completed per socket read) and order, not on time.

A 2 s stream (10 messages, 200 ms apart) is read read by read: one or two reads carrying
every message means the proxy held the response; about one read per message means it
passed each on as it came.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.tools.client import HTTPStatusError
from showcase.tools.proxy import LOCATIONS, NginxError, start_proxy
from showcase.tools.proxy.nginx import free_port
from showcase.tools.ws_poll_client import iter_ws
from tests.integration.proxy_server import (
    ProxiedApp,
    StreamReads,
    app_behind_nginx,
    curl_http2_reads,
    read_stream,
)

pytestmark = pytest.mark.integration

COUNT = 10
PACED = f"count={COUNT}&interval=200"
SSE = f"/stream/sse?{PACED}"
NDJSON = f"/stream/ndjson?{PACED}"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[ProxiedApp]:
    """The app with its default heartbeat (15 s: a 5 s gap is silent) behind nginx."""
    with app_behind_nginx(
        tmp_path_factory.mktemp("proxy"), {"SHOWCASE_DATA_DIR": str(data_dir)}
    ) as running:
        yield running


def stream_through(proxied: ProxiedApp, location: str, path: str, **headers: str) -> StreamReads:
    reads = read_stream(proxied.proxy.url_for(location, path), headers)
    assert reads.status == 200
    assert reads.complete
    assert reads.seqs() == list(range(COUNT))  # every message, in order, whatever the path
    return reads


def assert_batched(reads: StreamReads) -> None:
    """Held by the proxy: every message arrives in one read (two if a write split it)."""
    per_read = reads.reads_with_messages()
    assert len(per_read) <= 2, per_read
    assert max(per_read) >= COUNT - 1, per_read


def assert_one_by_one(reads: StreamReads) -> None:
    """Passed on as sent: most reads carry one message, none carries half the stream."""
    per_read = reads.reads_with_messages()
    assert len(per_read) >= COUNT // 2 + 1, per_read
    assert max(per_read) < COUNT // 2, per_read


def test_every_location_reaches_the_app_with_its_prefix_stripped(proxied: ProxiedApp) -> None:
    for location in LOCATIONS:
        response = requests.get(proxied.proxy.url_for(location.name, "/healthz"), timeout=10)
        assert response.status_code == 200, location.name
        assert response.json()["pid"] == proxied.app.worker_pids[0]


def test_stock_nginx_holds_a_stream_without_the_header_until_its_end(
    proxied: ProxiedApp,
) -> None:
    assert_batched(stream_through(proxied, "stock", SSE + "&accel=omit"))


def test_stock_nginx_passes_a_held_stream_on_4_kib_at_a_time(proxied: ProxiedApp) -> None:
    """Messages of 1 KB: nginx sends each time a 4 KiB buffer fills (proxy_buffer_size is
    one memory page), so they arrive in groups of about four, never one by one."""
    reads = read_stream(
        proxied.proxy.url_for("stock", "/stream/sse?count=20&interval=100&size=1000&accel=omit")
    )
    assert reads.status == 200
    assert reads.seqs() == list(range(20))
    per_read = reads.messages_per_read()
    assert len(reads.reads_with_messages()) >= 4, per_read
    assert all(count >= 2 for count in per_read[:-1]), per_read
    assert all(len(data) <= 4096 for data in reads.reads), [len(data) for data in reads.reads]


def test_stock_nginx_holds_an_ndjson_stream_without_the_header_too(
    proxied: ProxiedApp,
) -> None:
    assert_batched(stream_through(proxied, "stock", NDJSON + "&accel=omit"))


def test_stock_nginx_passes_each_message_when_the_app_sends_the_header(
    proxied: ProxiedApp,
) -> None:
    reads = stream_through(proxied, "stock", SSE)
    assert reads.headers.get("x-accel-buffering") is None  # nginx acts on it, never forwards it
    assert_one_by_one(reads)


def test_the_streaming_location_passes_each_message_without_the_header(
    proxied: ProxiedApp,
) -> None:
    assert_one_by_one(stream_through(proxied, "streaming", SSE + "&accel=omit"))


def test_a_proxy_that_ignores_the_header_holds_the_stream_even_with_it(
    proxied: ProxiedApp,
) -> None:
    assert_batched(stream_through(proxied, "ignore-accel", SSE))


def test_direct_reads_are_one_by_one_as_the_baseline(proxied: ProxiedApp) -> None:
    reads = read_stream(f"{proxied.app.url}{SSE}&accel=omit")
    assert reads.status == 200
    assert reads.seqs() == list(range(COUNT))
    assert_one_by_one(reads)


@pytest.mark.parametrize("path", [SSE, NDJSON])
def test_nginx_gzip_decodes_to_the_same_messages_and_does_not_batch(
    proxied: ProxiedApp, path: str
) -> None:
    reads = stream_through(proxied, "gzip", path, **{"Accept-Encoding": "gzip"})
    assert reads.headers.get("content-encoding") == "gzip"
    assert "accept-encoding" in reads.headers.get("vary", "").lower()
    direct = read_stream(proxied.app.url + path)
    assert [strip_ts(line) for line in reads.body.splitlines()] == [
        strip_ts(line) for line in direct.body.splitlines()
    ]
    assert_one_by_one(reads)


def strip_ts(line: bytes) -> bytes:
    """A message line without its send time (the one field two runs of a stream differ in)."""
    start = line.find(b'"ts":')
    if start < 0:
        return line
    end = line.find(b",", start)
    return line[:start] + line[end + 1 :] if end > 0 else line[:start]


def test_the_gzip_location_sends_identity_to_a_client_that_accepts_none(
    proxied: ProxiedApp,
) -> None:
    reads = stream_through(proxied, "gzip", SSE)
    assert "content-encoding" not in reads.headers


def test_a_short_read_timeout_cuts_a_stream_silent_for_longer(proxied: ProxiedApp) -> None:
    """No heartbeat (the app's is 15 s) and a 5 s gap: nginx gives up after 3 s of silence
    and closes the connection without the last chunk; the second message never comes."""
    reads = read_stream(proxied.proxy.url_for("short-timeout", "/stream/sse?count=2&interval=5000"))
    assert reads.status == 200
    assert reads.seqs() == [0]
    assert not reads.complete
    log = (proxied.proxy.run_dir / "error.log").read_text()
    assert "upstream timed out" in log


def test_a_heartbeat_shorter_than_the_read_timeout_keeps_the_stream(
    proxied: ProxiedApp,
) -> None:
    path = "/stream/sse?count=2&interval=5000&heartbeat=1"
    reads = read_stream(proxied.proxy.url_for("short-timeout", path))
    assert reads.status == 200
    assert reads.complete
    assert reads.seqs() == [0, 1]
    assert reads.body.count(b"\n:") >= 3  # the comments that kept nginx from timing out


def location_base(proxied: ProxiedApp, location: str) -> str:
    """``http://127.0.0.1:PORT/prefix``: the base URL a client puts ``/ws`` behind."""
    return proxied.proxy.url_for(location, "/").rstrip("/")


@pytest.mark.parametrize("location", ["websocket", "streaming"])
def test_the_websocket_location_passes_every_frame(proxied: ProxiedApp, location: str) -> None:
    """``/websocket/`` shows the settings alone; ``/`` (the settings to copy) has them too,
    so the page opened through nginx keeps its WebSocket lane."""
    params = {"count": COUNT, "interval": 50}
    payloads = list(iter_ws(location_base(proxied, location), params))
    assert [payload["seq"] for payload in payloads] == list(range(COUNT))


def test_without_upgrade_the_handshake_is_refused(proxied: ProxiedApp) -> None:
    """nginx drops the hop-by-hop Upgrade header: the app sees a plain GET, answers 426."""
    with pytest.raises(HTTPStatusError) as refused:
        list(iter_ws(location_base(proxied, "no-upgrade"), {"count": COUNT}))
    assert refused.value.status == 426
    # A stream through the same location is fine: only the upgrade is lost there.
    stream_through(proxied, "no-upgrade", SSE)


def test_http2_over_tls_streams_each_message(proxied: ProxiedApp) -> None:
    version, reads = curl_http2_reads(proxied.proxy.tls_url + SSE + "&accel=omit")
    assert version == "2"
    seen = StreamReads(200, {}, reads, True)
    assert seen.seqs() == list(range(COUNT))
    assert_one_by_one(seen)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_certificate_is_valid_for_loopback_by_ip_and_name(
    proxied: ProxiedApp, host: str
) -> None:
    """Verified against the certificate itself (no -k): its names cover both."""
    url = proxied.proxy.tls_url.replace("127.0.0.1", host) + "/healthz"
    cert = proxied.proxy.run_dir / "localhost.crt"
    argv = ["curl", "-sS", "--http2", "--cacert", str(cert), "-w", "%{stderr}%{http_code}", url]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "200"


def test_nginx_is_gone_once_start_proxy_returns(tmp_path: Path, proxied: ProxiedApp) -> None:
    run_dir = tmp_path / "run"
    with start_proxy(proxied.app.url, run_dir) as proxy:
        cert = run_dir / "localhost.crt"
        made = cert.stat().st_mtime_ns
        assert requests.get(proxy.url + "/healthz", timeout=10).status_code == 200
    with pytest.raises(ProcessLookupError):
        os.kill(proxy.pid, 0)
    with start_proxy(proxied.app.url, run_dir) as again:  # the certificate is reused
        assert cert.stat().st_mtime_ns == made
        assert again.pid != proxy.pid


def test_start_proxy_fails_when_another_server_holds_its_port(
    tmp_path: Path, proxied: ProxiedApp
) -> None:
    """Another listener answers on the port, so a connection check alone would pass while
    nginx retries bind() and then exits: start_proxy waits for nginx's own pid file."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(NginxError, match="Address already in use"):
            with start_proxy(proxied.app.url, tmp_path / "run", port, free_port()):
                pass


def test_compression_in_the_app_is_not_undone_by_nginx(proxied: ProxiedApp) -> None:
    """Behind the streaming location the app's own compression decides: ``naive`` arrives
    in one piece at the end, ``sync`` one message per read (nginx adds no batching)."""
    gzip = {"Accept-Encoding": "gzip"}
    naive = stream_through(proxied, "streaming", SSE + "&compress=naive", **gzip)
    sync = stream_through(proxied, "streaming", SSE + "&compress=sync", **gzip)
    assert naive.headers.get("content-encoding") == sync.headers.get("content-encoding") == "gzip"
    assert_batched(naive)
    assert_one_by_one(sync)


SHOWCASE = [sys.executable, "-m", "showcase"]
COMMAND_TIMEOUT_S = 30.0


def start_command(run_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """``showcase proxy`` on free ports, stdout read up to its last line of URLs (through a
    pipe, PYTHONUNBUFFERED unset: the lines must be flushed by the command itself)."""
    bind, port, tls_port = free_port(), free_port(), free_port()
    argv = [*SHOWCASE, "proxy", "--bind", f"127.0.0.1:{bind}", "--port", str(port)]
    argv += ["--tls-port", str(tls_port), "--run-dir", str(run_dir)]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    log = (run_dir.parent / "command.log").open("w")
    command = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    log.close()
    assert command.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("nginx config:"):
            line = command.stdout.readline()  # bounded: the command exits if it cannot start
            assert line, f"showcase proxy exited: {(run_dir.parent / 'command.log').read_text()}"
            lines.append(line.rstrip("\n"))
    except BaseException:
        stop_command(command)
        raise
    return command, lines


def stop_command(command: subprocess.Popen[str]) -> None:
    """SIGKILL if still running (its children get SIGTERM from the kernel), pipe closed."""
    if command.poll() is None:
        command.kill()
    command.wait(5)
    assert command.stdout is not None
    command.stdout.close()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc; Linux)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_showcase_proxy_prints_every_location_and_stops_nginx_and_the_app(
    tmp_path: Path, stop: signal.Signals
) -> None:
    run_dir = tmp_path / "run"
    command, lines = start_command(run_dir)
    try:
        text = "\n".join(lines)
        proxy_url = next(line.split()[3] for line in lines if line.startswith("nginx, the page:"))
        proxy_url = proxy_url.rstrip("/")
        for location in LOCATIONS:
            assert f"{proxy_url}{location.prefix}" in text
            example = f"{proxy_url}{location.prefix.rstrip('/')}{location.example}"
            assert f"{location.curl} '{example}'" in text
        page = requests.get(proxy_url, timeout=10)
        assert page.status_code == 200
        nginx_pid = int((run_dir / "nginx.pid").read_text())
        (app_pid,) = [pid for pid in child_pids(command.pid) if pid != nginx_pid]
        environ = Path(f"/proc/{app_pid}/environ").read_bytes().split(b"\0")
        deploy = next(item for item in environ if item.startswith(b"SHOWCASE_DEPLOY="))
        assert proxy_url.encode() in deploy
        command.send_signal(stop)
        assert command.wait(COMMAND_TIMEOUT_S) in (130, 128 + signal.SIGTERM)
    finally:
        stop_command(command)
    assert_gone(nginx_pid)
    assert_gone(app_pid)


def test_a_killed_showcase_proxy_leaves_neither_nginx_nor_the_app_running(tmp_path: Path) -> None:
    """SIGKILL gives the command no chance to clean up: the kernel's parent-death signal
    (prctl PR_SET_PDEATHSIG, set in each child) stops them instead."""
    run_dir = tmp_path / "run"
    command, _ = start_command(run_dir)
    nginx_pid = int((run_dir / "nginx.pid").read_text())
    children = child_pids(command.pid)
    assert nginx_pid in children and len(children) == 2
    stop_command(command)
    deadline = time.monotonic() + COMMAND_TIMEOUT_S
    while any(Path(f"/proc/{pid}").exists() for pid in children):
        assert time.monotonic() < deadline, [
            Path(f"/proc/{pid}/cmdline").read_text() for pid in children
        ]
        time.sleep(0.1)


def test_showcase_proxy_stops_the_app_when_nginx_dies(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command, _ = start_command(run_dir)
    try:
        nginx_pid = int((run_dir / "nginx.pid").read_text())
        (app_pid,) = [pid for pid in child_pids(command.pid) if pid != nginx_pid]
        os.kill(nginx_pid, signal.SIGKILL)
        assert command.wait(COMMAND_TIMEOUT_S) == 1
    finally:
        stop_command(command)
    assert_gone(app_pid)


def test_print_config_is_the_committed_config() -> None:
    printed = subprocess.run(
        [*SHOWCASE, "proxy", "--print-config", "--run-dir", "/tmp/showcase-proxy"],
        capture_output=True,
        text=True,
        check=False,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (Path(__file__).parents[2] / "docs" / "nginx.conf").read_text()
