"""README and docs agree with the code: every flag of ``showcase serve --help``, every
benchmark, every public route, every ``/healthz`` key and every stream parameter is listed;
SSE fields are named in wire order; ``make bench-quick`` has one duration; figures cite a
results file and key that exist; and no doc names an issue number."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from benchmarks import guide
from showcase.pure import params
from showcase.pure.framing.sse import encode_event
from showcase.pure.modes import MODES
from showcase.tools.bench import NAMES
from tests.cli_run import run_showcase

TOP = Path(__file__).resolve().parents[2]
README = (TOP / "README.md").read_text(encoding="utf-8")
BENCH_README = (TOP / "benchmarks" / "README.md").read_text(encoding="utf-8")
ISSUE = re.compile(r"#[0-9]|\bissues?\b", re.IGNORECASE)
CITATION = re.compile(r"docs/results/(\w+)\.json\s+key\s+`([^`]+)`")
DURATION = re.compile(r"under a minute|a few minutes|\b\d+ ?(?:s|min|minutes?)\b")


def section(text: str, heading: str) -> str:
    """The text under the ``## heading`` of a Markdown file, up to the next ``## ``."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def tracked_docs() -> list[Path]:
    """Every Markdown file git tracks, and the guide's examples and nginx.conf."""
    listed = subprocess.run(
        ["git", "ls-files", "*.md", "docs/examples/*", "docs/nginx.conf"],
        cwd=TOP,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [TOP / name for name in listed if (TOP / name).is_file()]


def test_readme_lists_every_flag_of_showcase_serve_help() -> None:
    result = run_showcase("serve", "--help")
    assert result.returncode == 0, result.stderr
    flags = set(re.findall(r"(--[a-z][a-z-]+)", result.stdout)) - {"--help"}
    assert "--restart-retry" in flags and "--restart-jitter" in flags
    usage = section(README, "The server").split("runs gunicorn")[0]
    assert sorted(flag for flag in flags if f"[{flag} " not in usage) == []


def test_readme_and_the_benchmarks_readme_list_every_benchmark() -> None:
    benchmarks = section(README, "Benchmarks")
    for name in NAMES:
        if name != "suite":
            assert re.search(rf"\b{name}\b", benchmarks), f"README: {name}"
            assert f"`showcase bench {name}`" in BENCH_README, f"benchmarks/README.md: {name}"


def test_readme_endpoint_table_lists_every_public_route(app: Flask) -> None:
    table = section(README, "Endpoints").split("Every stream endpoint")[0]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue  # the page's own files
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        if path == "/stream/<mode>":
            assert all(f"/stream/{mode}`" in table for mode in MODES), path
        else:
            assert re.search(rf"`(?:GET |POST )?{re.escape(path)}[`?]", table), path


def test_readme_healthz_row_names_every_key(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    row = next(line for line in README.splitlines() if line.startswith("| `GET /healthz`"))
    for key in response.get_json():
        assert f"`{key}`" in row, key


def test_readme_parameter_table_lists_every_stream_parameter_with_its_bounds() -> None:
    source = inspect.getsource(params.parse_stream_params)
    names = re.findall(r'parse_\w+\(args, "(\w+)"', source)
    assert {"accel", "compress"} <= set(names)
    rows = {
        match.group(1): line
        for line in section(README, "Endpoints").splitlines()
        if (match := re.match(r"\| `(\w+)` \|", line))
    }
    for name in names:
        assert name in rows, name
    assert f"1 … {params.MAX_COUNT:,}" in rows["count"]
    assert f"0 … {params.MAX_INTERVAL_MS:,.0f}" in rows["interval"]
    assert f"0 … {params.MAX_SIZE_BYTES:,}" in rows["size"]
    assert f"{params.MIN_HEARTBEAT_S:g} … {params.MAX_HEARTBEAT_S:g}" in rows["heartbeat"]
    for name, choices in (
        ("flush", params.FLUSH_POLICIES),
        ("accel", params.ACCEL_POLICIES),
        ("compress", params.COMPRESS_POLICIES),
    ):
        for choice in choices:
            assert f"`{choice}`" in rows[name], (name, choice)


def test_readme_names_sse_fields_in_wire_order() -> None:
    wire = encode_event("x", event="e", id="1").decode()
    order = [line.split(":")[0] for line in wire.splitlines() if line]
    assert order == ["event", "id", "data"]
    row = next(line for line in README.splitlines() if line.startswith("| `GET /stream/sse`"))
    assert ", ".join(f"`{field}`" for field in order) in row


def test_bench_quick_has_one_duration_everywhere() -> None:
    texts = {
        "Makefile": (TOP / "Makefile").read_text(encoding="utf-8"),
        "README.md": README,
        "benchmarks/README.md": BENCH_README,
        "benchmarks/suite.py": (TOP / "benchmarks" / "suite.py").read_text(encoding="utf-8"),
    }
    said: dict[str, set[str]] = {}
    for name, text in texts.items():
        for line in text.splitlines():
            if "bench-quick" in line or "suite --quick" in line:
                said.setdefault(name, set()).update(DURATION.findall(line))
    assert sorted(said) == sorted(texts), said
    assert len(set().union(*said.values())) == 1, said


def test_bench_guide_help_names_the_folder_it_reads() -> None:
    result = run_showcase("bench", "--help")
    assert result.returncode == 0, result.stderr
    assert "docs/results/" in " ".join(result.stdout.split())
    assert guide.DEFAULT_RESULTS == TOP / "docs" / "results"


def test_every_cited_figure_names_a_results_file_and_key_that_exist() -> None:
    cited = 0
    for path in tracked_docs():
        for name, key in CITATION.findall(path.read_text(encoding="utf-8")):
            value = json.loads((TOP / "docs" / "results" / f"{name}.json").read_text())
            for part in key.split("."):
                assert isinstance(value, dict) and part in value, f"{path}: {name}.json {key}"
                value = value[part]
            assert isinstance(value, int | float), f"{path}: {name}.json {key} is no figure"
            cited += 1
    assert cited >= 2


def test_no_doc_names_an_issue_number() -> None:
    for path in tracked_docs():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not ISSUE.search(line), f"{path.relative_to(TOP)}:{number}: {line}"
