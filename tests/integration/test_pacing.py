"""Pacing on the real worker: no message comes before its schedule.

A stream keeps a schedule (bodies.iter_body): message k is due k intervals after the first,
so a late message is followed by a shorter pause, never by an early message. A lower bound
only (a busy machine makes messages later, never earlier), so it cannot flake. It caught a
reused libev timer that fired at once from its second start on.
"""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = pytest.mark.integration

INTERVAL_MS = 40.0
# The server stamps ts when the pause ends; the clock's rounding to µs is the only slack.
SLACK_MS = 1.0


@pytest.mark.parametrize("mode", ["sse", "ndjson"])
def test_every_pause_lasts_its_interval(base_url: str, mode: str) -> None:
    response = requests.get(
        f"{base_url}/stream/{mode}",
        params={"count": 12, "interval": INTERVAL_MS},
        stream=True,
        timeout=10,
    )
    assert response.status_code == 200
    stamps = [
        json.loads(line.removeprefix(b"data: "))["ts"]
        for line in response.iter_lines()
        if line.startswith(b"{") or line.startswith(b"data: ")
    ]
    assert len(stamps) == 12
    since_first = [stamp - stamps[0] for stamp in stamps]
    early = [k for k, at in enumerate(since_first) if at < k * INTERVAL_MS - SLACK_MS]
    assert not early, since_first


def test_text_source_pauses_longer_after_punctuation(base_url: str) -> None:
    response = requests.get(
        f"{base_url}/stream/ndjson",
        params={"count": 30, "interval": 5, "source": "text"},
        stream=True,
        timeout=10,
    )
    assert response.status_code == 200
    rows = [json.loads(line) for line in response.iter_lines() if line]
    assert [row["seq"] for row in rows] == list(range(30))
    for k, row in enumerate(rows):
        # Pauses are never shorter than the base interval, so message k comes at least k base
        # intervals after the first; the factor table is tested in tests/unit.
        assert row["ts"] - rows[0]["ts"] >= k * 5 - SLACK_MS
