"""A result file records what shaped its figures: every package on the measured path and the
server settings that change them."""

from __future__ import annotations

import pytest

from benchmarks.infra import environment


def test_environment_names_every_package_on_the_measured_path() -> None:
    packages = environment.describe_environment()["packages"]
    for name in (
        *("redis", "hiredis", "requests", "websockets", "wsproto", "gevent", "greenlet"),
        *("gunicorn", "flask", "werkzeug", "uvloop", "httptools", "simple-websocket"),
    ):
        assert name in packages  # None when not installed: absent is recorded too


def test_environment_records_the_settings_that_shape_the_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOWCASE_HEARTBEAT_S", "7")
    monkeypatch.delenv("SHOWCASE_GC_THRESHOLD", raising=False)
    settings = environment.describe_environment()["settings"]
    assert settings["SHOWCASE_HEARTBEAT_S"] == 7
    assert settings["SHOWCASE_SEND_TIMEOUT_S"] == 30.0
    assert settings["gc_threshold"] == [50_000, 20, 100]  # the worker's, not Python's 700


def test_environment_records_a_set_gc_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWCASE_GC_THRESHOLD", "700,10,10")
    assert environment.describe_environment()["settings"]["gc_threshold"] == [700, 10, 10]
