"""The guide generator fills its tables from result files (a fixture made from a real run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import guide
from benchmarks.stats import percentile, summarize

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    shutil.copytree(FIXTURES, folder)
    return folder


def test_guide_fills_every_placeholder_from_the_results(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "choosing.md"
    guide.write_guide(results, out)
    text = out.read_text()
    assert "{{" not in text and "No result for this benchmark" not in text
    env = json.loads((results / "latency.json").read_text())["environment"]
    assert env["cpu_model"] in text  # the machine the numbers came from
    throughput = json.loads((results / "throughput.json").read_text())["summary"]
    messages = throughput["sse/16/1"]["messages_per_s"]
    assert f"{messages:,.0f}" in text
    held = json.loads((results / "held_streams.json").read_text())["summary"]["10000"]
    assert f"{held['rss_per_stream_bytes'] / 1024:,.1f}" in text
    for section in (
        "## Decision table",
        "## `sse`",
        "## `ndjson`",
        "## `chunked`",
        "## `download`",
        "### Latency",
        "### Throughput",
        "### Framing overhead",
        "### Held streams",
        "### Downloads",
        "## Targets",
    ):
        assert section in text
    assert "def stream(mode: str)" in text  # the example is this project's view


def test_guide_copies_the_plots_next_to_the_guide(results: Path, tmp_path: Path) -> None:
    (results / "latency.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "docs" / "choosing.md"
    guide.write_guide(results, out)
    assert (tmp_path / "docs" / "img" / "latency.png").is_file()
    assert "](img/latency.png)" in out.read_text()


def test_guide_says_when_a_result_is_missing(results: Path, tmp_path: Path) -> None:
    (results / "download.json").unlink()
    text = guide.render(results)
    assert guide.MISSING in text


def test_percentiles_use_the_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert summarize([3.0, 1.0, 2.0])["max"] == 3.0
