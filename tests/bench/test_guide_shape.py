"""The guide reads as a decision tool: a short decision part first, short paragraphs, plurals
that agree. Checked on the guide written from the committed results and from the fixtures."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from benchmarks import guide

FIXTURES = Path(__file__).with_name("fixtures")
MAX_PARAGRAPH_CHARS = 600
MAX_DECISION_LINES = 150
DETAILS_HEADING = "## Modes in detail"


def prose_paragraphs(text: str) -> list[str]:
    """Paragraphs of prose: code blocks, tables, headings and HTML comments left out; each
    list item and quoted line of a list counts alone."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [re.sub(r"^> ?", "", line) for line in block.strip().splitlines()]
        if not lines or lines[0].startswith(("|", "#", "![")):
            continue
        items: list[list[str]] = []
        for line in lines:
            if line.startswith(("- ", "* ")) or not items:
                items.append([line])
            else:
                items[-1].append(line)
        paragraphs += [" ".join(item) for item in items]
    return paragraphs


@pytest.fixture(params=["committed", "fixtures"])
def text(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "committed":
        return guide.render(guide.DEFAULT_RESULTS)
    folder = tmp_path / "results"
    shutil.copytree(FIXTURES, folder)
    return guide.render(folder)


def test_the_decision_part_comes_first_and_fits_in_150_lines(text: str) -> None:
    assert DETAILS_HEADING in text
    decision = text[: text.index(DETAILS_HEADING)]
    assert len(decision.splitlines()) <= MAX_DECISION_LINES
    for case in ("An LLM answer in a browser", "A chat room", "A file"):
        assert f"### {case}" in decision


def test_no_paragraph_is_longer_than_600_characters(text: str) -> None:
    long = [p[:80] for p in prose_paragraphs(text) if len(p) > MAX_PARAGRAPH_CHARS]
    assert long == []


def test_plurals_agree_with_their_counts(text: str) -> None:
    assert "(s)" not in text
    assert not re.search(r"\b1 (runs|workers|clients|files)\b", text)
    assert not re.search(r"\b([02-9]|\d{2,}) (run|worker|time)\b(?![-/])", text)


def test_prose_paragraphs_skip_code_and_tables() -> None:
    text = "a\n\n```\n" + "x" * 700 + "\n```\n\n| " + "y" * 700 + " |\n\n- one\n- two\n"
    assert prose_paragraphs(text) == ["a", "- one", "- two"]
