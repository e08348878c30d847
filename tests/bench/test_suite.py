"""Numbers anyone can trace: every result records versions, CPU count and commit, and the
suite publishes the JSON the guide is written from where git keeps it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

import showcase
from benchmarks import guide, suite
from benchmarks.infra import harness
from benchmarks.infra.environment import ROOT

FIXTURES = Path(__file__).with_name("fixtures")


def test_every_result_records_version_cpu_count_and_commit(tmp_path: Path) -> None:
    args = argparse.Namespace(out=tmp_path / "x.json", no_pin=True)
    path = harness.write_result("framing", args, {}, {}, [], {})
    env = json.loads(path.read_text())["environment"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert env["git"]["commit"] == head
    assert isinstance(env["git"]["dirty"], bool)
    assert env["cpu_count"] == os.cpu_count()
    assert env["version"] == showcase.__version__
    assert env["python"] and env["packages"]["gevent"] and env["cpu_clock"]


def test_the_suite_publishes_the_json_the_guide_is_written_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = json.loads((FIXTURES / "latency.json").read_text())
    point = {"mode": "sse", "clients": 1000, "interval_ms": 50.0}
    point["raw_latency_ms"] = [float(i % 997) for i in range(5000)]
    original["runs"] = [{"run": 0, "points": [point]}]

    def fake_latency(argv: Sequence[str] | None) -> int:
        assert argv is not None
        out = Path(argv[list(argv).index("--out") + 1])
        out.write_text(json.dumps(original))
        return 0

    monkeypatch.setitem(suite.BENCHMARKS, "latency", fake_latency)
    monkeypatch.setattr(guide, "DEFAULT_OUT", tmp_path / "docs" / "choosing.md")
    monkeypatch.setattr(suite, "git_commit", lambda: {"commit": "c0ffee", "dirty": False})
    published_dir = tmp_path / "docs" / "results"
    argv = ["--only", "latency", "--out-dir", str(tmp_path / "latest")]
    assert suite.main([*argv, "--publish-dir", str(published_dir)]) == 0

    published = json.loads((published_dir / "latency.json").read_text())
    assert published["summary"] == original["summary"]
    assert published["environment"] == original["environment"]
    raw = published["runs"][0]["points"][0]["raw_latency_ms"]
    assert len(raw) == suite.PUBLISHED_RAW_VALUES
    assert raw[0] == 0.0 and raw[-1] == 996.0 and raw == sorted(raw)
    assert "latest/latency.json" in published["published"]["from"]
    text = (tmp_path / "docs" / "choosing.md").read_text()
    assert "](results/latency.json)" in text
    assert (tmp_path / "docs" / "img" / "latency.png").is_file()


def test_a_publish_from_a_tree_with_local_changes_is_refused_before_any_measurement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []
    monkeypatch.setitem(suite.BENCHMARKS, "framing", lambda argv: ran.append("framing") or 0)
    monkeypatch.setattr(suite, "git_commit", lambda: {"commit": "c0ffee", "dirty": True})
    argv = ["--only", "framing", "--out-dir", str(tmp_path / "latest")]
    published_dir = tmp_path / "docs" / "results"
    assert suite.main([*argv, "--publish-dir", str(published_dir)]) == 2
    assert ran == [] and not published_dir.exists()
    assert "local changes" in capsys.readouterr().err
    # Measuring without publishing, or publishing on purpose, runs.
    assert suite.main([*argv, "--no-guide"]) == 0 and ran == ["framing"]


def test_order_statistics_keep_the_ends_and_the_ranks_between() -> None:
    assert suite.order_statistics([5.0, 1.0, 3.0], 10) == [1.0, 3.0, 5.0]
    assert suite.order_statistics([float(i) for i in range(101)], 11) == [
        float(i) for i in range(0, 101, 10)
    ]


def test_publish_only_runs_nothing_and_publishes_what_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(argv: Sequence[str] | None) -> int:
        raise AssertionError("--publish-only ran a benchmark")

    for name in suite.BENCHMARKS:
        monkeypatch.setitem(suite.BENCHMARKS, name, never)
    monkeypatch.setattr(guide, "DEFAULT_OUT", tmp_path / "docs" / "choosing.md")
    latest = tmp_path / "latest"
    latest.mkdir()
    (latest / "framing.json").write_bytes((FIXTURES / "framing.json").read_bytes())
    published_dir = tmp_path / "docs" / "results"
    argv = ["--publish-only", "--out-dir", str(latest), "--publish-dir", str(published_dir)]
    assert suite.main(argv) == 0
    assert [p.name for p in published_dir.iterdir()] == ["framing.json"]
    assert "](results/framing.json)" in (tmp_path / "docs" / "choosing.md").read_text()
