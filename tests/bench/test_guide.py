"""The guide generator fills its tables from result files (a fixture made from a real run)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from benchmarks import guide
from benchmarks.report.stats import percentile, summarize

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
        "### Memory per idle connection",
        "### Downloads",
        "## Targets",
        "## Copyable examples",
    ):
        assert section in text
    # The examples are plain Flask a reader can copy, not this project's views.
    assert "<!-- example: docs/examples/sse_server.py -->" in text
    assert "showcase.web" not in text.partition("## Copyable examples")[2]


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


def test_each_table_names_and_links_the_file_it_came_from(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "choosing.md"
    guide.write_guide(results, out)
    text = out.read_text()
    links = re.findall(r"_Source: \[`[^`]+`\]\(([^)]+)\)", text)
    assert sorted(Path(link).name for link in links) == sorted(f"{n}.json" for n in guide.NAMES)
    for link in links:
        linked = json.loads((out.parent / link).read_text())  # the link resolves to the file
        commit = linked["environment"]["git"]["commit"][:12]
        assert f"at commit `{commit}`" in text


def test_guide_says_when_nginx_was_not_measured(results: Path) -> None:
    path = results / "download.json"
    doc = json.loads(path.read_text())
    doc["config"]["nginx"] = {"skipped": "nginx is not installed"}
    doc["summary"].pop("nginx")
    path.write_text(json.dumps(doc))
    text = guide.render(results)
    assert "nginx was not measured in this run** (nginx is not installed)" in text


def test_download_statement_reads_the_numbers_whichever_way_they_fall(results: Path) -> None:
    doc = json.loads((results / "download.json").read_text())
    summary = doc["summary"]
    summary["generator"]["server_cpu_s"], summary["zero-copy"]["server_cpu_s"] = 0.5, 0.25
    assert "0.500 s of CPU against 0.250 s (2.00×, more)" in guide.download_statement(doc)
    summary["generator"]["server_cpu_s"], summary["zero-copy"]["server_cpu_s"] = 0.2, 0.25
    assert "0.200 s of CPU against 0.250 s (0.80×, less)" in guide.download_statement(doc)
    gen_rss = summary["generator"]["server_rss_growth"] // 1024
    assert f"RSS grew by at most {gen_rss:,} KiB" in guide.download_statement(doc)
    assert "A generator download against zero-copy" in guide.render(results)


def test_the_answers_section_quotes_its_file_and_says_when_it_has_none(results: Path) -> None:
    text = guide.render(results)
    section = text.partition("### Resume and cancel an answer")[2].partition("\n## ")[0]
    summary = json.loads((results / "answers.json").read_text())["summary"]
    assert "plain" in section and "memory" in section and "redis" in section
    assert "No result for this benchmark" not in section and "['" not in section
    assert summary  # the table above is read from it
    (results / "answers.json").unlink()
    section = guide.render(results).partition("### Resume and cancel an answer")[2]
    assert section.partition("\n## ")[0].count("No result for this benchmark yet") == 1
