"""How figures are shown: numbers for a table, Markdown tables for the guide, rich tables
for every benchmark's stdout. Pure formatting: no server, no sockets, no /proc."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.table import Table

MISSING = "_No result for this benchmark yet: run `make bench`._"


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for a table: fixed digits, thousands separators, '–' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (the guide's): a header row, its rule, one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def number_table(title: str, columns: Sequence[str]) -> Table:
    """A rich table of right-aligned columns: every benchmark's stdout table."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def machine_line(env: dict[str, Any]) -> str:
    """One line naming the machine, for tables and the guide."""
    memory = env.get("memory_bytes")
    gib = f", {memory / 2**30:.0f} GiB" if memory else ""
    return (
        f"{env.get('cpu_count')} × {env.get('cpu_model')}{gib}, Linux {env.get('kernel')}, "
        f"Python {env.get('python')}, gunicorn {env.get('packages', {}).get('gunicorn')}, "
        f"gevent {env.get('packages', {}).get('gevent')}"
    )
