"""A bad setting stops the server at start, before any worker forks, with one line naming
the variable: through ``showcase serve`` and through gunicorn started by hand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:showcase.runtime.gunicorn_conf"]
SERVE = [sys.executable, "-m", "showcase", "serve"]


def run_server(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; it must exit by itself (a bad setting) well within 30 s."""
    return subprocess.run(
        [*argv, "--bind", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("argv", [SERVE, GUNICORN], ids=["showcase-serve", "gunicorn"])
@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("SHOWCASE_RELAY_READ_TIMEOUT_S", "0"),
        ("SHOWCASE_HUB_LOG_COUNT", "-1"),
        ("SHOWCASE_BROKER", "postgres://127.0.0.1/0"),
        ("SHOWCASE_WORKER_CONNECTIONS", "lots"),
    ],
)
def test_a_bad_setting_stops_the_server_before_any_worker(
    argv: list[str], env: str, raw: str
) -> None:
    result = run_server(argv, {env: raw})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert f"error: {env}: expected " in lines[0]
    assert "Traceback" not in output
    assert "Booting worker" not in output
