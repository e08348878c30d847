"""The deployment benchmarks: quick runs against real servers (and real nginx), the JSON
they write, what each case measured (content and order, no timing threshold), and their
guide sections. The disconnect run needs root and ``ip netns``: as any other user it is
skipped, with the reason in the summary (``pytest -ra``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import deploy, disconnect, restart
from benchmarks.infra.deploy_netns import unavailable_reason
from benchmarks.report.deploy import deploy_markdown
from benchmarks.report.disconnect import disconnect_markdown
from benchmarks.report.restart import restart_markdown

PNG = b"\x89PNG\r\n\x1a\n"
NETNS_NEEDS_ROOT = "needs root: `ip netns add` makes the network namespace (CI runs as root)"
# Root only: as root a missing `ip` or `tc` still fails the test (make test installs them).
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason=NETNS_NEEDS_ROOT)


def read_result(out: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["benchmark"] == name
    assert {"environment", "server", "client", "config", "summary", "runs"} <= set(document)
    assert out.with_suffix(".png").read_bytes()[:8] == PNG
    return document


@pytest.mark.integration
@needs_root
def test_disconnect_quick_run_names_what_cut_each_stream(tmp_path: Path) -> None:
    # make test installs iproute2 (ip, tc).
    assert unavailable_reason() is None, unavailable_reason()
    out = tmp_path / "disconnect.json"
    assert disconnect.main(["--quick", "--reps", "1", "--out", str(out)]) == 0
    doc = read_result(out, "disconnect")
    points = doc["summary"]["points"]
    assert set(points) == {"closed/1s", "vanished/1s", "vanished-data/1s"}
    for point in points.values():
        assert point["cleaned_up"] == point["clients"] == 1
    # A closed client: a write fails. A vanished idle one: heartbeats never fill the send
    # buffer, so only TCP giving up ends it, at the server's TCP_USER_TIMEOUT (the send
    # deadline, 2 s) rather than Linux's 15 retransmissions (924.6 s: not cleaned up within
    # the run's watch, and the test fails, without it). A vanished data stream: whichever of
    # the send deadline and TCP_USER_TIMEOUT comes first (both 2 s).
    assert doc["config"]["tcp_retries2"] == 15 and doc["config"]["give_up_s"] == 2.0
    assert points["closed/1s"]["cut_by"] == {"write failed (peer closed)": 1}
    assert points["vanished/1s"]["cut_by"] == {"TCP gave up (ETIMEDOUT)": 1}
    assert list(points["vanished-data/1s"]["cut_by"]) in (
        ["send deadline"],
        ["TCP gave up (ETIMEDOUT)"],
    )
    assert doc["config"]["timeouts_in_log"] + doc["config"]["send_deadlines_in_log"] == 2
    # The namespace is gone.
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert doc["config"]["namespace"] not in listed.stdout
    text = disconnect_markdown(doc)
    assert "| case | heartbeat s |" in text and "tcp_retries2 = 15" in text


@pytest.mark.integration
def test_restart_quick_run_loses_and_repeats_nothing(tmp_path: Path) -> None:
    out = tmp_path / "restart.json"
    argv = ["--quick", "--clients", "20", "--processes", "1", "--out", str(out)]
    assert restart.main(argv) == 0
    doc = read_result(out, "restart")
    summary = doc["summary"]
    assert set(summary) == {"with", "without"}
    for row in summary.values():
        assert row["clients"] == row["reconnected"] == row["clients_exact"] == 20
        assert (row["lost"], row["repeated"], row["out_of_order"]) == (0, 0, 0)
        assert row["restart_notices"] >= 20  # every stream open at the SIGHUP got one
    retry, jitter = restart.QUICK["retry"], restart.QUICK["jitter"]
    for point in doc["runs"][0]["points"]:
        for client in point["clients"]:
            assert client["ids"] == list(range(doc["config"]["count"]))
            # The wait after the cut is the server's: its retry + jitter, or without one
            # the retry the stream opened with.
            waited = client["waited_ms"][0]
            if point["variant"] == "with":
                assert retry <= waited <= retry + jitter
            else:
                assert waited == doc["config"]["stream_retry_ms"]
    assert "| restart | clients |" in restart_markdown(doc)


@pytest.mark.integration
def test_deploy_quick_run_shows_batching_per_path(tmp_path: Path) -> None:
    out = tmp_path / "deploy.json"
    argv = ["--quick", "--no-pin", "--count", "6", "--bulk", "600", "--out", str(out)]
    assert deploy.main(argv) == 0
    doc = read_result(out, "deploy")
    paths, costs = doc["summary"]["paths"], doc["summary"]["compression"]
    assert {p.name for p in deploy.latency_paths()} == set(paths)
    for row in [*paths.values(), *costs.values()]:
        assert row["received"] == row["expected"]
    for row in paths.values():
        assert row["in_order"]
    # All six messages in one read where nginx (or a compressor) holds them to the end;
    # spread over several reads where they stream (a busy client may find two together).
    for name in ("stock · accel=omit", "ignore-accel · accel=send", "direct · compress=naive"):
        assert paths[name]["max_per_read"] == 6, name
    streamed = ("direct", "streaming · accel=send", "stock · accel=send", "gzip")
    for name in (*streamed, "direct · compress=sync", "gzip · compress=sync"):
        assert paths[name]["max_per_read"] < 6, name
    assert paths["gzip"]["content_encoding"] == "gzip"  # nginx compressed it
    assert costs["direct"]["content_encoding"] == ""
    for name in ("direct · compress=naive", "direct · compress=sync", "gzip"):
        assert costs[name]["wire_bytes_per_message"] < costs["direct"]["wire_bytes_per_message"]
    text = deploy_markdown(doc)
    assert "| path | Content-Encoding |" in text and "stock · accel=omit" in text
