"""Helpers of the browser tests: Chromium's path and flags, and /healthz polling. The TCP
proxy a test can cut is tests/integration/wire.py's CutProxy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from showcase.tools.launcher import wait_for_open_streams

CHROMIUM = Path("/usr/bin/chromium")
# What a headless root in a container needs; nothing that phones home or updates itself.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 20_000  # every wait_for_function is bounded by this unless it says otherwise
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def wait_for_streams(base_url: str, predicate: Callable[[int], bool], timeout_s: float) -> int:
    """Poll /healthz until ``predicate(open_streams)``; fail with the last count otherwise."""
    count = wait_for_open_streams(base_url, predicate, timeout_s)
    if not predicate(count):
        pytest.fail(f"open_streams stayed at {count} for {timeout_s} s")
    return count
