"""The drawing conventions every plot shares: matplotlib's Agg backend (chosen on import,
before pyplot), the DPI, reading a result file and saving a figure next to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

DPI = 110


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save(fig: Any, path: Path, out: Path | None = None) -> Path:
    """Write the figure to ``out`` (default: the JSON's path with ``.png``)."""
    out = out or path.with_suffix(".png")
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
