"""The guide says where its figures come from: one commit, runs and pinning per file, and
which measured code changed since a file was run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from benchmarks.report import provenance


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def doc_at(commit: str, dirty: bool = False, **extra: Any) -> dict[str, Any]:
    return {"environment": {"git": {"commit": commit, "dirty": dirty}}, **extra}


def test_changed_since_names_the_measured_files_changed_after_the_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.invalid")
    git(tmp_path, "config", "user.name", "t")
    for path in ("showcase/web/streams.py", "showcase/web/README.md", "docs/x.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("one\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    measured = git(tmp_path, "rev-parse", "HEAD")
    for path in ("showcase/web/streams.py", "docs/x.md", "showcase/web/README.md"):
        (tmp_path / path).write_text("two\n")
    git(tmp_path, "commit", "-qam", "two")

    def changed(commit: str, paths: Any) -> list[str] | None:
        return provenance.changed_since(commit, paths, tmp_path)

    line = provenance.stale_line("latency", doc_at(measured), changed)
    assert "`showcase/web/streams.py`" in line and "docs/x.md" not in line
    assert "README.md" not in line  # documentation moves no figure
    assert line.startswith("_**Stale:**")
    assert (
        provenance.stale_line("latency", doc_at(git(tmp_path, "rev-parse", "HEAD")), changed) == ""
    )
    assert "Could not compare" in provenance.stale_line("latency", doc_at("0" * 40), changed)


def test_stale_line_counts_the_files_it_does_not_name() -> None:
    files = [f"showcase/pure/m{i}.py" for i in range(9)]
    line = provenance.stale_line("framing", doc_at("a" * 40), lambda commit, paths: files)
    assert "`showcase/pure/m5.py` and 3 more files" in line and "m6.py" not in line


def test_publish_commit_is_said_once_and_names_the_files_that_disagree() -> None:
    same = {"latency": doc_at("a" * 40), "framing": doc_at("a" * 40)}
    assert provenance.publish_commit(same) == f"every file at commit `{'a' * 12}`"
    mixed = {**same, "hub": doc_at("b" * 40, dirty=True)}
    text = provenance.publish_commit(mixed)
    assert text.startswith(f"2 files at commit `{'a' * 12}`; the files disagree")
    assert f"hub at `{'b' * 12}` with local changes" in text


def test_runs_and_pinning_come_from_each_file() -> None:
    assert provenance.runs_phrase({"runs": [{}, {}, {}]}) == "medians of 3 runs"
    assert provenance.runs_phrase({"runs": [{}]}) == "one run"
    assert provenance.runs_phrase({"runs": [], "config": {"runs": 2}}) == "medians of 2 runs"
    assert provenance.runs_phrase({}) == "runs not recorded"
    # The restart benchmark adds its runs' clients up: its counts are no medians.
    restart = {"benchmark": "restart", "runs": [{}, {}]}
    assert provenance.runs_phrase(restart) == "medians of 2 runs, counts summed"
    assert provenance.pinning_of({"server": {"server_cpu": 0, "client_cpu": 1}}) == (
        "server on CPU 0, load on CPU 1"
    )
    assert provenance.pinning_of({"server": {}}) == "not pinned"
    assert provenance.plural(1, "run") == "1 run" and provenance.plural(2, "run") == "2 runs"


def test_settings_are_said_once_with_the_files_that_differ_or_lack_them() -> None:
    settings = {"gc_threshold": [50000, 20, 100], "SHOWCASE_HEARTBEAT_S": 15.0}
    found = {
        "latency": {"environment": {"settings": settings}},
        "framing": {"environment": {"settings": settings}},
        "hub": {"environment": {"settings": {**settings, "SHOWCASE_HEARTBEAT_S": 5.0}}},
        "relay": {"environment": {}},
    }
    assert provenance.settings_line(found) == (
        "GC threshold 50000,20,100; heartbeat 15 s; different in hub; not recorded by relay"
    )
    assert provenance.settings_line({"relay": {}}) == "not recorded in this publish"
