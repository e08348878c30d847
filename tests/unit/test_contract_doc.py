"""docs/contract.md is the project's own statement of the stream contract: what the code cites
is in the repository, its links resolve, and its numbers are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from showcase.pure.modes import MODES
from showcase.pure.params import (
    MAX_COUNT,
    MAX_HEARTBEAT_S,
    MAX_INTERVAL_MS,
    MAX_PARAM_CHARS,
    MAX_SIZE_BYTES,
    MIN_HEARTBEAT_S,
    StreamParams,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract.md"
CITING = ["showcase", "static", "templates", "benchmarks", "docs"]
TEXT_SUFFIXES = {".py", ".js", ".html", ".md", ".css", ".cfg", ".toml"}


def test_nothing_cites_a_file_outside_the_repository() -> None:
    # DESIGN.md lived beside the repository, where a reader of the repository cannot open it.
    files = [ROOT / "README.md"]
    for folder in CITING:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in TEXT_SUFFIXES]
    citing = [str(p.relative_to(ROOT)) for p in files if "DESIGN.md" in p.read_text("utf-8")]
    assert citing == []


def test_links_resolve() -> None:
    text = CONTRACT.read_text("utf-8")
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    assert targets, "the contract links the guide, the chat chapter and the framing README"
    for target in targets:
        assert (CONTRACT.parent / target).exists(), target


def row(name: str) -> list[str]:
    """The cells of the parameter table's row for ``name``."""
    for line in CONTRACT.read_text("utf-8").splitlines():
        if line.startswith(f"| `{name}` |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row for {name}")


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize(
    ("name", "default", "low", "high"),
    [
        ("count", StreamParams().count, 1, MAX_COUNT),
        ("interval", StreamParams().interval_ms, 0, MAX_INTERVAL_MS),
        ("size", StreamParams().size, 0, MAX_SIZE_BYTES),
        ("heartbeat", 15, MIN_HEARTBEAT_S, MAX_HEARTBEAT_S),
    ],
)
def test_parameter_table_matches_the_code(
    name: str, default: float, low: float, high: float
) -> None:
    _, _, shown_default, bounds = row(name)
    assert number(re.findall(r"[\d,.]+", shown_default)[-1]) == default
    shown_low, shown_high = (number(part) for part in bounds.split("…"))
    assert (shown_low, shown_high) == (low, high)


def test_mode_bytes_match_the_code() -> None:
    text = CONTRACT.read_text("utf-8")
    for mode in MODES.values():
        assert f"`{mode.mimetype}`" in text
        for wire in (mode.preamble, mode.heartbeat):
            if wire:
                shown = wire.decode().replace("\n", "\\n")
                assert f"`{shown}`" in text, (mode.name, shown)
    assert f"more than {MAX_PARAM_CHARS} characters" in text
